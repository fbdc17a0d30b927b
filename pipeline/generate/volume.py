"""Traffic volume that varies over time: where the i-th of N events of a backfill falls.

A steady backfill spreads its events evenly over [start, end). A scenario with a volume curve (a
relative traffic level per moment, e.g. quiet nights and busy afternoons) gives each minute of the
range a share of the events proportional to the curve there, and spreads them evenly within the
minute: the curve is read once per minute, so a day costs 1,440 reads, not one per event. The
generator maps one event at a time (``at``); the simulation maps a whole run at once (``at_array``),
with the same formula.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

import numpy as np

VolumeCurve = Callable[[float], float]  # epoch seconds -> relative traffic level (> 0)
CELL_MS = 60_000


class VolumeWarp:
    """Maps a fraction of a backfill's events (0 <= f < 1) to epoch milliseconds in [start, end)."""

    def __init__(self, start_ms: float, end_ms: float, curve: VolumeCurve, cell_ms: float = CELL_MS) -> None:
        if end_ms <= start_ms:
            raise ValueError("the range must not be empty")
        count = int(np.ceil((end_ms - start_ms) / cell_ms))
        self._edges = np.minimum(start_ms + cell_ms * np.arange(count + 1), end_ms)
        middles = (self._edges[:-1] + self._edges[1:]) / 2
        levels = np.array([curve(ms / 1000) for ms in middles], dtype=float)
        if not np.all(levels > 0):
            raise ValueError("a volume curve must stay above 0")
        weights = levels * np.diff(self._edges)
        self._cum = np.concatenate([[0.0], np.cumsum(weights)])
        self._total = float(self._cum[-1])
        self._cum_list = self._cum.tolist()  # bisect on a list: the per-event path stays in plain Python
        self._edge_list = self._edges.tolist()

    def at(self, fraction: float) -> float:
        target = fraction * self._total
        cell = min(max(bisect_right(self._cum_list, target) - 1, 0), len(self._edge_list) - 2)
        low, high = self._cum_list[cell], self._cum_list[cell + 1]
        left, right = self._edge_list[cell], self._edge_list[cell + 1]
        return left + (target - low) / (high - low) * (right - left)

    def at_array(self, fractions: np.ndarray) -> np.ndarray:
        target = fractions * self._total
        cell = np.clip(np.searchsorted(self._cum, target, side="right") - 1, 0, len(self._edges) - 2)
        low, high = self._cum[cell], self._cum[cell + 1]
        left, right = self._edges[cell], self._edges[cell + 1]
        return left + (target - low) / (high - low) * (right - left)
