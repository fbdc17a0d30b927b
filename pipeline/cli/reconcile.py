"""``python -m pipeline reconcile``: do the raw logs and the windows add up, minute by minute?"""

from __future__ import annotations

import argparse
import sys
import textwrap

from pipeline.analysis.reconcile import COLUMN_HELP, format_table, minute_range, reconcile, to_json
from pipeline.cli.args import iso_moment
from pipeline.settings import Settings

RECONCILE_DESCRIPTION = """\
Reconcile the two paths every log takes, per service and event-time minute of [--start, --end): the
raw logs the Lambda stored in MongoDB, the logs the Flink job read and those its one-minute windows
counted (PostgreSQL), in one Trino query; and the records the Lambda quarantined, by reason.
Prints every service and minute, marks those that do not add up with the problem, then the
quarantine and the totals. Exits 1 if any minute does not add up, 0 if all do.
"""


def _epilog() -> str:
    width = max(len(name) for name in COLUMN_HELP)
    columns = "\n".join(textwrap.fill(text, 100, initial_indent=f"  {name.ljust(width)}  ",
                                       subsequent_indent=" " * (width + 4))
                         for name, text in COLUMN_HELP.items())
    return (f"columns:\n{columns}\n\n"
            "Quarantined records have no trusted event time: they are counted by their arrival in the stream.\n"
            "--format csv writes the minutes as CSV to stdout and the quarantine and totals to stderr;\n"
            "--format json writes everything as one JSON document.")


def _cmd_reconcile(args: argparse.Namespace, settings: Settings) -> int:
    first, end = minute_range(args.start, args.end)
    if end <= first:
        print(f"error: no whole minute starts in the range: --end {args.end.isoformat()} is not after "
              f"--start {args.start.isoformat()} (rounded up to the minute)\n  fix: give an --end after --start",
              file=sys.stderr)
        return 2
    result = reconcile(settings, args.start, args.end, args.services)
    if args.format == "json":
        print(to_json(result))
    elif args.format == "csv":
        result.minutes.to_csv(sys.stdout, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
        print(format_table(result, minutes=False), file=sys.stderr)
    else:
        print(format_table(result))
    return 0 if result.ok else 1


def register(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("reconcile", help="check that raw logs and windows add up, minute by minute",
                         description=RECONCILE_DESCRIPTION, epilog=_epilog(),
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    cmd.add_argument("--start", required=True, type=iso_moment, metavar="TIME",
                     help="ISO-8601, UTC unless it says otherwise (rounded up to the minute)")
    cmd.add_argument("--end", required=True, type=iso_moment, metavar="TIME",
                     help="ISO-8601 (excluded; rounded up to the minute)")
    cmd.add_argument("--services", nargs="*", default=None, help="only these services (default: all)")
    cmd.add_argument("--format", choices=["table", "csv", "json"], default="table",
                     help="table (default), csv or json")
    cmd.set_defaults(func=_cmd_reconcile)
