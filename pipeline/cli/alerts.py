"""``python -m pipeline alerts watch|list|tail``: incident alerts on the alert topic."""

from __future__ import annotations

import argparse
import json
import sys

from pipeline.cli.args import positive_float, positive_int
from pipeline.live.alerts import recent_alerts, watch
from pipeline.live.channel import ensure_channel, receive
from pipeline.live.iam import watcher_policy_for
from pipeline.settings import Settings

WATCH_DESCRIPTION = """\
Evaluate the incident detector over the closed windows every --interval seconds (WB_ALERTS_INTERVAL_S)
and publish to the SNS topic WB_ALERTS_TOPIC_NAME (the local endpoint, or SNS on AWS; locally an SQS
queue, WB_ALERTS_QUEUE_NAME, is subscribed): one message when an incident opens, one when it resolves,
each with its evidence, the top contributor among its errors, the templates new in it, its top error
templates and five sample raw log lines. Each evaluation first mines the log templates up to closed
time. What was sent is kept in PostgreSQL: a restarted watcher sends nothing twice.
Prints one line per message: opened|resolved, service, start, evidence. Stop it with Ctrl-C.
"""


def _cmd_watch(args: argparse.Namespace, settings: Settings) -> int:
    watch(settings, args.interval, args.cycles, say=lambda line: print(line, flush=True))
    return 0


def _cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    frame = recent_alerts(settings, args.limit)
    if args.format == "json":
        print(frame.to_json(orient="records", date_format="iso", indent=1))
    elif frame.empty:
        print("no incident alerted on yet ('python -m pipeline alerts watch' sends them)")
    else:
        print(frame.to_string(index=False))
    return 0


def _cmd_tail(args: argparse.Namespace, settings: Settings) -> int:
    channel = ensure_channel(settings)
    for message in receive(settings, channel, wait_s=args.wait):
        print(json.dumps(message, indent=1))
    sys.stdout.flush()
    return 0


def _cmd_policy(args: argparse.Namespace, settings: Settings) -> int:
    print(json.dumps(watcher_policy_for(settings), indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("alerts", help="incident alerts: watch (publish), list, tail (read the queue)",
                           description="Incident alerts; see each command's --help.")
    commands = group.add_subparsers(dest="alerts_command", required=True, metavar="ALERTS")
    cmd = commands.add_parser("watch", help="evaluate the detector every few seconds, publish openings and "
                              "resolutions", description=WATCH_DESCRIPTION,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    cmd.add_argument("--interval", type=positive_float, default=None, metavar="S",
                     help="seconds between evaluations (default: WB_ALERTS_INTERVAL_S, 10)")
    cmd.add_argument("--cycles", type=positive_int, default=None, metavar="N", help="stop after N evaluations")
    cmd.set_defaults(func=_cmd_watch)
    cmd = commands.add_parser("list", help="open and recent alerted incidents")
    cmd.add_argument("--limit", type=positive_int, default=20, metavar="N", help="at most N (default 20)")
    cmd.add_argument("--format", choices=["table", "json"], default="table")
    cmd.set_defaults(func=_cmd_list)
    cmd = commands.add_parser("tail", help="take the messages waiting in the subscribed queue and print them")
    cmd.add_argument("--wait", type=positive_int, default=1, metavar="S", help="long-poll up to S seconds (max 20)")
    cmd.set_defaults(func=_cmd_tail)
    cmd = commands.add_parser("policy", help="print the least-privilege IAM policy of the watcher (attach it on AWS)",
                              description="The IAM policy the role or user running 'alerts watch' needs on AWS: "
                              "publish to its topic, read its queue, nothing else. Printed as JSON for the "
                              "account of the current credentials.")
    cmd.set_defaults(func=_cmd_policy)
