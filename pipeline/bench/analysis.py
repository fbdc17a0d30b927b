"""Federated analysis over 1,000,000 x scale stored raw logs: Trino next to pull-both-sides-into-pandas.

Data: one day (2030-06-01, UTC) of generator logs with the ``payment-outage`` scenario, in the shape
``lambda/handler.py`` stores (its ``parse_log``, ``_id`` = eventID, a ``kinesis`` sub-document), in
hourly bucket collections (see ``pipeline.analysis.layout``) of a dedicated database; the per-minute
``error_summary`` rows of that day are upserted into PostgreSQL, computed like the Flink job does.
The data is kept: a re-run with the same scale skips loading (a marker document says what is loaded).

Figures, all from the same run:

- drill-down (top 5 windows of the day, 50 logs each): Trino's one federated query, which reads only
  the buckets of those windows, vs pulling the day's raw logs (pymongo) and error_summary (psycopg2)
  into pandas and joining there; and the same Trino query over every bucket (no pruning), which is
  what a single collection costs on FerretDB.
- p50/p95/p99 per service and minute for one hour: Trino (one bucket) vs pulling that hour's logs
  into pandas; and Trino over every bucket with the same time filter: the FerretDB full-read cost.
- p50/p95/p99 per service and minute for the whole day: the windows' latency sketches (the day's
  ``latency_sketch`` and ``service_minute_stats`` rows written as the Flink job would, from the same
  generator run) vs Trino over every raw log of the day.
- reconcile for one hour (raw logs vs ``minute_arrivals`` vs ``service_minute_stats``, one federated
  query, and the quarantine), target < 10 s. The hour's two Flink tables are written before, from the
  hour's stored logs, as the Flink job would (so every minute adds up).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import numpy as np
import pandas as pd
import psycopg2
import sqlalchemy as sa
from psycopg2.extras import execute_values
from pymongo import MongoClient
from tqdm import tqdm

from pipeline.analysis import drilldown, latency_percentiles, reconcile
from pipeline.analysis.db import PG_SCHEMA, load_sql, query, quote_ident, services_params
from pipeline.analysis.layout import ensure_trino_schema, raw_relation
from pipeline.bench.result import Result, timed
from pipeline.bench.window_rows import insert_minute_stats, insert_sketches, minute_stats
from pipeline.common.times import utc_naive
from pipeline.generate.generator import GeneratorConfig, generate
from pipeline.generate.scenarios import make_scenario
from pipeline.ingest.buckets import bucket_hours, bucket_name
from pipeline.ingest.runtime import load_handler
from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.windows import schema

DATABASE = "bench_analysis"
DAY = dt.datetime(2030, 6, 1)
HOUR_UNDER_TEST = DAY + dt.timedelta(hours=10)
TOP, PER_WINDOW = 5, 50
BATCH = 5000
MARKER = "bench_meta"


def bench_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"mongodb_database": DATABASE, "raw_collection": "raw_logs"})


def load_day(settings: Settings, count: int) -> None:
    """Store ``count`` logs of the day in hourly buckets and their error_summary rows; skip when done."""
    client = MongoClient(settings.mongo_uri)
    db = client[DATABASE]
    wanted = {"_id": "loaded", "count": count, "day": DAY.isoformat(), "scenario": "payment-outage", "seed": 11}
    if db[MARKER].find_one({"_id": "loaded"}) == wanted:
        print(f"   {count:,} raw logs already loaded in {DATABASE}", flush=True)
        return
    for name in db.list_collection_names():
        db.drop_collection(name)
    parse_log = load_handler(f"{PROJECT_ROOT / 'lambda' / 'handler.py'}:parse_log")
    start = DAY.replace(tzinfo=dt.UTC)
    config = GeneratorConfig(count=count, start=start, end=start + dt.timedelta(days=1), seed=11,
                             scenario=make_scenario("payment-outage"))
    errors: dict[tuple[str, dt.datetime], list[float]] = defaultdict(list)
    pending: dict[str, list[dict]] = defaultdict(list)

    def flush(name: str) -> None:
        db[name].insert_many(pending.pop(name), ordered=False)

    with tqdm(total=count, unit="log", desc="   loading raw logs", mininterval=2) as bar:
        for i, event in enumerate(generate(config)):
            doc = parse_log(event.data)
            shard = f"shardId-00000000000{i % 2}"
            sequence = f"{49_600_000_000_000_000_000 + i:056d}"
            doc = {"_id": f"{shard}:{sequence}", **doc,
                   "kinesis": {"shard_id": shard, "sequence_number": sequence, "partition_key": event.partition_key,
                               "arrival": doc["timestamp"]}}
            if doc["status"] >= 500:
                minute = doc["timestamp"].replace(second=0, microsecond=0, tzinfo=None)
                errors[(doc["service"], minute)].append(doc["latency_ms"])
            name = bucket_name(settings, doc["timestamp"])
            pending[name].append(doc)
            if len(pending[name]) >= BATCH:
                flush(name)
                bar.update(BATCH)
        for name in list(pending):
            size = len(pending[name])
            flush(name)
            bar.update(size)
    schema.apply(settings)
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM error_summary WHERE window_start >= %s AND window_start < %s",
                    (DAY, DAY + dt.timedelta(days=1)))
        execute_values(cur, "INSERT INTO error_summary (service, window_start, total_errors, avg_latency) VALUES %s",
                       [(s, m, len(v), float(np.mean(v))) for (s, m), v in errors.items()])
    db[MARKER].replace_one({"_id": "loaded"}, wanted, upsert=True)
    client.close()


def _write_day_windows(settings: Settings, count: int) -> int:
    """The day's ``latency_sketch`` and ``service_minute_stats`` rows, as the Flink job writes them
    (buckets of ``pipeline/windows/sketch.py``, no record late), from the same generator run as the
    stored logs; skipped when the day's sketch already counts ``count`` logs. Returns the sketch rows."""
    day_end = DAY + dt.timedelta(days=1)
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute("SELECT coalesce(sum(count), 0), count(DISTINCT (service, window_start)) "
                    "FROM latency_sketch_buckets WHERE window_start >= %s AND window_start < %s", (DAY, day_end))
        counted, rows = cur.fetchone()
    conn.close()
    if counted == count:
        print(f"   the day's windows already hold {count:,} logs ({rows:,} sketch rows)", flush=True)
        return int(rows)
    parse_log = load_handler(f"{PROJECT_ROOT / 'lambda' / 'handler.py'}:parse_log")
    start = DAY.replace(tzinfo=dt.UTC)
    config = GeneratorConfig(count=count, start=start, end=start + dt.timedelta(days=1), seed=11,
                             scenario=make_scenario("payment-outage"))
    fields: dict[str, list] = {"service": [], "minute": [], "status": [], "latency_ms": []}
    for event in tqdm(generate(config), total=count, unit="log", desc="   the day's windows", mininterval=2):
        doc = parse_log(event.data)
        fields["service"].append(doc["service"])
        fields["minute"].append(doc["timestamp"].replace(second=0, microsecond=0, tzinfo=None))
        fields["status"].append(doc["status"])
        fields["latency_ms"].append(doc["latency_ms"])
    logs = pd.DataFrame(fields)
    logs["skewed"] = False
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        for table in ("latency_sketch", "service_minute_stats"):
            cur.execute(f"DELETE FROM {table} WHERE window_start >= %s AND window_start < %s", (DAY, day_end))
        rows = insert_sketches(cur, logs)
        insert_minute_stats(cur, minute_stats(logs))
    conn.close()
    return rows


def _day_percentiles(case: Settings, count: int) -> list[Result]:
    """p50/p95/p99 per service and minute over the whole day: the windows' sketches next to Trino over
    every raw log of the day."""
    day_start, day_end = DAY, DAY + dt.timedelta(days=1)
    rows = _write_day_windows(case, count)
    runs = [timed(lambda: latency_percentiles(case, day_start, day_end)) for _ in range(3)]
    sketch_pct, t_sketch = runs[0][0], sorted(t for _, t in runs)[1]
    print(f"   percentiles 24 h from the sketches: {', '.join(f'{t:.2f}' for _, t in runs)} s", flush=True)
    raw_pct, t_raw = timed(lambda: latency_percentiles(case, day_start, day_end, source="raw"))
    print(f"   percentiles 24 h from the raw logs: {t_raw:.1f} s", flush=True)
    merged = sketch_pct.merge(raw_pct, on=["service", "minute"], suffixes=("", "_raw"))
    p95_gap = float((merged["p95"] / merged["p95_raw"] - 1).abs().median()) if len(merged) else float("nan")
    return [
        Result("analysis p50/p95/p99 24 h from sketches", t_sketch, "s",
               f"raw logs {t_raw:.1f} s = x{t_raw / t_sketch:.0f}",
               f"median of 3 runs ({', '.join(f'{t:.2f}' for _, t in runs)} s); {len(sketch_pct):,} service-minutes "
               f"from {rows:,} sketch rows of {int(sketch_pct['requests'].sum()):,} logs; median |p95 - Trino's "
               f"approx_percentile| {p95_gap:.1%}; targets < 1 s and x50"),
        Result("analysis p50/p95/p99 24 h from raw logs", t_raw, "s", "baseline",
               f"Trino approx_percentile over {int(raw_pct['requests'].sum()):,} raw logs (FerretDB)"),
    ]


def _write_minute_tables(settings: Settings, start: dt.datetime, end: dt.datetime) -> int:
    """``service_minute_stats`` and ``minute_arrivals`` for [start, end) from the stored logs of that
    range, as the Flink job computes them (no record late); returns the rows written per table."""
    logs = _pull_logs(settings, start, end, [bucket_name(settings, start)])
    logs["minute"] = logs["timestamp"].dt.floor("min")
    logs["skewed"] = logs["clock_skew"].fillna(False).astype(bool) if "clock_skew" in logs else False
    stats = minute_stats(logs)
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        for table, column in (("service_minute_stats", "window_start"), ("minute_arrivals", "minute")):
            cur.execute(f"DELETE FROM {table} WHERE {column} >= %s AND {column} < %s", (start, end))
        insert_minute_stats(cur, stats)
        execute_values(cur, "INSERT INTO minute_arrivals (service, minute, received, clock_skewed) VALUES %s",
                       [(r.service, r.minute.to_pydatetime(), int(r.requests), int(r.skewed))
                        for r in stats.itertuples()])
    return len(stats)


def _pull_logs(settings: Settings, start: dt.datetime, end: dt.datetime, collections: list[str]) -> pd.DataFrame:
    with MongoClient(settings.mongo_uri) as client:
        db = client[settings.mongodb_database]
        rows = [doc for name in collections
                for doc in db[name].find({"timestamp": {"$gte": start, "$lt": end}})]
    frame = pd.DataFrame(rows)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"]).dt.tz_localize(None) \
        if frame["timestamp"].dt.tz is not None else frame["timestamp"]
    return frame


def _pandas_drilldown(settings: Settings, start: dt.datetime, end: dt.datetime, collections: list[str]) -> pd.DataFrame:
    logs = _pull_logs(settings, start, end, collections)
    pg = sa.create_engine(settings.sqlalchemy_url)
    with pg.connect() as conn:
        summary = pd.read_sql_query(
            sa.text("SELECT service, window_start, total_errors, avg_latency FROM error_summary "
                    "WHERE window_start >= :start AND window_start < :end"), conn, params={"start": start, "end": end})
    pg.dispose()
    worst = summary.sort_values(["total_errors", "avg_latency", "service", "window_start"],
                                ascending=[False, False, True, True]).head(TOP).reset_index(drop=True)
    worst["rank"] = np.arange(1, len(worst) + 1)
    logs["window_start"] = logs["timestamp"].dt.floor("min")
    joined = worst.merge(logs, on=["service", "window_start"])
    joined = joined.sort_values(["rank", "status", "timestamp", "_id"], ascending=[True, False, True, True])
    return joined.groupby("rank").head(PER_WINDOW).rename(columns={"_id": "event_id"})


def _pandas_percentiles(settings: Settings, start: dt.datetime, end: dt.datetime,
                        collections: list[str]) -> pd.DataFrame:
    logs = _pull_logs(settings, start, end, collections)
    logs["minute"] = logs["timestamp"].dt.floor("min")
    grouped = logs.groupby(["service", "minute"])["latency_ms"]
    return pd.DataFrame({"requests": grouped.size(), "p50": grouped.quantile(0.5), "p95": grouped.quantile(0.95),
                         "p99": grouped.quantile(0.99)}).reset_index()


def _trino_unpruned_percentiles(settings: Settings, start: dt.datetime, end: dt.datetime,
                                collections: list[str]) -> pd.DataFrame:
    sql = load_sql("percentiles", raw_logs=raw_relation(settings, collections))
    return query(settings, sql, {"start_ts": start, "end_ts": end, "period_unit": "minute",
                                 "quantiles": [0.5, 0.95, 0.99], **services_params(None)})


def _trino_unpruned_drilldown(settings: Settings, start: dt.datetime, end: dt.datetime,
                              collections: list[str]) -> pd.DataFrame:
    sql = load_sql("drilldown", pg_schema=quote_ident(PG_SCHEMA), raw_logs=raw_relation(settings, collections))
    return query(settings, sql, {"start_ts": start, "end_ts": end, "top": TOP, "per_window": PER_WINDOW,
                                 "lo_ts": start, "hi_ts": end, "errors_only": False, **services_params(None)})


def run(settings: Settings, scale: float) -> list[Result]:
    count = int(1_000_000 * scale)
    case = bench_settings(settings)
    load_day(case, count)
    with MongoClient(case.mongo_uri) as client:
        every = sorted(bucket_hours(case, client[DATABASE].list_collection_names()))
    ensure_trino_schema(case, every)
    day_start, day_end = utc_naive(DAY), utc_naive(DAY + dt.timedelta(days=1))
    hour_start, hour_end = HOUR_UNDER_TEST, HOUR_UNDER_TEST + dt.timedelta(hours=1)
    results: list[Result] = []

    # warm-up: Trino's first query plans and loads metadata
    latency_percentiles(case, hour_start, hour_start + dt.timedelta(minutes=1), source="raw")

    trino_drill, t_trino = timed(lambda: drilldown(case, day_start, day_end, TOP, PER_WINDOW))
    print(f"   drill-down trino (pruned): {t_trino:.1f} s, {len(trino_drill)} rows", flush=True)
    pandas_drill, t_pandas = timed(lambda: _pandas_drilldown(case, day_start, day_end, every))
    print(f"   drill-down pandas pull-and-join: {t_pandas:.1f} s", flush=True)
    same = (sorted(trino_drill["event_id"]) == sorted(pandas_drill["event_id"]))
    results += [
        Result("analysis drill-down trino (federated)", t_trino, "s",
               f"pandas {t_pandas:.1f} s = x{t_pandas / t_trino:.1f}",
               f"{count:,} stored; same rows as pandas: {same}; target x5"),
        Result("analysis drill-down pandas pull+join", t_pandas, "s", "baseline",
               "pymongo + psycopg2, joined in pandas"),
    ]
    full_drill, t_full = timed(lambda: _trino_unpruned_drilldown(case, day_start, day_end, every))
    print(f"   drill-down trino over every bucket: {t_full:.1f} s", flush=True)
    same_full = sorted(full_drill["event_id"]) == sorted(trino_drill["event_id"])
    results.append(Result("analysis drill-down trino, every bucket", t_full, "s",
                          f"x{t_full / t_trino:.1f} the pruned query", f"FerretDB full read; same rows: {same_full}"))

    trino_pct, t_trino = timed(lambda: latency_percentiles(case, hour_start, hour_end, source="raw"))
    print(f"   percentiles 1 h trino: {t_trino:.1f} s", flush=True)
    hour_buckets = [bucket_name(case, hour_start)]
    pandas_pct, t_pandas = timed(lambda: _pandas_percentiles(case, hour_start, hour_end, hour_buckets))
    print(f"   percentiles 1 h pandas: {t_pandas:.1f} s", flush=True)
    same = int(trino_pct["requests"].sum()) == int(pandas_pct["requests"].sum())
    merged = trino_pct.merge(pandas_pct, on=["service", "minute"], suffixes=("", "_exact"))
    p95_error = float((merged["p95"] / merged["p95_exact"] - 1).abs().median()) if len(merged) else float("nan")
    results += [
        Result("analysis p50/p95/p99 1 h trino", t_trino, "s", f"pandas {t_pandas:.1f} s = x{t_pandas / t_trino:.1f}",
               f"{int(trino_pct['requests'].sum()):,} logs read; same counts: {same}; "
               f"median |p95 - exact| {p95_error:.1%}"),
        Result("analysis p50/p95/p99 1 h pandas", t_pandas, "s", "baseline", "pymongo pull of the hour's bucket"),
    ]
    # The same question over every bucket: what the full read that FerretDB does for any non-_id filter
    # costs. (Before the FerretDB proxy answered listDatabases itself, Trino could not even plan this
    # at 1M logs within its 10-minute limit.)
    _full_pct, t_full = timed(lambda: _trino_unpruned_percentiles(case, hour_start, hour_end, every))
    print(f"   percentiles 1 h trino over every bucket: {t_full:.1f} s", flush=True)
    results.append(Result("analysis p50/p95/p99 1 h trino, every bucket", t_full, "s",
                          f"x{t_full / t_trino:.1f} the bucketed query", f"FerretDB full read of {count:,} logs"))

    schema.apply(case)  # minute_arrivals, latency_sketch
    results += _day_percentiles(case, count)

    rows = _write_minute_tables(case, hour_start, hour_end)
    checked, t_reconcile = timed(lambda: reconcile(case, hour_start, hour_end))
    print(f"   reconcile 1 h: {t_reconcile:.1f} s, {len(checked.minutes)} service-minutes", flush=True)
    results.append(Result("analysis reconcile 1 h", t_reconcile, "s", "target < 10 s",
                          f"{checked.totals.stored:,} stored, {len(checked.minutes)} service-minutes "
                          f"({rows} written per Flink table); all add up: {checked.ok}"))
    return results
