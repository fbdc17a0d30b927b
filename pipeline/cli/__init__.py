"""``python -m pipeline ...`` (or ``workbench ...``): the command line of the workbench.

This package only parses arguments and calls the stages' typed functions; one module per command.
Every command reads the one settings object (environment variables ``WB_*`` and ``.env``), so a
notebook, a scheduled report and a test all talk to the same endpoints.
"""

from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from pipeline.cli import (
    alerts,
    analysis,
    bench,
    demo,
    flink,
    generate,
    lambda_,
    live,
    reconcile,
    report,
    smoke,
    stack,
)
from pipeline.common.errors import WorkbenchError
from pipeline.settings import Settings

DESCRIPTION = """\
Real-time log analytics workbench.

The local stack runs real servers on this machine: moto (Kinesis and the AWS control plane),
FerretDB (MongoDB wire protocol), PostgreSQL 15, Trino 476, and a PyFlink 1.20 runtime.
Settings come from WB_* environment variables or an untracked .env file (see README.md).
"""


# Each command module adds its subcommands: register(subparsers).
COMMANDS = (
    stack,  # stack up | down | status
    smoke,
    generate,
    lambda_,  # lambda run | deploy
    flink,  # flink run | status | stop | note | deploy
    report,
    reconcile,  # do raw logs and windows add up?
    analysis,  # analysis percentiles | mine | patterns | why | values
    alerts,  # alerts watch | list | tail
    live,  # trigger, Flink job, watcher and generator at once; alerts as they arrive
    demo,
    bench,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """Parse ``argv`` and run the command with ``settings`` (default: from WB_* and .env); the exit code.

    Every problem the user can fix ends as ``error: ...`` and ``  fix: ...`` on stderr, exit code 1.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if settings is None:
        try:
            settings = Settings()
        except ValidationError as exc:
            print(f"error: invalid settings:\n{exc}\n  fix: correct the WB_* variable or .env entry named above",
                  file=sys.stderr)
            return 2
    try:
        return int(args.func(args, settings))
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
