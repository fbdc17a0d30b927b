"""Federated drill-down: the worst windows of ``error_summary`` and the raw logs behind them.

``drilldown`` is one Trino query joining the ``postgresql`` and ``mongodb`` catalogs. Before it runs,
a small query on PostgreSQL alone (``worst_windows``) says which minutes those windows are, so the
query reads only the hourly raw-log buckets that hold them (see ``layout``): FerretDB cannot filter
a collection without reading all of it, and Trino cannot choose tables at run time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd

from pipeline.analysis.db import PG_SCHEMA, load_sql, query, quote_ident, services_params
from pipeline.analysis.layout import ensure_trino_schema, raw_relation
from pipeline.common.times import utc_naive
from pipeline.ingest.buckets import HOUR, raw_sources
from pipeline.settings import Settings

MINUTE = dt.timedelta(minutes=1)
WINDOW_COLUMNS = ("service", "window_start", "total_errors", "avg_latency")
DRILLDOWN_COLUMNS = ("rank", "service", "window_start", "total_errors", "window_avg_latency", "timestamp",
                     "event_id", "status", "latency_ms", "message", "request_id", "host")


def _check(top: int, per_window: int | None = None) -> None:
    if int(top) < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    if per_window is not None and int(per_window) < 1:
        raise ValueError(f"per_window must be >= 1, got {per_window}")


def worst_windows(settings: Settings, start: dt.datetime, end: dt.datetime, top: int = 5,
                  services: Iterable[str] | None = None) -> pd.DataFrame:
    """The ``top`` windows of error_summary in [start, end) with the most 5xx answers.

    Columns: service, window_start (naive UTC), total_errors, avg_latency (of the 5xx answers).
    """
    _check(top)
    sql = load_sql("worst_windows", pg_schema=quote_ident(PG_SCHEMA))
    params = {"start_ts": utc_naive(start), "end_ts": utc_naive(end), "top": int(top),
              **services_params(services)}
    return query(settings, sql, params, WINDOW_COLUMNS)


def drilldown(settings: Settings, start: dt.datetime, end: dt.datetime, top: int = 5, per_window: int = 20,
              services: Iterable[str] | None = None, errors_only: bool = False) -> pd.DataFrame:
    """For the ``top`` worst windows in [start, end), up to ``per_window`` raw logs of each (5xx first,
    then by time), from one federated query.

    Columns: rank (1 = worst window), service, window_start, total_errors, window_avg_latency (the
    window's row in error_summary), timestamp (naive UTC), event_id, status, latency_ms, message,
    request_id, host (the raw log).
    """
    _check(top, per_window)
    services = None if services is None else list(services)
    windows = worst_windows(settings, start, end, top, services)
    if windows.empty:
        return pd.DataFrame(columns=DRILLDOWN_COLUMNS)
    minutes = pd.to_datetime(windows["window_start"])
    lo, hi = minutes.min().to_pydatetime(), minutes.max().to_pydatetime() + MINUTE
    # only the buckets of the windows' hours (the span lo..hi may cover hours without a window)
    hours = {m.floor("h").to_pydatetime() for m in minutes}
    sources = sorted({s for h in hours for s in raw_sources(settings, h, h + HOUR)})
    ensure_trino_schema(settings, sources)
    sql = load_sql("drilldown", pg_schema=quote_ident(PG_SCHEMA), raw_logs=raw_relation(settings, sources))
    params = {"start_ts": utc_naive(start), "end_ts": utc_naive(end), "top": int(top),
              "per_window": int(per_window), "lo_ts": lo, "hi_ts": hi, "errors_only": bool(errors_only),
              **services_params(services)}
    frame = query(settings, sql, params, DRILLDOWN_COLUMNS)
    return frame.astype({"rank": "int64", "total_errors": "int64", "status": "int64",
                         "latency_ms": "float64", "window_avg_latency": "float64"})
