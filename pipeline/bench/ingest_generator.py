"""Generator -> Kinesis: the batched producer next to the seed's one ``put_record`` per event.

Both send freshly generated events (generation is inside the timing) into fresh streams of the same
shape on the same endpoint, in the same run. The streams have ``BENCH_SHARDS`` shards: Kinesis
accepts 1,000 records/s per shard, so 8,000 records/s needs at least 8 shards on AWS; and moto's
``put_record`` costs time proportional to the records already in the shard (it copies the shard's
key list to find the last sequence number), so on a 2-shard stream a long run measures moto's
slowdown rather than the producer.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.bench.result import Result
from pipeline.common import aws
from pipeline.generate.generator import GeneratorConfig, generate
from pipeline.generate.producer import KinesisProducer, kinesis_client
from pipeline.settings import Settings

PRODUCER_RECORDS = 50_000
SEED_WAY_RECORDS = 2_000
TARGET_RECORDS_PER_S = 8_000
TARGET_RATIO = 20
KINESIS_SHARD_RECORDS_PER_S = 1_000  # AWS's write limit per shard
BENCH_SHARDS = 2 * math.ceil(TARGET_RECORDS_PER_S / KINESIS_SHARD_RECORDS_PER_S)
BENCH_SEED = 20_261_127
RANGE_START = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
RANGE = timedelta(hours=1)


def run(settings: Settings, scale: float) -> list[Result]:
    producer_n = max(1, round(PRODUCER_RECORDS * scale))
    seed_n = max(1, round(SEED_WAY_RECORDS * scale))
    client = kinesis_client(settings)
    seed_client = aws.client(settings, "kinesis")  # a plain client, as the seed made it

    began = time.perf_counter()
    generated = sum(1 for _ in generate(_config(producer_n)))
    generator_rate = generated / (time.perf_counter() - began)

    with _fresh_stream(client, "seedway") as stream:
        began = time.perf_counter()
        for event in generate(_config(seed_n)):
            seed_client.put_record(StreamName=stream, Data=event.data, PartitionKey=event.partition_key)
        seed_rate = seed_n / (time.perf_counter() - began)

    with _fresh_stream(client, "producer") as stream:
        cpu_before = time.process_time()
        stats = KinesisProducer(client, stream, concurrency=settings.generator_concurrency).send(
            generate(_config(producer_n)), total=producer_n, progress=False)
        client_cpu = (time.process_time() - cpu_before) / stats.seconds

    ratio = stats.records_per_s / seed_rate
    shape = f"fresh {BENCH_SHARDS}-shard stream, {settings.kinesis_endpoint or 'AWS'}"
    return [
        Result("generator alone (no sending)", generator_rate, "records/s", note=f"{producer_n:,} events"),
        Result("generator -> Kinesis, seed's put_record per event", seed_rate, "records/s",
               note=f"{seed_n:,} records, {shape}"),
        Result("generator -> Kinesis, PutRecords producer", stats.records_per_s, "records/s",
               baseline=f"target >= {TARGET_RECORDS_PER_S:,}: {_verdict(stats.records_per_s >= TARGET_RECORDS_PER_S)}",
               note=f"{stats.sent:,} records in {stats.calls} calls, {stats.failed_retried} retried, {shape}; "
                    f"this process was on CPU {client_cpu:.0%} of the time, the rest it waited for the endpoint"),
        Result("producer / seed's way", ratio, "x",
               baseline=f"target >= {TARGET_RATIO}x: {_verdict(ratio >= TARGET_RATIO)}"),
    ]


def _config(count: int) -> GeneratorConfig:
    return GeneratorConfig(count=count, seed=BENCH_SEED, start=RANGE_START, end=RANGE_START + RANGE)


def _verdict(met: bool) -> str:
    return "met" if met else "NOT met"


@contextmanager
def _fresh_stream(client: Any, label: str) -> Iterator[str]:
    """A new stream for one measurement, deleted afterwards (moto keeps every record in memory)."""
    name = f"bench-{label}-{uuid.uuid4().hex[:8]}"
    client.create_stream(StreamName=name, ShardCount=BENCH_SHARDS)
    client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2})
    try:
        yield name
    finally:
        client.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
