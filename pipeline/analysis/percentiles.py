"""Latency percentiles per service and minute (or hour, or the whole range), from the windows or the raw logs.

Two sources answer the same question:

- ``windows`` (the default): the Flink job's latency sketch in PostgreSQL (``latency_sketch``,
  logarithmic buckets, ``pipeline/windows/sketch.py``). Every quantile is within 1% (relative) of
  the exact value of the logs the windows counted, and the cost depends on the number of minutes
  and services asked, not on the number of logs: a day of a million logs is a fraction of a second.
  Requests and 5xx answers come from ``service_minute_stats``. Per minute, p50/p95/p99 are read
  as PostgreSQL stored them with each sketch row (the same walk); other quantiles, and hours or
  ranges, merge the sketches here (``pipeline.windows.sketch.quantiles``).
- ``raw``: Trino's ``approx_percentile`` over the raw logs in MongoDB (a t-digest, within about 1% of
  rank), for logs the windows did not count (late ones) or a check of the windows. It reads every
  log of the range through FerretDB: minutes for a day.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from pipeline.analysis.db import PG_SCHEMA, load_sql, query, services_params
from pipeline.analysis.layout import prepare_raw
from pipeline.common.times import utc_naive
from pipeline.settings import Settings
from pipeline.windows import sketch

Source = Literal["windows", "raw"]
Period = Literal["minute", "hour", "range"]
DEFAULT_QUANTILES = (0.5, 0.95, 0.99)
STORED_QUANTILES = (0.5, 0.95, 0.99)  # latency_sketch's columns p50, p95, p99 (computed by PostgreSQL)
PERCENTILE_COLUMNS = ("service", "minute", "requests", "status_5xx", "p50", "p95", "p99")


def quantile_column(quantile: float) -> str:
    """``p50`` for 0.5, ``p99.9`` for 0.999."""
    return f"p{quantile * 100:.10g}"


def _check(start: dt.datetime, end: dt.datetime, quantiles: Sequence[float], by: str, source: str) -> None:
    if end <= start:
        raise ValueError(f"the range is empty: end {end.isoformat()} is not after start {start.isoformat()}")
    if not quantiles or any(not 0.0 <= q <= 1.0 for q in quantiles):
        raise ValueError(f"quantiles must be within [0, 1], got {list(quantiles)}")
    if by not in ("minute", "hour", "range"):
        raise ValueError(f"by must be minute, hour or range, got {by!r}")
    if source not in ("windows", "raw"):
        raise ValueError(f"source must be windows or raw, got {source!r}")


def latency_percentiles(settings: Settings, start: dt.datetime, end: dt.datetime,
                        services: Iterable[str] | None = None, *, source: Source = "windows",
                        quantiles: Sequence[float] = DEFAULT_QUANTILES, by: Period = "minute") -> pd.DataFrame:
    """One row per service and period in [start, end) that has logs, sorted by service, period.

    Columns: service, the period's start (``minute``, ``hour`` or ``start``; naive UTC), requests,
    status_5xx, then one column per quantile (``p50``, ``p95``, ``p99`` by default; latency in ms).
    ``by="hour"`` and ``by="range"`` merge the minutes (the sketches' counts add up; the raw logs are
    grouped so). A period is aligned to the clock (whole minutes and hours, UTC), except
    ``by="range"``, whose one period per service starts at ``start``.
    """
    quantiles = tuple(float(q) for q in quantiles)
    _check(start, end, quantiles, by, source)
    period_column = "start" if by == "range" else by
    params = {"start_ts": utc_naive(start), "end_ts": utc_naive(end), "period_unit": by,
              "quantiles": list(quantiles), **services_params(services)}
    columns = ["service", period_column, "requests", "status_5xx", *map(quantile_column, quantiles)]
    if source == "windows" and by == "minute" and set(quantiles) <= set(STORED_QUANTILES):
        stored = ", ".join(f"k.{quantile_column(q)}" for q in STORED_QUANTILES)
        frame = query(settings, load_sql("sketch_minutes", pg_schema=PG_SCHEMA, sketch_columns=stored), params)
        frame = frame.rename(columns={"minute": "period"})
    elif source == "windows":
        minutes = query(settings, load_sql("sketch_minutes", pg_schema=PG_SCHEMA, sketch_columns="k.buckets"),
                        params)
        frame = _sketch_percentiles(minutes, by, utc_naive(start), quantiles)
    else:
        frame = query(settings, load_sql("percentiles", raw_logs=prepare_raw(settings, start, end)), params)
        values = np.array(frame.pop("latencies").tolist(), dtype="float64").reshape(len(frame), len(quantiles))
        for i, quantile in enumerate(quantiles):
            frame[quantile_column(quantile)] = values[:, i]
    frame = frame.rename(columns={"period": period_column})
    frame[period_column] = pd.to_datetime(frame[period_column])
    frame = frame.astype({"requests": "int64", "status_5xx": "int64",  # NULL quantiles: NaN, not None
                          **{quantile_column(q): "float64" for q in quantiles}})
    return frame[columns].sort_values(["service", period_column]).reset_index(drop=True)


def _sketch_percentiles(minutes: pd.DataFrame, by: Period, start: dt.datetime,
                        quantiles: Sequence[float]) -> pd.DataFrame:
    """Columns service, period, requests, status_5xx and one per quantile, from the per-minute rows
    of ``sql/sketch_minutes.sql``: the minutes of each service and period merged."""
    minute = pd.to_datetime(minutes["minute"])
    if by == "minute":
        period = minute
    elif by == "hour":
        period = minute.dt.floor("h")
    else:
        period = pd.Series(pd.Timestamp(start), index=minutes.index)
    keys = pd.DataFrame({"service": minutes["service"].astype(object), "period": period})
    grouped = keys.groupby(["service", "period"], sort=True)
    group = grouped.ngroup().to_numpy()  # numbered in the order of grouped.size()
    frame = grouped.size().reset_index()[["service", "period"]]
    sums = minutes[["requests", "status_5xx"]].astype("int64").groupby(group).sum()
    frame["requests"] = sums["requests"].to_numpy()
    frame["status_5xx"] = sums["status_5xx"].to_numpy()
    row, buckets, counts = sketch.decode(minutes["buckets"].tolist())
    values = sketch.quantiles(group[row], buckets, counts, len(frame), quantiles)
    for i, quantile in enumerate(quantiles):
        frame[quantile_column(quantile)] = values[:, i]
    return frame
