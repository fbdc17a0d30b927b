"""``python -m pipeline generate``: realistic logs (with an optional incident) into Kinesis.

The command checks its arguments before it touches anything (a wrong one exits with code 2), sends
with ``KinesisProducer`` and writes the run's ground truth, also when the run fails or is stopped,
so a partial run can still be checked against what was really sent.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.scenarios import SCENARIOS, describe_scenarios, make_scenario
from pipeline.settings import Settings

EXIT_USAGE = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
_RELATIVE = re.compile(r"^(?:now)?-(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
LIVE_LINGER_S = 0.5  # live mode: a batch waits at most this long for more events before it is sent

EPILOG = f"""\
modes:
  live      events paced at --rate per second, timestamped now; for --duration seconds,
            --count events, or until Ctrl-C
  backfill  --start/--end: --count events spread over that range in time order, sent as fast
            as possible

scenarios (-p KEY=VALUE sets a parameter; the incident starts start_min minutes after the run's
start: --start, or the moment a live run begins):
{describe_scenarios()}

malformed records (--bad-fraction): not_json, missing_field, wrong_type, oversized (> 256 KiB).

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
    what.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE", type=_key_value,
                      help="a scenario parameter, repeatable (e.g. -p service=checkout -p error_rate=0.5)")
    what.add_argument("--seed", type=int, default=None, help="same seed and arguments give the same records "
                      "(default: a random seed, recorded in the ground truth)")
    what.add_argument("--bad-fraction", type=_fraction, default=0.0, metavar="F",
                      help="share of malformed records, within [0, 1] (default 0)")
    when = parser.add_argument_group("how many and when")
    when.add_argument("--count", type=_positive_int, default=None, help="number of events")
    when.add_argument("--rate", type=_positive_float, default=None,
                      help="live mode: events per second (default: settings.generator_rate)")
    when.add_argument("--duration", type=_positive_float, default=None, metavar="SECONDS",
                      help="live mode: run this long (instead of --count)")
    when.add_argument("--start", type=_moment, default=None, metavar="TIME",
                      help="backfill from this time: ISO-8601 (UTC unless it says otherwise), 'now', or 'now-2h' "
                      "(units s, m, h, d)")
    when.add_argument("--end", type=_moment, default=None, metavar="TIME", help="backfill up to this time (excluded)")
    where = parser.add_argument_group("where to")
    where.add_argument("--stream", default=None, help="Kinesis stream (default: settings.stream_name)")
    where.add_argument("--concurrency", type=_positive_int, default=None,
                       help="PutRecords calls in flight (default: settings.generator_concurrency)")
    where.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(func=run, generate_parser=parser)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Check the arguments, send the events, write the ground truth; return the exit code."""
    from pipeline.generator import GeneratorConfig

    try:
        scenario = make_scenario(args.scenario, dict(args.param))
        config = GeneratorConfig(**_mode_arguments(args, settings), seed=_seed(args), scenario=scenario,
                                 bad_fraction=args.bad_fraction)
    except ValueError as exc:
        return _usage_error(args, str(exc))
    return _send(config, args, settings)


def _send(config: Any, args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.generator import LogGenerator
    from pipeline.ground_truth import Tally, build_ground_truth, reserve_run, write_ground_truth
    from pipeline.producer import KinesisProducer, ProducerError, kinesis_client

    stream = args.stream or settings.stream_name
    concurrency = args.concurrency or settings.generator_concurrency
    client = kinesis_client(settings, concurrency)
    problem = _stream_problem(client, stream, settings)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_FAILED

    if concurrency > 1 and settings.is_local:
        print(f"warning: {concurrency} PutRecords calls in flight against moto, whose put_record is not safe for "
              "concurrent calls: records may be lost (keep --concurrency 1 locally)", file=sys.stderr)
    run_id, run_dir = reserve_run(settings, config.scenario.name)
    generator, tally = LogGenerator(config), Tally()
    producer = KinesisProducer(client, stream, max_attempts=settings.generator_max_attempts,
                               concurrency=concurrency, linger_s=None if config.backfill else LIVE_LINGER_S)
    mode = "backfill" if config.backfill else f"live at {config.rate:g}/s"
    print(f"run {run_id}: {config.total or 'unlimited'} events ({mode}), scenario {config.scenario.name}, "
          f"seed {config.seed}, into {stream}", file=sys.stderr)
    error, code = None, 0
    try:
        producer.send(tally.watch(generator), total=config.total, progress=not args.no_progress)
    except ProducerError as exc:
        error, code = str(exc), EXIT_FAILED
    except KeyboardInterrupt:
        error, code = "interrupted", EXIT_INTERRUPTED
    stats = producer.stats
    truth = build_ground_truth(run_id=run_id, generator=generator, tally=tally, stream=stream, stats=stats, error=error)
    path = write_ground_truth(run_dir, truth)
    if error:
        print(f"error: {error}", file=sys.stderr)
    print(f"sent {stats.sent} of {tally.generated} events ({len(tally.malformed)} malformed) in {stats.seconds:.1f} s, "
          f"{stats.records_per_s:,.0f} events/s, {stats.calls} PutRecords calls, {stats.failed_retried} retried")
    if generator.incident:
        incident = truth["incident"]
        print(f"incident: {incident['service']} from {incident['start']} to {incident['end']}")
    print(f"ground truth: {path}")
    print(f"run_id: {run_id}")
    return code


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


def _stream_problem(client: Any, stream: str, settings: Settings) -> str | None:
    """Why the stream cannot take records (None: it can), checked before anything is generated."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        status = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return (f"stream {stream!r} does not exist at {settings.kinesis_endpoint or 'AWS'}; "
                    "start the local stack ('make up') or pass --stream")
        return f"cannot use stream {stream!r}: {exc}"
    except BotoCoreError as exc:
        return f"cannot reach Kinesis at {settings.kinesis_endpoint or 'AWS'}: {exc}; is the stack up ('make status')?"
    if status not in ("ACTIVE", "UPDATING"):
        return f"stream {stream!r} is {status}, not ACTIVE"
    return None


def _usage_error(args: argparse.Namespace, message: str) -> int:
    parser: argparse.ArgumentParser = args.generate_parser
    parser.print_usage(sys.stderr)
    print(f"{parser.prog}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


# --- argument types: argparse turns their errors into "error: argument --x: ..." and exit code 2 ---

def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def _fraction(text: str) -> float:
    value = _positive_float(text, allow_zero=True)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be within [0, 1], got {text}")
    return value


def _positive_float(text: str, allow_zero: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0 or (value == 0 and not allow_zero) or value != value:  # value != value: NaN
        raise argparse.ArgumentTypeError(f"must be {'>= 0' if allow_zero else '> 0'}, got {text}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _moment(text: str) -> datetime:
    """ISO-8601 (naive means UTC), 'now', or a time before now: 'now-90m', 'now-2h', 'now-1d' (or
    '-2h', which argparse only takes as ``--start=-2h``)."""
    now = datetime.now(UTC)
    if text == "now":
        return now
    relative = _RELATIVE.match(text)
    if relative:
        return now - timedelta(**{_UNITS[relative.group(2)]: float(relative.group(1))})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO-8601 time, 'now' or 'now-2h': {text!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
