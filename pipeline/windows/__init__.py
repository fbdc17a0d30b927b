"""Stage 4, windows: the Flink SQL paragraphs of ``flink_studio/`` computing per-service, per-minute
windows into PostgreSQL, on the local PyFlink runtime or as a Managed Flink Studio note.

``run_job`` starts the job as its own process; ``schema.apply`` brings the PostgreSQL tables the
job writes up to date; ``write_note`` and ``studio.deploy`` take the same paragraphs to Studio.
"""

from pipeline.windows.note import write_note
from pipeline.windows.process import DEFAULT_JOB, JobRun, jobs, run_job, stop_jobs
from pipeline.windows.tables import minute_stats

__all__ = ["DEFAULT_JOB", "JobRun", "jobs", "minute_stats", "run_job", "stop_jobs", "write_note"]
