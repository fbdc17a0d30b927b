"""``python -m pipeline lambda run | deploy``: the Lambda trigger locally, and the function on AWS."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import signal
import sys
import time

from botocore.exceptions import BotoCoreError, ClientError

from pipeline.settings import Settings


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.trigger import DEFAULT_HANDLER, EventSourceMapping, Stats, TriggerConfig, load_function

    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    starting_timestamp = None
    if args.starting_timestamp:
        try:
            starting_timestamp = dt.datetime.fromisoformat(args.starting_timestamp.replace("Z", "+00:00"))
        except ValueError:
            print(f"error: --starting-timestamp {args.starting_timestamp!r} is not ISO-8601 "
                  "(e.g. 2026-11-27T10:00:00Z)", file=sys.stderr)
            return 2
    config = TriggerConfig.from_settings(settings, batch_size=args.batch_size,
                                         starting_position=args.starting_position,
                                         starting_timestamp=starting_timestamp)
    if config.starting_position == "AT_TIMESTAMP" and starting_timestamp is None:
        print("error: --starting-position AT_TIMESTAMP needs --starting-timestamp", file=sys.stderr)
        return 2
    try:
        handler = load_function(settings, args.handler or DEFAULT_HANDLER)
        mapping = EventSourceMapping(settings, handler, config, stream_name=args.stream)
    except (ClientError, BotoCoreError) as exc:
        print(f"error: cannot reach the stream {args.stream or settings.stream_name} at "
              f"{settings.kinesis_endpoint or 'AWS'}: {exc}\n  fix: start the stack with 'make up' "
              "(or create the stream with 'python -m pipeline generate')", file=sys.stderr)
        return 1
    except (ValueError, OSError, AttributeError) as exc:
        print(f"error: cannot load the handler: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: mapping.stop_event.set())
    began = time.monotonic()
    seen = [0]

    def report(stats: Stats) -> None:
        elapsed = time.monotonic() - began
        print(f"[{elapsed:7.1f} s] {stats.records} records in {stats.invocations} invocations "
              f"({(stats.records - seen[0]) / 5:.0f}/s), {stats.discarded_records} discarded", flush=True)
        seen[0] = stats.records

    print(f"trigger: {mapping.stream_arn} -> {settings.function_name}, batch size {config.batch_size}, "
          f"checkpoints in {mapping.checkpoints.path}", flush=True)
    try:
        stats = mapping.run(until_idle_s=args.idle_seconds if args.until_idle else None, report=report)
    except KeyboardInterrupt:
        mapping.stop_event.set()
        stats = mapping.stats
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"trigger stopped after {time.monotonic() - began:.1f} s: {stats.records} records delivered in "
          f"{stats.invocations} invocations; {stats.function_errors} function errors, "
          f"{stats.partial_failures} partial failures, {stats.discarded_records} records discarded to "
          f"the failure queue", flush=True)
    return 0


def _deploy(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.lambda_deploy import deploy_command

    return deploy_command(args, settings)


def register(sub: argparse._SubParsersAction) -> None:
    lam = sub.add_parser("lambda", help="run the Lambda trigger locally, or deploy the function",
                         description="The Lambda that stores raw logs from Kinesis in MongoDB.")
    actions = lam.add_subparsers(dest="action", required=True, metavar="ACTION")

    run = actions.add_parser("run", help="poll the stream and call the handler in-process (local trigger)",
                             description="Reproduces the Kinesis event source mapping: one poller per shard, "
                             "batches, retries, bisection, partial batch responses, a failure queue, and a "
                             "checkpoint per shard that survives restarts. Settings: WB_BATCH_SIZE, "
                             "WB_MAX_BATCHING_WINDOW_S, WB_MAX_RETRY_ATTEMPTS, WB_MAX_RECORD_AGE_S, "
                             "WB_BISECT_BATCH_ON_ERROR, WB_REPORT_BATCH_ITEM_FAILURES, WB_FAILURE_QUEUE_NAME.")
    run.add_argument("--until-idle", action="store_true", help="stop once every shard is caught up")
    run.add_argument("--idle-seconds", type=float, default=2.0, help="how long caught up counts as idle (2)")
    run.add_argument("--stream", default=None, help="stream name (default: the settings' stream_name)")
    run.add_argument("--handler", default=None, help="file.py:function or module:function (default: lambda/handler.py)")
    run.add_argument("--batch-size", type=int, default=None, choices=range(1, 10_001), metavar="1..10000")
    run.add_argument("--starting-position", choices=["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"], default=None)
    run.add_argument("--starting-timestamp", default=None, help="ISO-8601, with AT_TIMESTAMP")
    run.add_argument("-v", "--verbose", action="store_true", help="log every retry and discard")
    run.set_defaults(func=_run)

    deploy = actions.add_parser("deploy", help="create or update the function, role, queue and trigger",
                                description="Idempotently deploys the Lambda to the profile's AWS "
                                "(the local endpoint on profile local).")
    deploy.add_argument("--dry-run", action="store_true", help="build the zip and print the plan only")
    deploy.set_defaults(func=_deploy)
