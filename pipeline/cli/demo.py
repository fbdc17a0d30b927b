"""``python -m pipeline demo``: the whole story on the local stack, ending with the report."""

from __future__ import annotations

import argparse

from pipeline import report
from pipeline.cli.args import positive_int
from pipeline.live.dashboards import dashboard_url
from pipeline.settings import Settings


def _cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    report.run_demo(settings, count=args.count, minutes=args.minutes, seed=args.seed)
    if settings.superset_enabled:
        print(f"dashboards: {dashboard_url(settings)} (login {settings.superset_viewer_user}, password in "
              f"{settings.secrets_dir / 'superset_viewer_password'})")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="the whole story on the local stack, ending with the report",
                          description="generate payment-outage -> Kinesis -> Lambda trigger -> MongoDB; "
                          "Flink -> PostgreSQL; Trino + pandas -> HTML report. Needs 'make up'.")
    demo.add_argument("--count", type=positive_int, default=30_000, help="logs to generate (default 30000)")
    demo.add_argument("--minutes", type=positive_int, default=60,
                      help="time range in minutes, ending now (default 60)")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=_cmd_demo)
