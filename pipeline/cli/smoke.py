"""``python -m pipeline smoke``: a round trip through every server of the running stack."""

from __future__ import annotations

import argparse

from pipeline.report.smoke import run_smoke
from pipeline.settings import Settings


def _cmd_smoke(args: argparse.Namespace, settings: Settings) -> int:
    for line in run_smoke(settings, records=args.records):
        print(line, flush=True)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    smoke = sub.add_parser("smoke", help="a round trip through every server of the running stack",
                           description="Puts records into Kinesis, reads them back, stores them in "
                           "MongoDB, copies them into PostgreSQL with a PyFlink job, and joins both "
                           "through Trino. Prints what each step saw.")
    smoke.add_argument("--records", type=int, default=100, help="how many records to send (default 100)")
    smoke.set_defaults(func=_cmd_smoke)
