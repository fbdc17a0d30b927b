"""Stage 3, ingesting: the Lambda that stores every raw log in MongoDB, and its Kinesis trigger.

Locally the trigger (``run_trigger``) reproduces AWS's event source mapping and calls the real
handler of ``lambda/`` in-process; ``deploy_function`` creates the function, its least-privilege
role, its failure queue and its mapping, idempotently, on the profile's AWS (moto locally).
"""

from pipeline.ingest.config import Stats, TriggerConfig
from pipeline.ingest.deploy import DeployReport, deploy_function, plan
from pipeline.ingest.stored import quarantine_summary, raw_sample
from pipeline.ingest.trigger import HandlerError, run_trigger

__all__ = ["DeployReport", "HandlerError", "Stats", "TriggerConfig", "deploy_function", "plan",
           "quarantine_summary", "raw_sample", "run_trigger"]
