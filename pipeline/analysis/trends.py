"""Per-service, per-minute trends from PostgreSQL (``service_minute_stats`` + ``error_summary``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd

from pipeline.analysis.db import PG_SCHEMA, load_sql, query, quote_ident, services_params
from pipeline.common.times import utc_naive
from pipeline.settings import Settings

TREND_COLUMNS = ("service", "window_start", "requests", "status_4xx", "status_5xx", "error_rate",
                 "avg_latency", "max_latency", "total_errors", "error_avg_latency")


def minute_trends(settings: Settings, start: dt.datetime, end: dt.datetime,
                  services: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per service and minute in [start, end) (window_start naive UTC), sorted by service, minute.

    Columns: service, window_start, requests, status_4xx, status_5xx, error_rate (5xx/requests),
    avg_latency, max_latency (ms, all answers), total_errors (error_summary's 5xx count, 0 if no row),
    error_avg_latency (mean latency of the 5xx answers, NaN without errors).
    """
    sql = load_sql("trends", pg_schema=quote_ident(PG_SCHEMA))
    params = {"start_ts": utc_naive(start), "end_ts": utc_naive(end), **services_params(services)}
    frame = query(settings, sql, params, TREND_COLUMNS)
    return frame.astype({"requests": "int64", "status_4xx": "int64", "status_5xx": "int64",
                         "total_errors": "int64", "error_rate": "float64", "avg_latency": "float64",
                         "max_latency": "float64", "error_avg_latency": "float64"})
