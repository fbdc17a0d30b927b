"""The latency sketch of the windows: logarithmic buckets with a relative accuracy (DDSketch's mapping).

A latency ``x`` (ms) falls in bucket ``ceil(ln(x) / ln(gamma))`` with ``gamma = (1 + a) / (1 - a)``;
bucket ``i`` holds the latencies in ``(gamma^(i-1), gamma^i]`` and is represented by
``2 gamma^i / (gamma + 1)``, which is within ``a`` (relative) of every latency in it. The Flink job
counts the logs per service, minute and bucket and writes one row per service and minute
(``latency_sketch.buckets``: ``bucket:count`` pairs joined by commas, ``encode``/``decode``); any
quantile of any set of minutes and services is then a sum of counts and one walk over the buckets
(``quantiles``), whatever the number of logs behind them. Latencies under ``MIN_MS`` (zero, and
anything below a microsecond) share the bucket ``ZERO_BUCKET``, represented by 0.

The accuracy is a constant, not a setting: the rows already written were bucketed with it, and a
reader with another one would misread every row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

RELATIVE_ACCURACY = 0.01
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
LN_GAMMA = math.log(GAMMA)
MIN_MS = 1e-3
ZERO_BUCKET = -32768  # below every real bucket: ceil(ln(1e-3) / ln(gamma)) = -345


def bucket_of(latency_ms: np.ndarray | float) -> np.ndarray:
    """The bucket of each latency, as the Flink job computes it (``flink_studio/01_source_log_input.sql``)."""
    values = np.asarray(latency_ms, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        buckets = np.ceil(np.log(np.maximum(values, MIN_MS)) / LN_GAMMA)
    return np.where(values >= MIN_MS, buckets, ZERO_BUCKET).astype("int64")


def bucket_value(buckets: np.ndarray | int) -> np.ndarray:
    """The latency (ms) a bucket stands for: within the relative accuracy of each latency in it."""
    index = np.asarray(buckets, dtype="int64")
    values = 2.0 * np.exp(index.astype("float64") * LN_GAMMA) / (GAMMA + 1.0)
    return np.where(index == ZERO_BUCKET, 0.0, values)


def sql_values() -> dict[str, str]:
    """The mapping's constants as placeholders (SQL numeric literals) of the source paragraph and of
    the schema's migrations."""
    return {"sketch_ln_gamma": repr(LN_GAMMA), "sketch_gamma": repr(GAMMA), "sketch_min_ms": repr(MIN_MS),
            "sketch_zero_bucket": str(ZERO_BUCKET)}


def encode(buckets: Sequence[int] | np.ndarray, counts: Sequence[int] | np.ndarray) -> str:
    """A minute's sketch as the Flink job writes it: ``bucket:count`` pairs joined by commas."""
    return ",".join(f"{int(b)}:{int(c)}" for b, c in zip(buckets, counts, strict=True))


def decode(texts: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs of many sketch rows at once: (row index of each pair, bucket, count). A missing
    row (None or empty) has no pairs."""
    present = [(i, text) for i, text in enumerate(texts) if text]
    if not present:
        empty = np.zeros(0, dtype="int64")
        return empty, empty, empty
    rows = np.fromiter((i for i, _ in present), dtype="int64", count=len(present))
    pairs = np.fromiter((text.count(",") + 1 for _, text in present), dtype="int64", count=len(present))
    joined = ",".join(text for _, text in present).replace(":", ",")
    numbers = np.array(joined.split(","), dtype="int64")
    if len(numbers) != 2 * int(pairs.sum()):
        raise ValueError("a latency sketch row is not 'bucket:count' pairs joined by commas")
    numbers = numbers.reshape(-1, 2)
    return np.repeat(rows, pairs), numbers[:, 0], numbers[:, 1]


def quantiles(group: np.ndarray, buckets: np.ndarray, counts: np.ndarray, groups: int,
              qs: Sequence[float]) -> np.ndarray:
    """Latency quantiles (ms) of ``groups`` merged sketches: every (bucket, count) pair belongs to
    the group ``group`` (0 to ``groups - 1``; pairs of one bucket in one group simply add up).
    Returns ``(groups, len(qs))``, NaN for a group without counts. Quantile ``q`` is the bucket
    holding the log of rank ``floor(q * (n - 1))`` (0-based) of the group's ``n`` logs, as numpy's
    ``percentile(method="lower")`` picks it: within the relative accuracy of that exact value."""
    result = np.full((groups, len(qs)), np.nan)
    if len(group) == 0:
        return result
    order = np.lexsort((buckets, group))
    group, buckets, counts = group[order], buckets[order], counts[order]
    running = np.cumsum(counts)
    totals = np.bincount(group, weights=counts, minlength=groups)
    before = np.concatenate([[0], np.cumsum(totals)[:-1]])  # the counts of the groups ahead
    filled = totals > 0
    for j, q in enumerate(qs):
        rank = np.floor(q * (totals[filled] - 1))
        at = np.searchsorted(running, before[filled] + rank, side="right")  # first running count > rank
        result[filled, j] = bucket_value(buckets[at])
    return result
