"""``python -m pipeline report``: the incident report for a time range."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from pipeline import report
from pipeline.cli.args import iso_moment
from pipeline.report.report import ReportError, check_range
from pipeline.settings import Settings

REPORT_DESCRIPTION = """\
The incident report for a time range: notebook 6 run by papermill, exported to a self-contained
HTML file without code cells in reports/ (what a scheduler runs every morning), with the incidents
beside it as JSON (<report>.incidents.json).
"""


def _cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    try:
        check_range(args.start, args.end)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    began = time.monotonic()
    path = report.make_report(settings, args.start, args.end, args.services, args.output, args.source)
    print(f"report written in {time.monotonic() - began:.0f} s: {path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("report", help="the incident report for a time range, as HTML (papermill)",
                         description=REPORT_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    cmd.add_argument("--start", required=True, type=iso_moment, metavar="TIME",
                     help="ISO-8601, UTC unless it says otherwise")
    cmd.add_argument("--end", required=True, type=iso_moment, metavar="TIME", help="ISO-8601 (excluded)")
    cmd.add_argument("--services", nargs="*", default=None, help="only these services (default: all)")
    cmd.add_argument("--output", type=Path, default=None, help="HTML file (default: reports/incident-report-...)")
    cmd.add_argument("--source", choices=("windows", "raw"), default="windows",
                     help="per-minute figures from the Flink job's windows (default; the raw logs when the "
                          "windows hold nothing of the range, which the report says) or from every raw log")
    cmd.set_defaults(func=_cmd_report)
