"""``python -m pipeline report`` and ``python -m pipeline demo``: the incident report and the whole story.

The report is notebook 6 run by papermill for a time range, exported to a self-contained HTML file
without code cells in ``reports/``: what a scheduler runs every morning. The demo is what
``make demo`` runs: generate the ``payment-outage`` scenario, deploy and run the Lambda trigger, run
the Flink job, and write the report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from pipeline.settings import Settings

MAX_RANGE = dt.timedelta(days=7)
NEEDED = ("mongodb", "postgres", "trino")


class ReportError(RuntimeError):
    """A report that cannot be made: the message says why and what to do."""


def parse_moment(text: str, name: str) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ReportError(f"--{name} {text!r} is not an ISO-8601 time (e.g. 2026-11-27T10:00:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def check_range(start: dt.datetime, end: dt.datetime) -> None:
    if end <= start:
        raise ReportError(f"the range is empty: --end {end.isoformat()} is not after --start {start.isoformat()}")
    if end - start > MAX_RANGE:
        raise ReportError(f"the range is {end - start}, longer than {MAX_RANGE.days} days: report a shorter one")


def check_stack(settings: Settings) -> None:
    from pipeline.stack import manager

    down = [r.name for r in manager.status(settings) if r.name in NEEDED and not r.ok]
    if down:
        raise ReportError(f"the stack is down ({', '.join(down)}): start it with 'make up'")


def count_raw_logs(settings: Settings, start: dt.datetime, end: dt.datetime) -> int:
    """Raw logs stored for [start, end), reading only the hour buckets that overlap it."""
    from pymongo import MongoClient

    from pipeline.analysis.layout import raw_sources

    naive = {"$gte": start.astimezone(dt.UTC).replace(tzinfo=None), "$lt": end.astimezone(dt.UTC).replace(tzinfo=None)}
    with MongoClient(settings.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        database = client[settings.mongodb_database]
        return sum(database[name].count_documents({"timestamp": naive}) for name in raw_sources(settings, start, end))


def make_report(settings: Settings, start: dt.datetime, end: dt.datetime, services: list[str] | None = None,
                output: Path | None = None) -> Path:
    from pipeline.notebooks import OUTPUT_DIR, REPORT_DIR, execute, export_html

    check_range(start, end)
    check_stack(settings)
    if count_raw_logs(settings, start, end) == 0:
        raise ReportError(f"no raw logs between {start.isoformat()} and {end.isoformat()}: generate some with "
                          "'python -m pipeline generate' and ingest them with 'python -m pipeline lambda run "
                          "--until-idle', or pick another range")
    stamp = f"{start:%Y%m%dT%H%M}-{end:%Y%m%dT%H%M}"
    html = output or REPORT_DIR / f"incident-report-{stamp}.html"
    html.parent.mkdir(parents=True, exist_ok=True)
    # The incidents also go beside the report as JSON, for whatever reads reports automatically.
    executed = execute("06", {"start": start.isoformat(), "end": end.isoformat(), "services": services or [],
                              "profile": settings.profile, "incidents_out": str(html.with_suffix(".incidents.json"))},
                       output=OUTPUT_DIR / f"06_incident_report-{stamp}.ipynb")
    return export_html(executed, html)


def _cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    try:
        start, end = parse_moment(args.start, "start"), parse_moment(args.end, "end")
        check_range(start, end)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    began = time.monotonic()
    try:
        path = make_report(settings, start, end, args.services, args.output)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"report written in {time.monotonic() - began:.0f} s: {path}")
    return 0


def _cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.workbench import generate_logs, run_cli

    began = time.monotonic()

    def step(text: str) -> None:
        print(f"\n== [{time.monotonic() - began:5.0f} s] {text}", flush=True)

    step(f"generate: {args.count} logs over the last {args.minutes} minutes, scenario payment-outage")
    run = generate_logs(settings, "payment-outage", count=args.count, minutes=args.minutes, seed=args.seed)
    incident = run.truth["incident"]
    step("lambda: deploy the function and its trigger (local endpoint), then run the trigger until idle")
    run_cli("lambda", "deploy")
    run_cli("lambda", "run", "--until-idle")
    step("flink: the Studio paragraphs as a bounded job, windows into PostgreSQL")
    # A backfill is read from all shards at once: a shard may run ahead of another by many minutes of
    # event time, so the bound covers the whole range and no record of it counts as late.
    run_cli("flink", "run", "--bounded", "--watermark-bound", str(args.minutes * 60))
    step("report: incidents found by Trino + pandas, as HTML")
    start, end = (parse_moment(run.truth["range"][k], k) for k in ("start", "end"))
    path = make_report(settings, start, end)
    step("done")
    print(f"injected incident: {incident['service']} from {incident['start']} to {incident['end']}")
    print(f"report: {path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser("report", help="the incident report for a time range, as HTML (papermill)",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("--start", required=True, help="ISO-8601, UTC unless it says otherwise")
    report.add_argument("--end", required=True, help="ISO-8601 (excluded)")
    report.add_argument("--services", nargs="*", default=None, help="only these services (default: all)")
    report.add_argument("--output", type=Path, default=None, help="HTML file (default: reports/incident-report-...)")
    report.set_defaults(func=_cmd_report)

    demo = sub.add_parser("demo", help="the whole story on the local stack, ending with the report",
                          description="generate payment-outage -> Kinesis -> Lambda trigger -> MongoDB; "
                          "Flink -> PostgreSQL; Trino + pandas -> HTML report. Needs 'make up'.")
    demo.add_argument("--count", type=int, default=30_000, help="logs to generate (default 30000)")
    demo.add_argument("--minutes", type=int, default=60, help="time range in minutes, ending now (default 60)")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=_cmd_demo)
