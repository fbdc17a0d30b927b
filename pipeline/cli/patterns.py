"""``python -m pipeline analysis mine|patterns|why|values``: mined log templates for scripts and
schedulers."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys

import pandas as pd

from pipeline.analysis.mine_stored import mine_stored
from pipeline.analysis.pattern_queries import (
    DEFAULT_BASELINE,
    DEFAULT_LOOKBACK,
    changed_templates,
    new_templates,
    template_values,
    top_templates,
    why,
)
from pipeline.cli.args import iso_moment, moment, positive_int
from pipeline.common.times import iso_z
from pipeline.settings import Settings

MINE_DESCRIPTION = """\
Mine log templates (Drain, per service) from the raw logs in MongoDB into PostgreSQL: the templates,
their per-minute counts and the field values of server errors, which 'patterns' and 'why' read.

Incremental: it goes on from where the last run stopped (a cursor stored with the counts, in one
transaction per hour of logs), up to closed time (now minus WB_MINING_SETTLE_S and the watermark
bound) or --until, whichever is earlier. No log is mined twice; a run stopped mid-way loses
nothing (the next run mines its unfinished hour). Run it from cron or a loop as often as you like.
"""

PATTERNS_DESCRIPTION = """\
Error patterns of [--start, --end) from the mined templates in PostgreSQL (run 'analysis mine' first),
in well under a second for a day of a million logs.

Default: per service, the --top templates by server errors (status >= 500; --by logs for all logs),
with a sample line each. --new: the templates never seen in the --lookback-days before --start.
--changed: the templates whose count rose most against the same span one day and one week earlier.
Ranges are in whole minutes (UTC).
"""

WHY_DESCRIPTION = """\
Why this window: the field values over-represented among a service's server errors in
[--start, --end) against the --baseline-minutes before it: host, template id, status, and any field
the logs carry with few distinct values. Ranked by log odds ratio among the values whose one-sided
z test is significant (Bonferroni), each with its share of the errors in the window and in the
baseline. Read from the mined counts in PostgreSQL (run 'analysis mine' first).
"""

VALUES_DESCRIPTION = """\
The values behind a template's <*> wildcards: the most frequent ones with counts, from a sample of
its raw logs of [--start, --end) read through Trino.
"""


def _empty_range(args: argparse.Namespace) -> bool:
    if args.end <= args.start:
        print(f"error: the range is empty: --end {args.end.isoformat()} is not after --start "
              f"{args.start.isoformat()}\n  fix: give an --end after --start", file=sys.stderr)
        return True
    return False


def _emit(frame: pd.DataFrame, fmt: str, meta: dict[str, object], empty: str) -> None:
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").str.replace(r"\.(\d{3})\d*Z", r".\1Z",
                                                                                     regex=True)
    if fmt == "csv":
        out.to_csv(sys.stdout, index=False, float_format="%.4g")
    elif fmt == "json":
        print(json.dumps({**meta, "rows": out.to_dict(orient="records")}, indent=1, default=str))
    elif out.empty:
        print(empty)
    else:
        with pd.option_context("display.max_colwidth", 80, "display.width", 200):
            print(out.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


def _cmd_mine(args: argparse.Namespace, settings: Settings) -> int:
    report = mine_stored(settings, args.until, progress=not args.quiet, max_steps=args.max_hours)
    if report.steps == 0 and report.mined_until is None:
        print("nothing mined: no stored log is before --until")
        return 0
    if report.steps == 0:
        print(f"nothing to mine: mined up to {report.mined_until} (UTC) already; closed time ends "
              f"{settings.mining_settle_s + settings.watermark_bound_s} s before now")
        return 0
    rate = report.logs / report.seconds if report.seconds else 0.0
    print(f"mined {report.logs:,} logs in {report.steps} hour(s), {report.started_from or 'the first stored log'} "
          f"-> {report.mined_until} (UTC): {report.templates} templates; {report.seconds:.1f} s "
          f"(read {report.read_s:.1f} s, mine {report.mine_s:.1f} s, store {report.store_s:.1f} s; {rate:,.0f} logs/s)")
    return 0


def _cmd_patterns(args: argparse.Namespace, settings: Settings) -> int:
    if _empty_range(args):
        return 2
    meta = {"start": iso_z(args.start), "end": iso_z(args.end)}
    if args.new:
        frame = new_templates(settings, args.start, args.end, args.services, dt.timedelta(days=args.lookback_days))
        _emit(frame, args.format, {**meta, "kind": "new", "lookback_days": args.lookback_days},
              f"no new templates in the range (look-back {args.lookback_days} days)")
    elif args.changed:
        frame = changed_templates(settings, args.start, args.end, args.services, args.top, args.by)
        _emit(frame, args.format, {**meta, "kind": "changed", "by": args.by},
              "no template rose against the day or the week before")
    else:
        frame = top_templates(settings, args.start, args.end, args.top, args.services, args.by)
        _emit(frame, args.format, {**meta, "kind": "top", "by": args.by},
              "no mined templates in the range: is 'python -m pipeline analysis mine' run, and the range right?")
    return 0


def _cmd_why(args: argparse.Namespace, settings: Settings) -> int:
    if _empty_range(args):
        return 2
    frame = why(settings, args.service, args.start, args.end, dt.timedelta(minutes=args.baseline_minutes))
    frame = frame.head(args.top) if args.format == "table" else frame
    _emit(frame, args.format, {"service": args.service, "start": iso_z(args.start), "end": iso_z(args.end),
                               "baseline_minutes": args.baseline_minutes},
          f"no field value is over-represented among {args.service}'s errors (or it has none in the range)")
    return 0


def _cmd_values(args: argparse.Namespace, settings: Settings) -> int:
    if _empty_range(args):
        return 2
    found = template_values(settings, args.template, args.start, args.end, args.sample, args.top)
    rows = [{"position": p.position, "value": value, "count": count, "distinct": p.distinct}
            for p in found.summary.positions for value, count in p.top]
    where = sys.stdout if args.format == "table" else sys.stderr
    print(f"{found.service}: {found.template}\n{found.summary.matched} sampled logs fit it "
          f"({found.summary.skipped} prefiltered ones did not)", file=where)
    _emit(pd.DataFrame(rows, columns=["position", "value", "count", "distinct"]), args.format,
          {"template_id": found.template_id, "template": found.template, "matched": found.summary.matched},
          "the template has no <*> wildcard, or no log of it in the range")
    return 0


def _range(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--start", required=True, type=iso_moment, metavar="TIME",
                     help="ISO-8601 with Z or an offset (naive means UTC)")
    cmd.add_argument("--end", required=True, type=iso_moment, metavar="TIME", help="ISO-8601 (excluded)")
    cmd.add_argument("--format", choices=["table", "csv", "json"], default="table",
                     help="table (default), csv or json (ISO-8601 UTC times)")


def register(commands: argparse._SubParsersAction) -> None:
    raw = argparse.RawDescriptionHelpFormatter
    cmd = commands.add_parser("mine", help="mine log templates from the raw logs into PostgreSQL (incremental)",
                              description=MINE_DESCRIPTION, formatter_class=raw)
    cmd.add_argument("--until", type=moment, default=None, metavar="TIME",
                     help="mine up to this moment at most (ISO-8601, 'now-1h'); default: closed time")
    cmd.add_argument("--max-hours", type=positive_int, default=None, metavar="N",
                     help="stop after N hours of logs (the next run goes on)")
    cmd.add_argument("--quiet", action="store_true", help="no progress bar")
    cmd.set_defaults(func=_cmd_mine)

    cmd = commands.add_parser("patterns", help="top, new or changed error patterns of a range (mined templates)",
                              description=PATTERNS_DESCRIPTION, formatter_class=raw)
    _range(cmd)
    cmd.add_argument("--services", nargs="+", default=None, metavar="SERVICE", help="only these (default: all)")
    kind = cmd.add_mutually_exclusive_group()
    kind.add_argument("--new", action="store_true", help="templates never seen in the look-back period")
    kind.add_argument("--changed", action="store_true", help="templates that rose against a day and a week earlier")
    cmd.add_argument("--lookback-days", type=positive_int, default=DEFAULT_LOOKBACK.days, metavar="DAYS",
                     help=f"with --new: how far back a template must be unseen (default {DEFAULT_LOOKBACK.days})")
    cmd.add_argument("--top", type=positive_int, default=10, metavar="N", help="per service (default 10)")
    cmd.add_argument("--by", choices=["errors", "logs"], default="errors",
                     help="rank by server errors (default) or by all logs")
    cmd.set_defaults(func=_cmd_patterns)

    cmd = commands.add_parser("why", help="which hosts, templates, statuses... are over-represented in a window",
                              description=WHY_DESCRIPTION, formatter_class=raw)
    cmd.add_argument("--service", required=True, help="the service whose errors to explain")
    _range(cmd)
    cmd.add_argument("--baseline-minutes", type=positive_int, default=int(DEFAULT_BASELINE.total_seconds() // 60),
                     metavar="N", help="the baseline: the N minutes before --start (default "
                     f"{int(DEFAULT_BASELINE.total_seconds() // 60)})")
    cmd.add_argument("--top", type=positive_int, default=10, metavar="N", help="rows shown as a table (default 10)")
    cmd.set_defaults(func=_cmd_why)

    cmd = commands.add_parser("values", help="the values behind a template's wildcards (sampled raw logs)",
                              description=VALUES_DESCRIPTION, formatter_class=raw)
    cmd.add_argument("--template", required=True, metavar="ID", help="a template id (from 'analysis patterns')")
    _range(cmd)
    cmd.add_argument("--sample", type=positive_int, default=2000, metavar="N", help="raw logs read at most")
    cmd.add_argument("--top", type=positive_int, default=5, metavar="N", help="values per wildcard (default 5)")
    cmd.set_defaults(func=_cmd_values)
