"""The reconciliation against the running stack: raw logs stored as the handler stores them, the Flink
job's rows written by hand, one minute made to disagree on purpose."""

from __future__ import annotations

import datetime as dt
import json
import random

import pandas as pd
import psycopg2
import pytest
from pymongo import MongoClient

from pipeline import cli
from pipeline.analysis.reconcile import reconcile
from pipeline.ingest.buckets import bucket_name
from pipeline.ingest.runtime import load_handler
from pipeline.settings import PROJECT_ROOT
from pipeline.windows import schema
from tests.fixtures.mongodb import drop_collections

pytestmark = pytest.mark.stack

DATABASE = "analysistest"
M = dt.timedelta(minutes=1)
S = dt.timedelta(seconds=1)
parse_log = load_handler(f"{PROJECT_ROOT / 'lambda' / 'handler.py'}:parse_log")


@pytest.fixture
def case(stack, unique_name):
    """Settings with raw buckets and a quarantine of our own, two services of our own, and an hour
    (whole, inside one bucket) no other test uses."""
    settings = stack.model_copy(update={"mongodb_database": DATABASE, "raw_collection": unique_name,
                                        "quarantine_collection": f"{unique_name}_quarantine"})
    base = dt.datetime(2035, 1, 1) + dt.timedelta(hours=random.randrange(24 * 3000))
    services = [f"{unique_name}-auth", f"{unique_name}-pay"]
    yield settings, base, services
    drop_collections(settings, DATABASE, unique_name)
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM service_minute_stats WHERE service = ANY(%s)", (services,))
        cur.execute("DELETE FROM minute_arrivals WHERE service = ANY(%s)", (services,))


def _doc(i: int, service: str, at: dt.datetime, arrival: dt.datetime) -> dict:
    """A raw log as the handler stores it: with ``arrival`` 5 minutes or more before ``at`` it is
    counted at arrival + 5 minutes (the tolerance), flagged clock_skew."""
    record = {"timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "service": service, "status": 200,
              "message": f"ok {i}", "latency_ms": 12.5, "request_id": f"r{i}", "host": "h-1"}
    stored = parse_log(json.dumps(record).encode(), arrival.replace(tzinfo=dt.UTC))
    return {"_id": f"shardId-000000000000:{i:08d}", **stored,
            "kinesis": {"shard_id": "shardId-000000000000", "sequence_number": f"{i:08d}", "partition_key": f"r{i}",
                        "arrival": arrival}}


def _store(settings, base: dt.datetime, services: list[str]) -> None:
    """Raw logs: auth 5 in minute 0, 4 in minute 1 (one of them skewed), 3 in minute 2; pay 2 in minute 0.
    Flink's rows: the same, with one late record in auth's minute 1 (the skewed one is counted), and
    Flink read 4 records in auth's minute 2, where 3 are stored: the disagreement."""
    auth, pay = services
    docs, i = [], 0
    for service, minute, n in ((auth, 0, 5), (auth, 1, 3), (auth, 2, 3), (pay, 0, 2)):
        for k in range(n):
            at = base + minute * M + (5 * k + 1) * S
            docs.append(_doc(i, service, at, at + 2 * S))
            i += 1
    cap = base + M + 50 * S  # stamped 10 minutes after its arrival: capped at arrival + 5 minutes, minute 1
    arrival = cap - 5 * M
    docs.append(_doc(i, auth, arrival + 10 * M, arrival))
    assert docs[-1]["clock_skew"] is True and docs[-1]["timestamp"].replace(tzinfo=None) == cap
    with MongoClient(settings.mongo_uri) as client:
        client[settings.mongodb_database][bucket_name(settings, base)].insert_many(docs)
        now = dt.datetime(2099, 1, 1)
        client[settings.mongodb_database][settings.quarantine_collection].insert_many([
            {"_id": "q1", "raw": b"{not json", "reason": "not JSON: Expecting value", "arrival": base + 10 * S,
             "received_at": now},
            {"_id": "q2", "raw": b"x" * 500, "reason": "not JSON: Extra data", "arrival": base + 70 * S,
             "received_at": now},
            {"_id": "q3", "raw": b'{"service": "a"}', "reason": "missing field(s): timestamp",
             "arrival": base + 130 * S, "received_at": now},
            {"_id": "q4", "raw": b"{}", "reason": "missing field(s): service", "arrival": base - 10 * S,
             "received_at": base + 10 * S},  # arrived before the range
            {"_id": "q5", "raw": b'{"a": 1}', "reason": "store refused it: 2: bad", "received_at": base + 20 * S},
        ])
    schema.apply(settings)
    windows = [(auth, 0, 5, 0), (auth, 1, 3, 1), (auth, 2, 3, 0), (pay, 0, 2, 0)]
    arrivals = [(auth, 0, 5, 0), (auth, 1, 4, 1), (auth, 2, 4, 0), (pay, 0, 2, 0)]
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.executemany("INSERT INTO service_minute_stats (service, window_start, window_end, requests, status_4xx, "
                        "status_5xx, error_rate, avg_latency, max_latency, clock_skewed) "
                        "VALUES (%s, %s, %s, %s, 0, 0, 0.0, 12.5, 12.5, %s)",
                        [(s, base + m * M, base + (m + 1) * M, n, skewed) for s, m, n, skewed in windows])
        cur.executemany("INSERT INTO minute_arrivals (service, minute, received, clock_skewed) VALUES (%s, %s, %s, %s)",
                        [(s, base + m * M, n, skewed) for s, m, n, skewed in arrivals])


def test_reconcile_flags_exactly_the_minute_that_disagrees(case, capsys):
    settings, base, services = case
    auth, pay = services
    _store(settings, base, services)
    hour = base + 60 * M

    result = reconcile(settings, base, hour, services)
    got = result.minutes
    assert got[["service", "minute", "stored", "received", "counted", "late", "skewed_raw", "skewed_received",
                "skewed_windows", "ok"]].values.tolist() == [
        [auth, pd.Timestamp(base), 5, 5, 5, 0, 0, 0, 0, True],
        [auth, pd.Timestamp(base + M), 4, 4, 3, 1, 1, 1, 1, True],
        [auth, pd.Timestamp(base + 2 * M), 3, 4, 3, 1, 0, 0, 0, False],
        [pay, pd.Timestamp(base), 2, 2, 2, 0, 0, 0, 0, True]]
    assert result.problems[["service", "minute", "problem"]].values.tolist() == [
        [auth, pd.Timestamp(base + 2 * M), "stored 3, Flink read 4: the paths disagree"]]
    assert not result.ok
    assert result.quarantined.values.tolist() == [
        ["not JSON", 2, "{not json"], ["missing field(s)", 1, '{"service": "a"}'], ["store refused it", 1, '{"a": 1}']]
    t = result.totals
    assert (t.received, t.stored, t.counted, t.quarantined, t.late, t.skewed) == (15, 14, 13, 4, 2, 1)
    # only the services asked for; a quote in a value is a value
    assert reconcile(settings, base, hour, [pay]).minutes["service"].tolist() == [pay]
    assert reconcile(settings, base, hour, ["x') OR true --"]).minutes.empty

    args = ["reconcile", "--start", f"{base:%Y-%m-%dT%H:%M}Z", "--end", f"{hour:%Y-%m-%dT%H:%M}Z",
            "--services", *services]
    assert cli.main(args, settings=settings) == 1
    out = capsys.readouterr().out
    flagged = [line for line in out.splitlines() if "  NO  " in line]
    assert len(flagged) == 1 and flagged[0].startswith(auth) and f"{base + 2 * M:%H:%M}" in flagged[0]
    assert "not JSON" in out and "1 of 4 service-minutes do not add up" in out

    assert cli.main([*args, "--format", "json"], settings=settings) == 1
    document = json.loads(capsys.readouterr().out)
    assert [m["ok"] for m in document["minutes"]] == [True, True, False, True]

    # Flink's count corrected: every minute adds up
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute("UPDATE minute_arrivals SET received = 3 WHERE service = %s AND minute = %s", (auth, base + 2 * M))
    assert reconcile(settings, base, hour, services).ok
    assert cli.main([*args, "--format", "csv"], settings=settings) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[0].startswith("service,minute,stored,received,counted,late")
    assert len(captured.out.splitlines()) == 5
    assert "all 4 service-minutes add up" in captured.err
