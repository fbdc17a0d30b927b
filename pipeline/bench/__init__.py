"""``python -m pipeline bench``: the throughput and latency figures the issues name, measured here.

Each part of the workbench contributes a module in this package with
``def run(settings: Settings, scale: float) -> list[Result]``; the command runs them in order and
prints one table, each figure next to its baseline or target from the same run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from dataclasses import asdict, dataclass

from pipeline.settings import Settings

# Benchmark modules, in the order they run.
SUITES = (
    "pipeline.bench.ingest_generator",  # generator -> Kinesis, next to one put_record per event
    "pipeline.bench.ingest",  # Kinesis -> trigger -> MongoDB, next to one insert per record
    "pipeline.bench.flink",  # Flink job throughput and window latency
    "pipeline.bench.analysis",  # Trino drill-down and percentiles next to pull-and-join in pandas
)


@dataclass(frozen=True)
class Result:
    name: str
    value: float
    unit: str
    baseline: str = ""  # what it is compared with, measured in the same run, or a target
    note: str = ""


def _run(args: argparse.Namespace, settings: Settings) -> int:
    results: list[Result] = []
    for module_name in SUITES:
        if args.only and not any(part in module_name for part in args.only):
            continue
        module = importlib.import_module(module_name)
        began = time.monotonic()
        print(f"== {module_name} ...", flush=True)
        results += module.run(settings, args.scale)
        print(f"   done in {time.monotonic() - began:.1f} s", flush=True)
    width = max((len(r.name) for r in results), default=10)
    print()
    for r in results:
        print(f"{r.name.ljust(width)}  {r.value:>12,.1f} {r.unit:<10} {r.baseline}  {r.note}".rstrip())
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2), encoding="utf-8")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from pathlib import Path

    bench = sub.add_parser("bench", help="measure throughput and latency against the running stack",
                           description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_argument("--scale", type=float, default=1.0, help="multiply every record count (default 1.0)")
    bench.add_argument("--only", nargs="*", default=[], help="run only suites whose name contains these words")
    bench.add_argument("--json", type=Path, default=None, help="also write the results as JSON to this file")
    bench.set_defaults(func=_run)
