"""Latency percentiles (p50, p95, p99) per service and minute, by Trino over the raw logs in MongoDB."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd

from pipeline.analysis.db import load_sql, query, services_params
from pipeline.analysis.layout import prepare_raw
from pipeline.common.times import utc_naive
from pipeline.settings import Settings

PERCENTILE_COLUMNS = ("service", "minute", "requests", "status_5xx", "p50", "p95", "p99")


def latency_percentiles(settings: Settings, start: dt.datetime, end: dt.datetime,
                        services: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per service and minute with raw logs in [start, end), sorted by service, minute.

    Columns: service, minute (naive UTC), requests, status_5xx, p50, p95, p99 (latency_ms, Trino's
    ``approx_percentile``: a t-digest, within about 1% of rank of the exact value).
    """
    sql = load_sql("percentiles", raw_logs=prepare_raw(settings, start, end))
    params = {"start_ts": utc_naive(start), "end_ts": utc_naive(end), **services_params(services)}
    frame = query(settings, sql, params, PERCENTILE_COLUMNS)
    return frame.astype({"requests": "int64", "status_5xx": "int64", "p50": "float64", "p95": "float64",
                         "p99": "float64"})
