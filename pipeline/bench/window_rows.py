"""Window rows written as the Flink job writes them, for benchmarks that need a range of windows
without pushing its records through the stream: ``service_minute_stats`` and ``latency_sketch`` of
a frame of logs (columns service, minute (naive UTC), status, latency_ms, skewed)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from psycopg2.extras import execute_values

from pipeline.windows import sketch

MINUTE = dt.timedelta(minutes=1)


def minute_stats(logs: pd.DataFrame) -> pd.DataFrame:
    """``service_minute_stats`` of the logs, as the Flink job computes them."""
    flags = logs.assign(is_4xx=(logs["status"] >= 400) & (logs["status"] < 500), is_5xx=logs["status"] >= 500)
    return flags.groupby(["service", "minute"]).agg(
        requests=("status", "size"), status_4xx=("is_4xx", "sum"), status_5xx=("is_5xx", "sum"),
        avg_latency=("latency_ms", "mean"), max_latency=("latency_ms", "max"), skewed=("skewed", "sum")).reset_index()


def insert_minute_stats(cur, stats: pd.DataFrame) -> None:  # noqa: ANN001
    execute_values(cur, "INSERT INTO service_minute_stats (service, window_start, window_end, requests, "
                   "status_4xx, status_5xx, error_rate, avg_latency, max_latency, clock_skewed) VALUES %s",
                   [(r.service, r.minute.to_pydatetime(), r.minute.to_pydatetime() + MINUTE, int(r.requests),
                     int(r.status_4xx), int(r.status_5xx), r.status_5xx / r.requests, float(r.avg_latency),
                     float(r.max_latency), int(r.skewed)) for r in stats.itertuples()], page_size=10_000)


def insert_sketches(cur, logs: pd.DataFrame) -> int:  # noqa: ANN001
    """The logs' ``latency_sketch`` rows (one per service and minute); returns how many."""
    buckets = logs.assign(bucket=sketch.bucket_of(logs["latency_ms"].to_numpy()))
    pairs = buckets.groupby(["service", "minute", "bucket"]).size().rename("count").reset_index()
    rows = [(service, minute.to_pydatetime(), sketch.encode(part["bucket"], part["count"]))
            for (service, minute), part in pairs.groupby(["service", "minute"], sort=False)]
    execute_values(cur, "INSERT INTO latency_sketch (service, window_start, buckets) VALUES %s", rows,
                   page_size=10_000)
    return len(rows)
