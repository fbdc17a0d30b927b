"""The throughput and latency figures of the workbench, measured against the running stack (and the
detection scoreboard, which needs no stack).

Each suite is a module of this package with ``def run(settings: Settings, scale: float) -> list[Result]``;
``run_suites`` runs them in order and ``format_results`` prints one table, each figure next to its
baseline or target from the same run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from types import ModuleType

from pipeline.bench import (
    analysis,
    detection,
    detection_week,
    flink,
    ingest,
    ingest_generator,
    live,
    masking,
    patterns,
    stack,
)
from pipeline.bench.result import Result
from pipeline.settings import Settings

# The suites, in the order they run.
SUITES: tuple[ModuleType, ...] = (
    ingest_generator,  # generator -> Kinesis, next to one put_record per event
    ingest,  # Kinesis -> trigger -> MongoDB, next to one insert per record
    flink,  # Flink job throughput and window latency
    analysis,  # Trino drill-down and percentiles next to pull-and-join in pandas
    patterns,  # template mining next to the MongoDB read; mined top patterns next to the raw-log query
    masking,  # masking adversarial messages, next to the old (quadratic) rules
    detection,  # incidents found in simulated scenarios, next to the ground truth
    detection_week,  # incident detection over a week of windows, next to its target
    live,  # a live run: first failing record -> alert in the queue, and where the time goes
    stack,  # warm 'stack up' and the stack's memory at rest (restarts the stack: last)
)


def suite_names() -> list[str]:
    return [module.__name__.rsplit(".", 1)[-1] for module in SUITES]


def run_suites(settings: Settings, scale: float = 1.0, only: Sequence[str] = (),
               say: Callable[[str], None] | None = None) -> list[Result]:
    """Run the suites whose module name contains one of ``only`` (all when empty)."""
    say = say or (lambda line: print(line, flush=True))
    results: list[Result] = []
    for module in SUITES:
        if only and not any(part in module.__name__ for part in only):
            continue
        began = time.monotonic()
        say(f"== {module.__name__} ...")
        results += module.run(settings, scale)
        say(f"   done in {time.monotonic() - began:.1f} s")
    return results


def format_results(results: Sequence[Result]) -> str:
    width = max((len(r.name) for r in results), default=10)
    return "\n".join(f"{r.name.ljust(width)}  {r.value:>12,.1f} {r.unit:<10} {r.baseline}  {r.note}".rstrip()
                     for r in results)


__all__ = ["Result", "format_results", "run_suites", "suite_names"]
