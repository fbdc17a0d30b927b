"""``python -m pipeline stack up | down | status``: the local stack."""

from __future__ import annotations

import argparse
import sys
import time

from pipeline.settings import Settings
from pipeline.stack import manager
from pipeline.windows import schema


def _cmd_stack(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "up":
        began = time.monotonic()
        rows = manager.up(settings)
        print(manager.format_table(rows))
        if not all(r.ok for r in rows):
            return 1
        applied = schema.apply(settings)  # the window tables and Trino's read-only role
        print(f"\nschema: {'applied ' + ', '.join(applied) if applied else 'up to date'}")
        print(f"stack up in {time.monotonic() - began:.1f} s; logs in {settings.log_dir}")
        return 0
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


def register(sub: argparse._SubParsersAction) -> None:
    stack = sub.add_parser("stack", help="start, stop or inspect the local stack",
                           description="Manage the local stack. 'up' installs what is missing (cached "
                           "under ~/.cache/log-workbench and ~/.m2), starts every server in the "
                           "background with its log in var/log/, waits until each answers, and brings "
                           "the PostgreSQL schema up to date. 'status' exits non-zero if any part is "
                           "down. 'down' stops only what 'up' started; data survives (except moto's "
                           "in-memory Kinesis).")
    stack.add_argument("action", choices=["up", "down", "status"])
    stack.set_defaults(func=_cmd_stack)
