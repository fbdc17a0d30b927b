"""The incident report: notebook 6 run by papermill for a time range, exported to a self-contained
HTML file without code cells in ``reports/`` (what a scheduler runs every morning), with the
incidents found beside it as JSON."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pymongo import MongoClient

from pipeline.common.errors import WorkbenchError
from pipeline.ingest.buckets import raw_sources
from pipeline.report.notebooks import OUTPUT_DIR, REPORT_DIR, execute, export_html
from pipeline.settings import Settings
from pipeline.stack import manager

MAX_RANGE = dt.timedelta(days=7)
NEEDED = ("mongodb", "postgres", "trino")


class ReportError(WorkbenchError):
    """A report that cannot be made: the message says why and what to do."""


def check_range(start: dt.datetime, end: dt.datetime) -> None:
    if end <= start:
        raise ReportError(f"the range is empty: --end {end.isoformat()} is not after --start {start.isoformat()}",
                          "give an --end after --start")
    if end - start > MAX_RANGE:
        raise ReportError(f"the range is {end - start}, longer than {MAX_RANGE.days} days",
                          "report a shorter range")


def check_stack(settings: Settings) -> None:
    down = [r.name for r in manager.status(settings) if r.name in NEEDED and not r.ok]
    if down:
        raise ReportError(f"the stack is down ({', '.join(down)})", "start it with 'make up'")


def count_raw_logs(settings: Settings, start: dt.datetime, end: dt.datetime) -> int:
    """Raw logs stored for [start, end), reading only the hour buckets that overlap it."""
    naive = {"$gte": start.astimezone(dt.UTC).replace(tzinfo=None), "$lt": end.astimezone(dt.UTC).replace(tzinfo=None)}
    with MongoClient(settings.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        database = client[settings.mongodb_database]
        return sum(database[name].count_documents({"timestamp": naive}) for name in raw_sources(settings, start, end))


def make_report(settings: Settings, start: dt.datetime, end: dt.datetime, services: list[str] | None = None,
                output: Path | None = None, source: str = "windows") -> Path:
    """Run notebook 6 for [start, end) with these settings' profile; returns the HTML file's path.
    ``source``: where the per-minute figures come from, ``windows`` (the report says so when the
    windows hold nothing of the range and it reads the raw logs instead) or ``raw``."""
    check_range(start, end)
    check_stack(settings)
    if count_raw_logs(settings, start, end) == 0:
        raise ReportError(f"no raw logs between {start.isoformat()} and {end.isoformat()}",
                          "generate some with 'python -m pipeline generate' and ingest them with "
                          "'python -m pipeline lambda run --until-idle', or pick another range")
    stamp = f"{start:%Y%m%dT%H%M}-{end:%Y%m%dT%H%M}"
    html = output or REPORT_DIR / f"incident-report-{stamp}.html"
    html.parent.mkdir(parents=True, exist_ok=True)
    # The incidents also go beside the report as JSON, for whatever reads reports automatically.
    executed = execute("06", {"start": start.isoformat(), "end": end.isoformat(), "services": services or [],
                              "profile": settings.profile, "source": source,
                              "incidents_out": str(html.with_suffix(".incidents.json"))},
                       output=OUTPUT_DIR / f"06_incident_report-{stamp}.ipynb", settings=settings)
    return export_html(executed, html)
