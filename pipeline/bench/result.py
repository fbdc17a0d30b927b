"""One measured figure, printed next to its baseline or target from the same run, and how a call is
timed for it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Result:
    name: str
    value: float
    unit: str
    baseline: str = ""  # what it is compared with, measured in the same run, or a target
    note: str = ""


def timed(fn: Callable[[], T]) -> tuple[T, float]:
    """``fn()`` and the seconds it took."""
    began = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - began
