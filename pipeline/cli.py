"""``python -m pipeline ...``: the command line of the workbench.

Every command reads the one settings object (environment variables ``WB_*`` and ``.env``), so a
notebook, a scheduled report and a test all talk to the same endpoints.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time

from pydantic import ValidationError

from pipeline.settings import Settings
from pipeline.stack.base import StackError

DESCRIPTION = """\
Real-time log analytics workbench.

The local stack runs real servers on this machine: moto (Kinesis and the AWS control plane),
FerretDB (MongoDB wire protocol), PostgreSQL 15, Trino 476, and a PyFlink 1.20 runtime.
Settings come from WB_* environment variables or an untracked .env file (see README.md).
"""


# Modules that add subcommands; each defines register(subparsers).
COMMAND_MODULES = (
    "pipeline.generate_cli",  # generate
    "pipeline.lambda_cli",  # lambda run | deploy
    "pipeline.flink_cli",  # flink run | status | stop | note | deploy
    "pipeline.report_cli",  # report, demo
    "pipeline.bench",  # bench
)


def _cmd_stack(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.stack import manager

    if args.action == "up":
        began = time.monotonic()
        rows = manager.up(settings)
        print(manager.format_table(rows))
        print(f"\nstack up in {time.monotonic() - began:.1f} s; logs in {settings.log_dir}")
        return 0 if all(r.ok for r in rows) else 1
    if args.action == "down":
        stopped = manager.down(settings)
        print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
        return 0
    rows = manager.status(settings)
    print(manager.format_table(rows))
    down = [r.name for r in rows if not r.ok]
    if down:
        print(f"\ndown: {', '.join(down)} -- start the stack with 'make up' (logs in {settings.log_dir})",
              file=sys.stderr)
        return 1
    return 0


def _cmd_smoke(args: argparse.Namespace, settings: Settings) -> int:
    from pipeline.smoke import run_smoke

    for line in run_smoke(settings, records=args.records):
        print(line, flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    stack = sub.add_parser("stack", help="start, stop or inspect the local stack",
                           description="Manage the local stack. 'up' installs what is missing (cached "
                           "under ~/.cache/log-workbench and ~/.m2), starts every server in the "
                           "background with its log in var/log/, and waits until each answers. "
                           "'status' exits non-zero if any part is down. 'down' stops only what "
                           "'up' started; data survives (except moto's in-memory Kinesis).")
    stack.add_argument("action", choices=["up", "down", "status"])
    stack.set_defaults(func=_cmd_stack)

    smoke = sub.add_parser("smoke", help="a round trip through every server of the running stack",
                           description="Puts records into Kinesis, reads them back, stores them in "
                           "MongoDB, copies them into PostgreSQL with a PyFlink job, and joins both "
                           "through Trino. Prints what each step saw.")
    smoke.add_argument("--records", type=int, default=100, help="how many records to send (default 100)")
    smoke.set_defaults(func=_cmd_smoke)

    # Each area of the workbench registers its own commands: register(subparsers) in its module.
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"error: invalid settings:\n{exc}\n  fix: correct the WB_* variable or .env entry named above",
              file=sys.stderr)
        return 2
    try:
        return int(args.func(args, settings))
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
