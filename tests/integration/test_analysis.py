"""The analysis functions against the running stack: known rows in, exactly the expected frames out."""

from __future__ import annotations

import datetime as dt
import json
import random

import pandas as pd
import psycopg2
import pytest
from pandas.testing import assert_frame_equal
from pymongo import MongoClient

from pipeline.analysis import (
    drilldown,
    ensure_trino_schema,
    incidents,
    latency_percentiles,
    minute_trends,
    raw_sources,
    top_patterns,
    worst_windows,
)
from pipeline.analysis.patterns import mask_message
from pipeline.bench.masking import adversarial_message
from pipeline.ingest.buckets import bucket_name
from pipeline.ingest.runtime import load_handler
from pipeline.windows import schema
from tests.fixtures.mongodb import drop_collections

pytestmark = pytest.mark.stack

DATABASE = "analysistest"
M = dt.timedelta(minutes=1)
parse_log = load_handler("lambda/handler.py:parse_log")


@pytest.fixture
def case(stack, unique_name):
    """Settings pointing at a collection of our own, and a time range no other test uses."""
    settings = stack.model_copy(update={"mongodb_database": DATABASE, "raw_collection": unique_name})
    base = dt.datetime(2031, 1, 1) + dt.timedelta(hours=random.randrange(24 * 3000))
    yield settings, base
    drop_collections(settings, DATABASE, unique_name)
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        for table in ("error_summary", "service_minute_stats"):
            cur.execute(f"DELETE FROM {table} WHERE window_start >= %s AND window_start < %s",
                        (base - dt.timedelta(hours=2), base + dt.timedelta(hours=4)))


def _doc(i: int, at: dt.datetime, service: str, status: int, latency: float, message: str) -> dict:
    record = {"timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "service": service, "status": status,
              "message": message, "latency_ms": latency, "request_id": f"r{i}", "host": f"{service}-1",
              "level": "ERROR" if status >= 500 else "INFO"}
    return {"_id": f"shardId-000000000000:{i:08d}", **parse_log(json.dumps(record).encode()),
            "kinesis": {"shard_id": "shardId-000000000000", "sequence_number": f"{i:08d}",
                        "partition_key": f"r{i}", "arrival": at}}


def _store(settings, docs, bucketed: bool) -> None:
    with MongoClient(settings.mongo_uri) as client:
        db = client[settings.mongodb_database]
        if not bucketed:
            db[settings.raw_collection].insert_many(docs)
            return
        by_bucket: dict[str, list] = {}
        for doc in docs:
            by_bucket.setdefault(bucket_name(settings, doc["timestamp"]), []).append(doc)
        for name, group in by_bucket.items():
            db[name].insert_many(group)


def _pg(settings, table: str, rows: list[tuple]) -> None:
    schema.apply(settings)
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        marks = ", ".join(["%s"] * len(rows[0]))
        cur.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)


def test_minute_trends_join_both_tables_and_filter_by_services(case):
    settings, base = case
    _pg(settings, "service_minute_stats", [
        ("auth", base, base + M, 100, 3, 2, 0.02, 20.0, 80.0),
        ("auth", base + M, base + 2 * M, 50, 0, 0, 0.0, 18.0, 40.0),
        ("payment", base, base + M, 40, 1, 10, 0.25, 300.0, 9000.0),
        ("payment", base + 3 * M, base + 4 * M, 40, 0, 0, 0.0, 100.0, 200.0),  # outside the range
    ])
    _pg(settings, "error_summary", [("auth", base, 2, 500.0), ("payment", base, 10, 4000.0)])

    got = minute_trends(settings, base, base + 3 * M)
    expected = pd.DataFrame({
        "service": ["auth", "auth", "payment"],
        "window_start": pd.to_datetime([base, base + M, base]),
        "requests": [100, 50, 40], "status_4xx": [3, 0, 1], "status_5xx": [2, 0, 10],
        "error_rate": [0.02, 0.0, 0.25], "avg_latency": [20.0, 18.0, 300.0], "max_latency": [80.0, 40.0, 9000.0],
        "total_errors": [2, 0, 10], "error_avg_latency": [500.0, float("nan"), 4000.0],
    })
    assert_frame_equal(got, expected, check_dtype=False)
    only = minute_trends(settings, base, base + 3 * M, services=["payment"])
    assert list(only["service"]) == ["payment"]
    # a value with a quote is a value: it matches no service and breaks nothing
    assert minute_trends(settings, base, base + 3 * M, services=["auth' OR '1'='1"]).empty
    assert minute_trends(settings, base, base + 3 * M, services=[]).empty


@pytest.mark.parametrize("bucketed", [False, True], ids=["one-collection", "hourly-buckets"])
def test_percentiles_patterns_and_drilldown(case, bucketed):
    settings, base = case
    # 59 minutes before base (previous hour), base, base + 1 min: latencies 1..100 ms for auth;
    # payment fails at base with known messages.
    docs, i = [], 0
    for minute in (base - M, base, base + M):
        for k in range(1, 101):
            at = minute + dt.timedelta(milliseconds=500 * k)
            docs.append(_doc(i, at, "auth", 200, float(k), f"user u{k:06d} ok"))
            i += 1
    failures = [(503, 900.0, "card-processor unavailable: connection pool exhausted (32/32 in use)"),
                (503, 950.0, "card-processor unavailable: connection pool exhausted (64/64 in use)"),
                (504, 10000.0, "timeout after 10000 ms waiting for card-processor"),
                (200, 150.0, "payment pay_0a1b2c3d4e authorized amount=33.12 EUR")]
    for k, (status, latency, message) in enumerate(failures):
        docs.append(_doc(i, base + dt.timedelta(seconds=10 * k), "payment", status, latency, message))
        i += 1
    _store(settings, docs, bucketed)
    _pg(settings, "error_summary", [("payment", base, 3, 3950.0), ("auth", base + M, 1, 99.0),
                                    ("auth", base - 5 * M, 9, 1.0)])  # outside the range

    sources = raw_sources(settings, base - M, base + 2 * M)
    assert sources == ([bucket_name(settings, base - M), bucket_name(settings, base)] if bucketed and base.minute == 0
                       else sources)
    assert raw_sources(settings, base + dt.timedelta(days=400), base + dt.timedelta(days=401)) == (
        [] if bucketed else [settings.raw_collection])

    pct = latency_percentiles(settings, base, base + 2 * M, source="raw")
    assert list(pct.columns) == ["service", "minute", "requests", "status_5xx", "p50", "p95", "p99"]
    assert pct[["service", "minute", "requests", "status_5xx"]].values.tolist() == [
        ["auth", pd.Timestamp(base), 100, 0], ["auth", pd.Timestamp(base + M), 100, 0],
        ["payment", pd.Timestamp(base), 4, 3]]
    auth = pct[pct["service"] == "auth"]
    assert auth["p50"].between(49, 52).all()
    assert auth["p95"].between(94, 97).all()
    assert auth["p99"].between(98, 100).all()
    assert latency_percentiles(settings, base, base + 2 * M, services=["x') OR true --"], source="raw").empty
    assert latency_percentiles(settings, base, base + 2 * M, services=["x') OR true --"]).empty

    patterns = top_patterns(settings, base, base + 2 * M)
    expected = pd.DataFrame({
        "service": ["payment", "payment"], "rank": [1, 2],
        "pattern": ["card-processor unavailable: connection pool exhausted (<num>/<num> in use)",
                    "timeout after <num> ms waiting for card-processor"],
        "occurrences": [2, 1],
        "example": [failures[0][2], failures[2][2]],
        "first_seen": pd.to_datetime([base, base + dt.timedelta(seconds=20)]),
        "last_seen": pd.to_datetime([base + dt.timedelta(seconds=10), base + dt.timedelta(seconds=20)]),
    })
    assert_frame_equal(patterns, expected, check_dtype=False)
    auth_ok = top_patterns(settings, base, base + 2 * M, min_status=100, services=["auth"])
    assert auth_ok[["pattern", "occurrences", "example"]].values.tolist() == [["user <id> ok", 200, "user u000001 ok"]]

    worst = worst_windows(settings, base - M, base + 2 * M, top=5)
    assert worst.values.tolist() == [["payment", pd.Timestamp(base), 3, 3950.0],
                                     ["auth", pd.Timestamp(base + M), 1, 99.0]]

    drill = drilldown(settings, base - M, base + 2 * M, top=2, per_window=3)
    assert list(drill.columns) == ["rank", "service", "window_start", "total_errors", "window_avg_latency",
                                   "timestamp", "event_id", "status", "latency_ms", "message", "request_id", "host"]
    assert drill[["rank", "service", "status", "latency_ms"]].values.tolist() == [
        [1, "payment", 504, 10000.0], [1, "payment", 503, 900.0], [1, "payment", 503, 950.0],
        [2, "auth", 200, 1.0], [2, "auth", 200, 2.0], [2, "auth", 200, 3.0]]
    assert (drill["window_start"] == pd.Timestamp(base)).sum() == 3
    errors = drilldown(settings, base - M, base + 2 * M, top=1, per_window=10, errors_only=True)
    assert errors["status"].tolist() == [504, 503, 503]
    assert drilldown(settings, base + dt.timedelta(days=1), base + dt.timedelta(days=2)).empty


def test_schema_entries_are_written_once(case):
    settings, base = case
    _store(settings, [_doc(1, base, "auth", 200, 1.0, "ok")], bucketed=True)
    name = bucket_name(settings, base)
    assert ensure_trino_schema(settings) == [name]
    assert ensure_trino_schema(settings) == []


def test_incidents_from_raw_logs(case):
    """An outage of 3 minutes on payment, in 20 normal minutes of auth and payment."""
    settings, base = case
    rng = random.Random(5)
    docs, i = [], 0
    for m in range(20):
        for service, median in (("auth", 25.0), ("payment", 180.0)):
            outage = service == "payment" and 10 <= m < 13
            for k in range(30):
                failing = outage and k % 2 == 0
                latency = median * rng.lognormvariate(0, 0.3) * (5 if outage else 1)
                docs.append(_doc(i, base + m * M + dt.timedelta(seconds=2 * k), service, 503 if failing else 200,
                                 round(latency, 2), "x"))
                i += 1
    _store(settings, docs, bucketed=True)
    found = incidents(settings, base, base + 20 * M, source="raw")
    assert found[["service", "start", "end"]].values.tolist() == [
        ["payment", pd.Timestamp(base + 10 * M), pd.Timestamp(base + 13 * M)]]
    assert found.iloc[0]["metrics"] == "error_rate+p95_latency"


def test_trino_masks_an_adversarial_message_as_python_does(case):
    """The linear masking rules read alike in Joni and Python's re: a 256 KiB adversarial message and
    tricky short ones get the same pattern from Trino (top_patterns) as from mask_message."""
    settings, base = case
    rng = random.Random(11)
    messages = [adversarial_message(), adversarial_message(32 * 1024),
                "clock skew -12ms", "flag --retry3 set", "_x-ab12 and x_-ab1", "a-a-a-a-1 a-a-a-a", "ab1--- 1-2-3",
                "é-ab1 éab1", "from a.b-c+d@mail.example.org.", "x@y 1.2.3.4.5 12.50 1.2a", "0x1fg 0x1f",
                "a@b.com_x@c.org", "retry ١٢٣ after 5", "request 3f2a1b4c-1d2e-4f5a-8b9c-0123456789ab failed",
                *("".join(rng.choice("aZ9-_. x\"'fF1é\u0661:/%+=<>@") for _ in range(rng.randint(1, 30)))
                  for _ in range(300))]
    # stored as the handler stores a log (no parse_log: it may cut long messages)
    docs = [{"_id": f"m{i:04d}", "timestamp": base + dt.timedelta(milliseconds=i), "service": f"s{i:04d}",
             "status": 500, "message": message, "latency_ms": 1.0} for i, message in enumerate(messages)]
    _store(settings, docs, bucketed=False)

    found = top_patterns(settings, base, base + M, top=1)

    assert len(found) == len(messages)
    for service, pattern in zip(found["service"], found["pattern"], strict=True):
        message = messages[int(service[1:])]
        assert pattern == mask_message(message), message[:80]
