"""The latency sketch of the windows: logarithmic buckets with a relative accuracy (DDSketch's mapping).

A latency ``x`` (ms) falls in bucket ``ceil(ln(x) / ln(gamma))`` with ``gamma = (1 + a) / (1 - a)``;
bucket ``i`` holds the latencies in ``(gamma^(i-1), gamma^i]`` and is represented by
``2 gamma^i / (gamma + 1)``, which is within ``a`` (relative) of every latency in it. The Flink job
counts the logs per service, minute and bucket (``latency_sketch``); any quantile of any set of
minutes and services is then a sum of counts and one walk over the buckets, whatever the number of
logs behind them. Latencies under ``MIN_MS`` (zero, and anything below a microsecond) share the bucket
``ZERO_BUCKET``, represented by 0.

The accuracy is a constant, not a setting: the rows already written were bucketed with it, and a
reader with another one would misread every row.
"""

from __future__ import annotations

import math

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
    """The mapping's constants as the source paragraph's placeholders (SQL numeric literals)."""
    return {"sketch_ln_gamma": repr(LN_GAMMA), "sketch_min_ms": repr(MIN_MS), "sketch_zero_bucket": str(ZERO_BUCKET)}
