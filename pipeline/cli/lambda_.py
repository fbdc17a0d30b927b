"""``python -m pipeline lambda run | deploy``: the Lambda trigger locally, and the function on AWS."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time

from pipeline import ingest
from pipeline.cli.args import iso_moment
from pipeline.ingest.mapping import EventSourceMapping
from pipeline.ingest.runtime import DEFAULT_HANDLER
from pipeline.settings import Settings


def _cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    began = time.monotonic()
    seen = [0]

    def started(mapping: EventSourceMapping) -> None:
        # SIGTERM stops the pollers like Ctrl-C does; run_trigger then releases the mapping's lock.
        signal.signal(signal.SIGTERM, lambda *_: mapping.stop_event.set())
        print(f"trigger: {mapping.stream_arn} -> {settings.function_name}, batch size {mapping.config.batch_size}, "
              f"checkpoints in {mapping.checkpoints.path}", flush=True)

    def report(stats: ingest.Stats) -> None:
        elapsed = time.monotonic() - began
        print(f"[{elapsed:7.1f} s] {stats.records} records in {stats.invocations} invocations "
              f"({(stats.records - seen[0]) / 5:.0f}/s), {stats.discarded_records} discarded", flush=True)
        seen[0] = stats.records

    if args.starting_position == "AT_TIMESTAMP" and args.starting_timestamp is None:
        print("error: --starting-position AT_TIMESTAMP needs --starting-timestamp", file=sys.stderr)
        return 2
    try:
        stats = ingest.run_trigger(settings, handler=args.handler or DEFAULT_HANDLER, stream=args.stream,
                                   batch_size=args.batch_size, starting_position=args.starting_position,
                                   starting_timestamp=args.starting_timestamp,
                                   until_idle_s=args.idle_seconds if args.until_idle else None,
                                   on_start=started, report=report)
    except ingest.HandlerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"trigger stopped after {time.monotonic() - began:.1f} s: {stats.records} records delivered in "
          f"{stats.invocations} invocations; {stats.function_errors} function errors, "
          f"{stats.partial_failures} partial failures, {stats.discarded_records} records discarded to "
          f"the failure queue", flush=True)
    return 0


def _cmd_deploy(args: argparse.Namespace, settings: Settings) -> int:
    """The deploy (or its dry run); the report, or a clear error (exit 1)."""
    if getattr(args, "dry_run", False):
        print(ingest.plan(settings))
        return 0
    report = ingest.deploy_function(settings, log=lambda message: print(f"... {message}", file=sys.stderr,
                                                                        flush=True))
    print(report.format())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    lam = sub.add_parser("lambda", help="run the Lambda trigger locally, or deploy the function",
                         description="The Lambda that stores raw logs from Kinesis in MongoDB.")
    actions = lam.add_subparsers(dest="action", required=True, metavar="ACTION")

    run = actions.add_parser("run", help="poll the stream and call the handler in-process (local trigger)",
                             description="Reproduces the Kinesis event source mapping: one poller per shard, "
                             "batches, retries, bisection, partial batch responses, a failure queue, a "
                             "checkpoint per shard that survives restarts, and resharding (new shards are "
                             "found while running; a child shard is read once its parents are drained). One "
                             "trigger per stream and function: a second one exits with an error naming the "
                             "first (a lock file beside the checkpoints). Settings: WB_BATCH_SIZE, "
                             "WB_MAX_BATCHING_WINDOW_S, WB_MAX_RETRY_ATTEMPTS, WB_MAX_RECORD_AGE_S, "
                             "WB_BISECT_BATCH_ON_ERROR, WB_REPORT_BATCH_ITEM_FAILURES, WB_FAILURE_QUEUE_NAME.")
    run.add_argument("--until-idle", action="store_true",
                     help="stop once every open shard is caught up and every closed (split or merged) shard "
                     "is drained, its children included")
    run.add_argument("--idle-seconds", type=float, default=2.0, help="how long caught up counts as idle (2)")
    run.add_argument("--stream", default=None, help="stream name (default: the settings' stream_name)")
    run.add_argument("--handler", default=None, help="file.py:function or module:function (default: lambda/handler.py)")
    run.add_argument("--batch-size", type=int, default=None, choices=range(1, 10_001), metavar="1..10000")
    run.add_argument("--starting-position", choices=["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"], default=None)
    run.add_argument("--starting-timestamp", type=iso_moment, default=None, metavar="TIME",
                     help="ISO-8601 (UTC unless it says otherwise), with AT_TIMESTAMP")
    run.add_argument("-v", "--verbose", action="store_true", help="log every retry and discard")
    run.set_defaults(func=_cmd_run)

    deploy = actions.add_parser("deploy", help="create or update the function, role, queue and trigger",
                                description="Idempotently deploys the Lambda to the profile's AWS "
                                "(the local endpoint on profile local).")
    deploy.add_argument("--dry-run", action="store_true", help="build the zip and print the plan only")
    deploy.set_defaults(func=_cmd_deploy)
