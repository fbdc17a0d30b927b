"""The record contract holds on both paths: the same records through the real handler (MongoDB) and
the real Flink job (PostgreSQL) give, for every service and minute, the same counts; records whose
producer clock runs ahead count at arrival + tolerance, flagged on both paths."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter

import pytest
from pymongo import MongoClient

from pipeline import ingest, windows
from pipeline.common import aws
from pipeline.windows.tables import delete_services
from tests.fixtures.contract_corpus import corpus
from tests.fixtures.mongodb import drop_collections
from tests.fixtures.windows import window_counts

pytestmark = pytest.mark.stack


def _quiet(_line: str) -> None:
    pass


def _settings(stack, name: str):
    return stack.model_copy(update={"stream_name": name, "raw_collection": name, "quarantine_collection": f"{name}_q",
                                    "failure_queue_name": ""})


def _put(settings, stream: str, payloads: list[bytes]) -> None:
    kinesis = aws.client(settings, "kinesis")
    for start in range(0, len(payloads), 100):
        records = [{"Data": p, "PartitionKey": f"k{start + i}"} for i, p in enumerate(payloads[start:start + 100])]
        assert kinesis.put_records(StreamName=stream, Records=records)["FailedRecordCount"] == 0


def _stored(settings, prefix: str) -> tuple[Counter, Counter, int]:
    """Raw logs per (service, minute), the clock-skewed ones, and the quarantined records."""
    per_minute, skewed = Counter(), Counter()
    with MongoClient(settings.mongo_uri) as client:
        database = client[settings.mongodb_database]
        for name in database.list_collection_names():
            if name.startswith(f"{settings.raw_collection}_") and name[-10:].isdigit():
                for doc in database[name].find({}, {"service": 1, "timestamp": 1, "clock_skew": 1}):
                    key = (doc["service"], doc["timestamp"].replace(second=0, microsecond=0))
                    per_minute[key] += 1
                    skewed[key] += bool(doc.get("clock_skew"))
        quarantined = database[settings.quarantine_collection].count_documents({})
    return per_minute, skewed, quarantined


def _cleanup(settings, prefix: str) -> None:
    aws.client(settings, "kinesis").delete_stream(StreamName=settings.stream_name)
    drop_collections(settings, settings.mongodb_database, settings.raw_collection)
    delete_services(settings, prefix)


def test_every_case_of_the_contract_counts_the_same_on_both_paths(stack, unique_name):
    settings = _settings(stack, unique_name)
    prefix = unique_name
    kinesis = aws.client(settings, "kinesis")
    kinesis.create_stream(StreamName=unique_name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=unique_name, WaiterConfig={"Delay": 0.2})
    base = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    cases = corpus(base, prefix)
    ahead = [json.dumps({"timestamp": stamp, "service": f"{prefix}-skew", "status": 200, "message": "ahead",
                         "latency_ms": 1}).encode()
             for stamp in ("2099-01-01T00:00:00Z", (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)).isoformat())]
    try:
        _put(settings, unique_name, [data for _, data, _ in cases] + ahead)
        stats = ingest.run_trigger(settings, stream=unique_name, until_idle_s=1.0)
        # The handler never fails for content: nothing retried, nothing discarded.
        assert (stats.function_errors, stats.partial_failures, stats.discarded_records) == (0, 0, 0)
        job = windows.run_job(settings, name=unique_name, stream=unique_name, bounded=True, parallelism=1,
                              watermark_bound_s=4 * 3600, say=_quiet)
        assert job.ok, f"the window job failed; see {job.log_path}"

        stored, skewed_raw, quarantined = _stored(settings, prefix)
        counted, skewed_windows, received = window_counts(settings, prefix)
        logs = sum(ok for _, _, ok in cases) + len(ahead)
        assert sum(stored.values()) == logs and quarantined == len(cases) + len(ahead) - logs
        assert stored == counted, f"raw logs and windows disagree: {sorted((stored - counted) + (counted - stored))}"
        assert received == counted  # nothing was late: the bound covers the whole range
        assert +skewed_raw == +skewed_windows and sum(skewed_raw.values()) == len(ahead)
        arrival_minutes = {minute for (_, minute), n in skewed_raw.items() if n}
        assert all(abs((minute - dt.datetime.now(dt.UTC).replace(tzinfo=None)).total_seconds()) < 600
                   for minute in arrival_minutes)  # counted at arrival + tolerance, not in 2099
    finally:
        _cleanup(settings, prefix)


def test_a_live_job_keeps_counting_after_records_stamped_far_ahead(stack, unique_name):
    settings = _settings(stack, unique_name).model_copy(update={"watermark_bound_s": 2})
    prefix = unique_name
    kinesis = aws.client(settings, "kinesis")
    kinesis.create_stream(StreamName=unique_name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=unique_name, WaiterConfig={"Delay": 0.2})

    def log(stamp: str, message: str) -> bytes:
        return json.dumps({"timestamp": stamp, "service": f"{prefix}-live", "status": 200, "message": message,
                           "latency_ms": 3}).encode()

    try:
        windows.run_job(settings, name=unique_name, stream=unique_name, parallelism=1, say=_quiet)
        future = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
        _put(settings, unique_name, [log("2099-06-01T00:00:00Z", "years ahead"),
                                     log(future.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "minutes ahead")])
        # Normal traffic, stamped as it is sent, until two minute boundaries have passed.
        began = dt.datetime.now(dt.UTC)
        stop_at = began.replace(second=0, microsecond=0) + dt.timedelta(minutes=2, seconds=5)
        while dt.datetime.now(dt.UTC) < stop_at:
            now = dt.datetime.now(dt.UTC)
            _put(settings, unique_name, [log(now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "normal")])
            time.sleep(0.5)
        closed_before = stop_at.replace(second=0, tzinfo=None)  # windows ending before this have closed
        ingest.run_trigger(settings, stream=unique_name, until_idle_s=1.0)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            stored, skewed_raw, _ = _stored(settings, prefix)
            counted, skewed_windows, _ = window_counts(settings, prefix)
            closed = {key: n for key, n in stored.items() if key[1] < closed_before - dt.timedelta(minutes=1)}
            if closed and all(counted.get(key) == n for key, n in closed.items()):
                break
            time.sleep(2)
        assert closed, "no closed minute of normal traffic"
        assert {key: counted.get(key) for key in closed} == closed, "correct records were dropped as late"
        assert sum(skewed_raw.values()) == 2
        skewed_closed = {key: n for key, n in skewed_raw.items() if key in closed and n}
        assert all(skewed_windows.get(key) == n for key, n in skewed_closed.items())
    finally:
        windows.stop_jobs(settings, unique_name)
        _cleanup(settings, prefix)


def test_a_backfill_after_newer_data_shows_as_late_and_everything_adds_up(stack, unique_name):
    from pipeline.analysis.reconcile import reconcile
    from pipeline.cli import main

    settings = _settings(stack, unique_name)
    prefix = unique_name
    service = f"{prefix}-late"
    kinesis = aws.client(settings, "kinesis")
    kinesis.create_stream(StreamName=unique_name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=unique_name, WaiterConfig={"Delay": 0.2})
    now = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)

    def logs(first: dt.datetime, count: int) -> list[bytes]:
        return [json.dumps({"timestamp": (first + dt.timedelta(seconds=3 * i)).isoformat(), "service": service,
                            "status": 200, "message": "m", "latency_ms": 5}).encode() for i in range(count)]

    newer, backfill = logs(now - dt.timedelta(minutes=10), 100), logs(now - dt.timedelta(minutes=40), 60)
    try:
        _put(settings, unique_name, newer + backfill)  # the backfill arrives after newer data
        ingest.run_trigger(settings, stream=unique_name, until_idle_s=1.0)
        job = windows.run_job(settings, name=unique_name, stream=unique_name, bounded=True, parallelism=1,
                              watermark_bound_s=5, say=_quiet)
        assert job.ok, f"the window job failed; see {job.log_path}"

        result = reconcile(settings, now - dt.timedelta(minutes=45), now, [service])
        minutes = result.minutes.set_index("minute")
        backfill_minutes = minutes[minutes.index < now.replace(tzinfo=None) - dt.timedelta(minutes=30)]
        assert backfill_minutes["late"].sum() == len(backfill) and backfill_minutes["counted"].sum() == 0
        assert minutes["stored"].sum() == minutes["received"].sum() == len(newer) + len(backfill)
        assert minutes["counted"].sum() == len(newer)
        assert result.ok and result.totals.late == len(backfill)
        window = ["--start", (now - dt.timedelta(minutes=45)).isoformat(), "--end", now.isoformat(),
                  "--services", service]
        assert main(["reconcile", *window], settings=settings) == 0
    finally:
        _cleanup(settings, prefix)
