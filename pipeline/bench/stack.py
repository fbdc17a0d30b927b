"""The stack itself: its memory at rest and how long a warm ``stack up`` takes.

Memory is the proportional set size (PSS) of every server process the stack started and their
children: PostgreSQL's shared buffers are counted once, not once per backend as RSS would. It is
taken twice: as the earlier suites left the stack (Trino's heap grown by their queries), and at rest
after a fresh warm start. Warm start: ``stack down`` then ``stack up`` with every download and
environment cached and the data folders kept (Superset's metadata current, so no migration), as a
user's second ``make up``. It runs last: the restart empties moto's in-memory streams.
Targets: warm ``stack up`` with Superset under 120 s; the whole stack at rest under 6 GiB.
"""

from __future__ import annotations

import contextlib
import io
import time

import psutil

from pipeline.bench.result import Result
from pipeline.settings import Settings
from pipeline.stack import manager

TARGET_UP_S = 120.0
TARGET_GIB = 6.0
SETTLE_S = 20.0


def stack_memory(settings: Settings) -> dict[str, float]:
    """PSS in GiB of each running server of the stack (its process and their children)."""
    sizes = {}
    for service in manager.services(settings):
        pid = service.pid()
        if pid is None:
            continue
        try:
            root = psutil.Process(pid)
            processes = [root, *root.children(recursive=True)]
            total = 0
            for process in processes:
                with contextlib.suppress(psutil.Error):
                    total += process.memory_full_info().pss
        except psutil.Error:
            continue
        sizes[service.name] = total / 2**30
    return sizes


def _describe(sizes: dict[str, float]) -> str:
    return ", ".join(f"{name} {gib:.2f}" for name, gib in sizes.items())


def run(settings: Settings, scale: float) -> list[Result]:
    used = stack_memory(settings)
    with contextlib.redirect_stdout(io.StringIO()):
        manager.down(settings)
        began = time.monotonic()
        manager.up(settings)
    up_s = time.monotonic() - began
    time.sleep(SETTLE_S)
    rest = stack_memory(settings)
    with_superset = "with Superset" if settings.superset_enabled else "Superset left out"
    return [
        Result("stack: warm 'stack up'", up_s, "s", f"target < {TARGET_UP_S:.0f} s",
               f"{with_superset}; after 'stack down', everything cached"),
        Result("stack: memory at rest (PSS)", sum(rest.values()), "GiB", f"target < {TARGET_GIB:.0f} GiB",
               f"{SETTLE_S:.0f} s after the warm start: {_describe(rest)}"),
        Result("stack: memory after the other suites (PSS)", sum(used.values()), "GiB", "", _describe(used)),
    ]
