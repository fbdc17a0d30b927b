"""Nothing is lost when the store goes away: FerretDB killed (-9) in the middle of an ingest of
50,000 records and started again 60 s later; the trigger retries (with backoff, as AWS does with
MaximumRetryAttempts -1) until the store is back, and every record is stored exactly once."""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time

import pytest
from pymongo import MongoClient

from pipeline import ingest
from pipeline.common import aws
from pipeline.generate.generator import GeneratorConfig, generate
from pipeline.generate.producer import KinesisProducer, kinesis_client
from pipeline.stack.ferretdb import FerretDBService
from tests.fixtures.mongodb import drop_collections

pytestmark = pytest.mark.stack
RECORDS = 50_000
OUTAGE_S = 60


def _stored(settings) -> int:
    with MongoClient(settings.mongo_uri, serverSelectionTimeoutMS=2000) as client:
        database = client[settings.mongodb_database]
        return sum(database[name].count_documents({}) for name in database.list_collection_names()
                   if name.startswith(f"{settings.raw_collection}_") and name[-10:].isdigit())


def test_a_store_killed_during_an_ingest_loses_and_doubles_nothing(stack, unique_name):
    settings = stack.model_copy(update={"stream_name": unique_name, "raw_collection": unique_name,
                                        "quarantine_collection": f"{unique_name}_q", "failure_queue_name": "",
                                        "max_retry_attempts": -1})
    kinesis = kinesis_client(settings)
    kinesis.create_stream(StreamName=unique_name, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=unique_name, WaiterConfig={"Delay": 0.2})
    start = dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)
    config = GeneratorConfig(count=RECORDS, seed=5, start=start, end=start + dt.timedelta(hours=1))
    KinesisProducer(kinesis, unique_name).send(generate(config), total=RECORDS, progress=False)
    ferretdb = FerretDBService(settings)
    result: dict[str, object] = {}

    def trigger() -> None:
        try:
            result["stats"] = ingest.run_trigger(settings, stream=unique_name, until_idle_s=3.0)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            result["error"] = exc

    runner = threading.Thread(target=trigger, daemon=True)
    try:
        runner.start()
        deadline = time.monotonic() + 300
        while _stored(settings) < RECORDS // 5:
            assert time.monotonic() < deadline and runner.is_alive(), "the ingest did not get going"
            time.sleep(0.2)
        pid = ferretdb.pid()
        assert pid, "FerretDB of the stack is not running"
        os.kill(pid, signal.SIGKILL)
        time.sleep(OUTAGE_S)
        assert runner.is_alive(), f"the trigger gave up while the store was down: {result}"
        ferretdb.start()
        deadline = time.monotonic() + 60
        while not ferretdb.running() or not _ready(ferretdb):
            assert time.monotonic() < deadline, "FerretDB did not come back"
            time.sleep(0.5)
        runner.join(timeout=600)
        assert not runner.is_alive(), "the trigger did not finish after the store came back"
        assert "error" not in result, result.get("error")
        stats = result["stats"]
        assert stats.discarded_records == 0
        assert _stored(settings) == RECORDS  # _id is the event id: a second copy cannot exist
    finally:
        if not ferretdb.running():
            ferretdb.start()
        aws.client(settings, "kinesis").delete_stream(StreamName=unique_name)
        drop_collections(settings, settings.mongodb_database, unique_name)


def _ready(service: FerretDBService) -> bool:
    try:
        return bool(service.ready())
    except Exception:  # noqa: BLE001 - not answering yet
        return False
