"""One measured figure, printed next to its baseline or target from the same run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    name: str
    value: float
    unit: str
    baseline: str = ""  # what it is compared with, measured in the same run, or a target
    note: str = ""
