"""``python -m pipeline generate``: realistic logs (with an optional incident) into Kinesis.

The command checks its arguments before it touches anything (a wrong one exits with code 2), sends
with ``KinesisProducer`` and writes the run's ground truth, also when the run fails or is stopped,
so a partial run can still be checked against what was really sent.
"""

from __future__ import annotations

import argparse
import random
import sys
from typing import Any

from pipeline import generate
from pipeline.cli.args import fraction, key_value, moment, positive_float, positive_int
from pipeline.generate.generator import GeneratorConfig
from pipeline.generate.scenarios import SCENARIOS, describe_scenarios, make_scenario
from pipeline.settings import Settings

EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130

EPILOG = f"""\
modes:
  live      events paced at --rate per second, timestamped now; for --duration seconds,
            --count events, or until Ctrl-C
  backfill  --start/--end: --count events spread over that range in time order, sent as fast
            as possible

scenarios (-p KEY=VALUE sets a parameter; the incident starts start_min minutes after the run's
start: --start, or the moment a live run begins):
{describe_scenarios()}

malformed records (--bad-fraction), each breaking the record contract (lambda/record_contract.json)
so the Lambda quarantines it: not_json, missing_field (absent or null), wrong_type (e.g. status
true, latency "12 ms"), out_of_range (e.g. status 600, a negative latency, February 30).

The ground truth (scenario, service, incident minutes, parameters, seed, counts, and the sha256 of
every malformed record) goes to <var_dir>/runs/<run_id>/ground_truth.json.

examples:
  python -m pipeline generate --count 10000 --rate 500
  python -m pipeline generate --scenario payment-outage --start 2026-11-27T10:00Z --end 2026-11-27T10:30Z \\
      --count 100000 --seed 7 -p error_rate=0.6 -p duration_min=8
  python -m pipeline generate --scenario latency-creep --start now-1h --end now --count 50000 --bad-fraction 0.01
"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "generate", help="send realistic service logs (optionally with an incident) into Kinesis",
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = parser.add_argument_group("what to send")
    what.add_argument("--scenario", choices=sorted(SCENARIOS), default="none", help="incident to inject (default none)")
    what.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE", type=key_value,
                      help="a scenario parameter, repeatable (e.g. -p service=checkout -p error_rate=0.5)")
    what.add_argument("--seed", type=int, default=None, help="same seed and arguments give the same records "
                      "(default: a random seed, recorded in the ground truth)")
    what.add_argument("--bad-fraction", type=fraction, default=0.0, metavar="F",
                      help="share of malformed records, within [0, 1] (default 0)")
    when = parser.add_argument_group("how many and when")
    when.add_argument("--count", type=positive_int, default=None, help="number of events")
    when.add_argument("--rate", type=positive_float, default=None,
                      help="live mode: events per second (default: settings.generator_rate)")
    when.add_argument("--duration", type=positive_float, default=None, metavar="SECONDS",
                      help="live mode: run this long (instead of --count)")
    when.add_argument("--start", type=moment, default=None, metavar="TIME",
                      help="backfill from this time: ISO-8601 (UTC unless it says otherwise), 'now', or 'now-2h' "
                      "(units s, m, h, d)")
    when.add_argument("--end", type=moment, default=None, metavar="TIME", help="backfill up to this time (excluded)")
    where = parser.add_argument_group("where to")
    where.add_argument("--stream", default=None, help="Kinesis stream (default: settings.stream_name)")
    where.add_argument("--concurrency", type=positive_int, default=None,
                       help="PutRecords calls in flight (default: settings.generator_concurrency)")
    where.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run, generate_parser=parser)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Check the arguments, send the events, write the ground truth; return the exit code."""
    try:
        scenario = make_scenario(args.scenario, dict(args.param))
        config = GeneratorConfig(**_mode_arguments(args, settings), seed=_seed(args), scenario=scenario,
                                 bad_fraction=args.bad_fraction)
    except ValueError as exc:
        return _usage_error(args, str(exc))
    result = generate.run(settings, config, stream=args.stream, concurrency=args.concurrency,
                          progress=not args.no_progress)
    stats = result.stats
    if result.error:
        print(f"error: {result.error}", file=sys.stderr)
    print(f"sent {stats.sent} of {result.generated} events ({result.malformed} malformed) in {stats.seconds:.1f} s, "
          f"{stats.records_per_s:,.0f} events/s, {stats.calls} PutRecords calls, {stats.failed_retried} retried")
    if result.incident:
        print(f"incident: {result.incident['service']} from {result.incident['start']} to {result.incident['end']}")
    print(f"ground truth: {result.ground_truth_path}")
    print(f"run_id: {result.run_id}")
    if result.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if result.error else 0


def _mode_arguments(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    """The GeneratorConfig fields that pick the mode, with the argument names in any error."""
    if args.start is not None or args.end is not None:
        if args.start is None or args.end is None:
            raise ValueError("a backfill needs both --start and --end")
        if args.end <= args.start:
            raise ValueError(f"--end ({args.end:%Y-%m-%dT%H:%M:%SZ}) must be after --start "
                             f"({args.start:%Y-%m-%dT%H:%M:%SZ})")
        if args.rate is not None or args.duration is not None:
            raise ValueError("--rate and --duration are for live mode; a backfill (--start/--end) sends as fast "
                             "as it can")
        if args.count is None:
            raise ValueError("a backfill needs --count (how many events to spread over --start..--end)")
        return {"start": args.start, "end": args.end, "count": args.count}
    if args.count is not None and args.duration is not None:
        raise ValueError("give --count or --duration, not both")
    return {"rate": args.rate or settings.generator_rate, "count": args.count, "duration_s": args.duration}


def _seed(args: argparse.Namespace) -> int:
    return args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)


def _usage_error(args: argparse.Namespace, message: str) -> int:
    parser: argparse.ArgumentParser = args.generate_parser
    parser.print_usage(sys.stderr)
    print(f"{parser.prog}: error: {message}", file=sys.stderr)
    return EXIT_USAGE
