"""The whole story on the local stack (``make demo``): a ``payment-outage`` scenario into Kinesis,
the Lambda and its trigger into MongoDB, the Flink paragraphs into PostgreSQL, log templates mined
into PostgreSQL, the incident report."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline import analysis, generate, ingest, windows
from pipeline.analysis.template_store import mined_until
from pipeline.common.errors import WorkbenchError
from pipeline.common.times import parse_moment, utc_naive
from pipeline.report.report import make_report
from pipeline.settings import Settings


@dataclass(frozen=True)
class DemoResult:
    run_id: str
    incident: dict[str, Any]
    report: Path
    seconds: float


def run_demo(settings: Settings, count: int = 30_000, minutes: int = 60, seed: int = 7,
             say: Callable[[str], None] | None = None) -> DemoResult:
    """Every step of the story with these settings; ``say`` gets each step's heading and output."""
    say = say or (lambda line: print(line, flush=True))
    began = time.monotonic()

    def step(text: str) -> None:
        say(f"\n== [{time.monotonic() - began:5.0f} s] {text}")

    step(f"generate: {count} logs over the last {minutes} minutes, scenario payment-outage")
    config = generate.backfill_config("payment-outage", count=count, minutes=minutes, seed=seed)
    run = generate.run(settings, config, say=say)
    if not run.ok:
        raise WorkbenchError(f"the generator stopped early: {run.error}", f"see {run.ground_truth_path}")
    say(f"sent {run.stats.sent} events ({run.malformed} malformed); ground truth: {run.ground_truth_path}")

    step("lambda: deploy the function and its trigger (local endpoint), then run the trigger until idle")
    say(ingest.deploy_function(settings).format())
    stats = ingest.run_trigger(settings, until_idle_s=2.0)
    say(f"trigger: {stats.records} records delivered in {stats.invocations} invocations, "
        f"{stats.discarded_records} discarded")

    step("flink: the Studio paragraphs as a bounded job, windows into PostgreSQL")
    # A backfill is read from all shards at once: a shard may run ahead of another by many minutes of
    # event time, so the bound covers the whole range and no record of it counts as late.
    job = windows.run_job(settings, bounded=True, watermark_bound_s=minutes * 60, say=say)
    if not job.ok:
        raise WorkbenchError(f"the Flink job failed (exit code {job.exit_code})", f"see {job.log_path}")

    start, end = (parse_moment(run.truth["range"][k], relative=False) for k in ("start", "end"))
    step("patterns: mine log templates from the raw logs into PostgreSQL")
    # The backfill's logs are stamped over the last hour: when an earlier run already mined part of
    # it, they arrived after that hour was mined, and only mining every stored log again counts them.
    cursor = mined_until(settings)
    rebuild = cursor is not None and cursor > utc_naive(start)
    mined = analysis.mine_stored(settings, progress=False, rebuild=rebuild)
    say(f"mined {mined.logs:,} logs{' again, from the first stored one' if rebuild else ''} up to "
        f"{mined.mined_until} UTC: {mined.templates} templates")

    step("report: incidents found by Trino + pandas, as HTML")
    path = make_report(settings, start, end)
    step("done")
    incident = run.truth["incident"]
    say(f"injected incident: {incident['service']} from {incident['start']} to {incident['end']}")
    say(f"report: {path}")
    return DemoResult(run.run_id, incident, path, time.monotonic() - began)
