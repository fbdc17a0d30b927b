"""Kinesis -> trigger -> MongoDB, documents/s end to end, next to a one-insert-per-record handler.

Both run in the same process through the same local event source mapping over a stream filled
beforehand, so the difference is the handler: the real one writes a batch with one unordered
``insert_many``; the baseline (the seed's way) calls ``insert_one`` for every record.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
import uuid
from typing import Any

from pymongo import MongoClient

from pipeline.bench.result import Result
from pipeline.common import aws
from pipeline.generate.generator import GeneratorConfig, generate
from pipeline.generate.producer import KinesisProducer, kinesis_client
from pipeline.ingest.config import TriggerConfig
from pipeline.ingest.mapping import EventSourceMapping
from pipeline.ingest.runtime import load_function
from pipeline.settings import Settings

IDLE_S = 0.5


def _fill(settings: Settings, stream: str, count: int) -> None:
    """A fresh stream holding ``count`` generated logs, sent by the project's producer (retries included)."""
    client = kinesis_client(settings)
    client.create_stream(StreamName=stream, ShardCount=settings.shard_count)
    client.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2})
    start = dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)
    config = GeneratorConfig(count=count, seed=1, start=start, end=start + dt.timedelta(hours=1))
    KinesisProducer(client, stream).send(generate(config), total=count, progress=False)


def _one_insert_per_record(settings: Settings) -> Any:
    collection = MongoClient(settings.mongo_uri)[settings.mongodb_database][settings.raw_collection]

    def handler(event: dict[str, Any], context: object) -> None:
        for item in event["Records"]:
            record = json.loads(base64.b64decode(item["kinesis"]["data"]))
            collection.insert_one({"_id": item["eventID"], **record})

    return handler


def _measure(settings: Settings, count: int, handler: Any, batch_size: int) -> float:
    """Documents/s from the first poll until the last document is stored."""
    stream = settings.stream_name
    _fill(settings, stream, count)
    mapping = EventSourceMapping(settings, handler, TriggerConfig(batch_size=batch_size),
                                 checkpoint_path=settings.var_dir / "bench" / f"{stream}.json")
    began = time.monotonic()
    stats = mapping.run(until_idle_s=IDLE_S)
    elapsed = time.monotonic() - began - IDLE_S
    with MongoClient(settings.mongo_uri) as client:
        database = client[settings.mongodb_database]
        stored = sum(database[n].count_documents({}) for n in database.list_collection_names()
                     if n == settings.raw_collection or n.startswith(f"{settings.raw_collection}_"))
    if stats.records != count or stored != count:
        raise RuntimeError(f"bench lost records: {count} sent, {stats.records} delivered, {stored} stored")
    return count / elapsed


def run(settings: Settings, scale: float) -> list[Result]:
    results = []
    figures: dict[str, float] = {}
    cases = [("batched", int(20_000 * scale), None, settings.batch_size),
             ("batched-1000", int(20_000 * scale), None, 1000),
             ("one-per-record", int(2_000 * scale), "baseline", settings.batch_size)]
    for label, count, kind, batch_size in cases:
        name = f"bench{uuid.uuid4().hex[:8]}"
        case = settings.model_copy(update={"stream_name": name, "raw_collection": name,
                                           "quarantine_collection": f"{name}_q", "failure_queue_name": ""})
        handler = _one_insert_per_record(case) if kind == "baseline" else load_function(case)
        try:
            figures[label] = _measure(case, count, handler, batch_size)
        finally:
            aws.client(case, "kinesis").delete_stream(StreamName=name)
            with MongoClient(case.mongo_uri) as client:
                database = client[case.mongodb_database]
                for collection in database.list_collection_names():
                    if collection.startswith(name):  # the raw logs' hour buckets and the quarantine
                        database.drop_collection(collection)
    base = figures["one-per-record"]
    results.append(Result("kinesis->trigger->mongodb (batch 100)", figures["batched"], "docs/s",
                          f"target >= 5,000; {figures['batched'] / base:.1f}x one-insert-per-record"))
    results.append(Result("kinesis->trigger->mongodb (batch 1000)", figures["batched-1000"], "docs/s",
                          f"{figures['batched-1000'] / base:.1f}x one-insert-per-record"))
    results.append(Result("  baseline: one insert per record", base, "docs/s", "the seed's way"))
    return results
