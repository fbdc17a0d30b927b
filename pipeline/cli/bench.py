"""``python -m pipeline bench``: the throughput and latency figures, measured against the running stack."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from pipeline import bench
from pipeline.settings import Settings


def _run(args: argparse.Namespace, settings: Settings) -> int:
    results = bench.run_suites(settings, scale=args.scale, only=args.only)
    print()
    print(bench.format_results(results))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2), encoding="utf-8")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("bench", help="measure throughput and latency against the running stack",
                            description=bench.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every record count (default 1.0)")
    parser.add_argument("--only", nargs="*", default=[],
                        help=f"run only suites whose name contains these words ({', '.join(bench.suite_names())})")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON to this file")
    parser.set_defaults(func=_run)
