"""``python -m pipeline analysis percentiles`` (latency percentiles) and the template commands of
``pipeline.cli.patterns``, for scripts and schedulers."""

from __future__ import annotations

import argparse
import json
import sys

import pandas as pd

from pipeline.analysis.percentiles import DEFAULT_QUANTILES, latency_percentiles
from pipeline.cli import patterns
from pipeline.cli.args import fraction, iso_moment
from pipeline.settings import Settings

PERCENTILES_DESCRIPTION = """\
Latency percentiles (ms) per service and minute, hour or the whole range of [--start, --end).

--source windows (the default) reads the Flink job's latency sketch in PostgreSQL through Trino:
within 1% (relative) of the exact value, in well under a second for a day of a million logs. It
covers the logs the windows counted. --source raw reads every raw log in MongoDB through Trino
(approx_percentile): slow for long ranges, but it includes late logs the windows did not count.

Columns: service, minute (hour, or start with --by range; ISO-8601 UTC), count (logs), p50, p95,
p99 (or the --quantiles asked). Minutes without logs have no row.
"""


def _records(frame: pd.DataFrame, period: str) -> pd.DataFrame:
    out = frame.rename(columns={"requests": "count"}).drop(columns=["status_5xx"])
    out[period] = out[period].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return out


def _cmd_percentiles(args: argparse.Namespace, settings: Settings) -> int:
    if args.end <= args.start:
        print(f"error: the range is empty: --end {args.end.isoformat()} is not after --start "
              f"{args.start.isoformat()}\n  fix: give an --end after --start", file=sys.stderr)
        return 2
    frame = latency_percentiles(settings, args.start, args.end, args.services, source=args.source,
                                quantiles=args.quantiles or DEFAULT_QUANTILES, by=args.by)
    period = "start" if args.by == "range" else args.by
    out = _records(frame, period)
    if args.format == "csv":
        out.to_csv(sys.stdout, index=False, float_format="%.3f")
    elif args.format == "json":
        print(json.dumps({"source": args.source, "by": args.by, "start": args.start.isoformat(),
                          "end": args.end.isoformat(), "rows": out.to_dict(orient="records")}, indent=1))
    elif out.empty:
        print(f"no logs of {'the services asked' if args.services else 'any service'} in the range "
              f"({args.source}): is the window job running, or the range right?")
    else:
        print(out.to_string(index=False, float_format=lambda v: f"{v:,.1f}"))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("analysis", help="percentiles, template mining, patterns, why, values",
                           description="Analysis commands; see each one's --help.")
    commands = group.add_subparsers(dest="analysis_command", required=True, metavar="ANALYSIS")
    cmd = commands.add_parser("percentiles", help="latency percentiles per service and minute/hour/range",
                              description=PERCENTILES_DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    cmd.add_argument("--start", required=True, type=iso_moment, metavar="TIME",
                     help="ISO-8601 with Z or an offset (naive means UTC)")
    cmd.add_argument("--end", required=True, type=iso_moment, metavar="TIME", help="ISO-8601 (excluded)")
    cmd.add_argument("--services", nargs="+", default=None, metavar="SERVICE", help="only these (default: all)")
    cmd.add_argument("--by", choices=["minute", "hour", "range"], default="minute",
                     help="one row per service and minute (default), hour, or for the whole range")
    cmd.add_argument("--source", choices=["windows", "raw"], default="windows",
                     help="windows: the latency sketch (default, fast); raw: every raw log (slow, includes late logs)")
    cmd.add_argument("--quantiles", nargs="+", type=fraction, default=None, metavar="Q",
                     help="quantiles within [0, 1] (default: 0.5 0.95 0.99)")
    cmd.add_argument("--format", choices=["table", "csv", "json"], default="table",
                     help="table (default), csv (header, ISO-8601 UTC times) or json")
    cmd.set_defaults(func=_cmd_percentiles)
    patterns.register(commands)
