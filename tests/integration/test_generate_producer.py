"""The producer and ``python -m pipeline generate`` against the real local Kinesis endpoint: what is
sent arrives byte for byte, spread over every shard, with the retry path exercised for real."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from pipeline import generate as generate_stage
from pipeline.generate.generator import GeneratorConfig, generate
from pipeline.generate.malformed import BAD_KINDS
from pipeline.generate.producer import KinesisProducer, kinesis_client
from pipeline.generate.scenarios import PaymentOutage
from pipeline.settings import PROJECT_ROOT

pytestmark = pytest.mark.stack

SHARDS = 4
START = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


@pytest.fixture
def stream(stack, unique_name):
    client = boto3.client("kinesis", **stack.boto3_kwargs())
    client.create_stream(StreamName=unique_name, ShardCount=SHARDS)
    client.get_waiter("stream_exists").wait(StreamName=unique_name, WaiterConfig={"Delay": 0.2})
    yield unique_name
    client.delete_stream(StreamName=unique_name, EnforceConsumerDeletion=True)


def read_back(settings, stream_name) -> dict[str, list[tuple[bytes, str]]]:
    """Every record of every shard, with GetRecords from TRIM_HORIZON until a shard is drained."""
    client = boto3.client("kinesis", **settings.boto3_kwargs())
    by_shard = {}
    for shard in client.list_shards(StreamName=stream_name)["Shards"]:
        iterator = client.get_shard_iterator(StreamName=stream_name, ShardId=shard["ShardId"],
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        records = []
        while iterator:
            batch = client.get_records(ShardIterator=iterator, Limit=10_000)
            records += [(r["Data"], r["PartitionKey"]) for r in batch["Records"]]
            if not batch["Records"]:
                break
            iterator = batch.get("NextShardIterator")
        by_shard[shard["ShardId"]] = records
    return by_shard


def config(count, **kwargs) -> GeneratorConfig:
    return GeneratorConfig(count=count, start=START, end=START + timedelta(minutes=20), **kwargs)


def test_every_record_arrives_byte_for_byte_spread_over_all_shards(stack, stream):
    events = list(generate(config(3000, seed=21, scenario=PaymentOutage(), bad_fraction=0.03)))
    assert {e.bad_kind for e in events} >= set(BAD_KINDS)

    stats = KinesisProducer(kinesis_client(stack), stream).send(events, total=len(events), progress=False)

    assert stats.sent == len(events) and stats.failed_retried == 0
    assert stats.calls >= len(events) // 500  # batched, not one call per record
    by_shard = read_back(stack, stream)
    arrived = [record for records in by_shard.values() for record in records]
    assert Counter(arrived) == Counter((e.data, e.partition_key) for e in events)
    assert len(by_shard) == SHARDS
    assert min(len(records) for records in by_shard.values()) > 0.15 * len(events)  # spread, roughly even


class DroppingClient:
    """The real client, except that the first attempt of some records is not sent at all and comes
    back failed, as Kinesis answers under throttling (moto itself never throttles)."""

    def __init__(self, client, every: int = 5) -> None:
        self.client = client
        self.every = every
        self.seen: set[bytes] = set()
        self.dropped = 0

    def put_records(self, StreamName, Records):  # boto3's argument names
        passing, positions = [], []
        for i, entry in enumerate(Records):
            first_time = entry["Data"] not in self.seen
            self.seen.add(entry["Data"])
            if first_time and hashlib.sha256(entry["Data"]).digest()[0] % self.every == 0:
                continue
            passing.append(entry)
            positions.append(i)
        self.dropped += len(Records) - len(passing)
        answered = self.client.put_records(StreamName=StreamName, Records=passing)["Records"] if passing else []
        results = [{"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded for shard"}
                   for _ in Records]
        for position, result in zip(positions, answered, strict=True):
            results[position] = result
        return {"FailedRecordCount": sum("ErrorCode" in r for r in results), "Records": results}


def test_records_that_come_back_failed_are_resent_and_arrive_exactly_once(stack, stream):
    events = list(generate(config(2000, seed=22, bad_fraction=0.01)))
    client = DroppingClient(kinesis_client(stack))

    stats = KinesisProducer(client, stream, base_delay_s=0.01).send(events, progress=False)

    assert client.dropped > 0 and stats.failed_retried == client.dropped
    arrived = [record for records in read_back(stack, stream).values() for record in records]
    assert Counter(arrived) == Counter((e.data, e.partition_key) for e in events)


def run_generate(stack, tmp_path, *args, timeout=300):
    env = {**os.environ, "WB_VAR_DIR": str(tmp_path)}  # the ground truth goes to this test's own folder
    env.update({f"WB_{name.upper()}": str(getattr(stack, name)) for name in ("kinesis_port", "host", "region")})
    return subprocess.run([sys.executable, "-m", "pipeline", "generate", "--no-progress", *args], cwd=PROJECT_ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout, check=False)


def test_cli_backfill_end_to_end_writes_the_ground_truth_of_what_arrived(stack, stream, tmp_path):
    result = run_generate(stack, tmp_path, "--stream", stream, "--scenario", "payment-outage",
                          "-p", "start_min=4", "-p", "duration_min=6", "--start", "2026-11-27T10:00:00Z",
                          "--end", "2026-11-27T10:20:00Z", "--count", "4000", "--seed", "23", "--bad-fraction", "0.02")

    assert result.returncode == 0, result.stderr
    run_id = result.stdout.strip().splitlines()[-1].removeprefix("run_id: ")
    assert run_id.endswith("-payment-outage")
    truth = json.loads((tmp_path / "runs" / run_id / "ground_truth.json").read_text())
    assert truth["complete"] and truth["counts"]["sent"] == truth["counts"]["generated"] == 4000
    assert truth["incident"]["minutes"] == [f"2026-11-27T10:{m:02d}" for m in range(4, 10)]
    incident = truth["counts"]["incident"]
    assert incident["server_errors_in_window"] / incident["records_in_window"] > 0.25
    assert incident["server_errors_outside"] / incident["records_outside"] < 0.03

    # The same arguments in this process give the very bytes that arrived: deterministic across runs.
    expected = list(generate(config(4000, seed=23, scenario=PaymentOutage(start_min=4, duration_min=6),
                                    bad_fraction=0.02)))
    arrived = [data for records in read_back(stack, stream).values() for data, _ in records]
    assert Counter(arrived) == Counter(e.data for e in expected)
    arrived_hashes = Counter(hashlib.sha256(data).hexdigest() for data in arrived)
    for bad in truth["malformed"]:
        assert arrived_hashes[bad["sha256"]] == 1
        assert expected[bad["index"]].bad_kind == bad["kind"]
    assert len(truth["malformed"]) == sum(e.record is None for e in expected) > 0


def test_cli_live_mode_sends_at_the_rate_with_timestamps_of_now(stack, stream, tmp_path):
    began = datetime.now(UTC)
    result = run_generate(stack, tmp_path, "--stream", stream, "--rate", "200", "--count", "300", "--seed", "24")

    assert result.returncode == 0, result.stderr
    records = [json.loads(data) for records in read_back(stack, stream).values() for data, _ in records]
    assert len(records) == 300
    stamps = sorted(datetime.fromisoformat(r["timestamp"]) for r in records)
    assert began - timedelta(seconds=1) <= stamps[0] and stamps[-1] <= datetime.now(UTC)
    assert (stamps[-1] - stamps[0]).total_seconds() == pytest.approx(299 / 200, abs=0.5)  # paced, not a burst


def test_cli_names_a_missing_stream_and_exits_1(stack, unique_name, tmp_path):
    result = run_generate(stack, tmp_path, "--stream", unique_name, "--count", "5")

    assert result.returncode == 1
    assert f"stream '{unique_name}' does not exist" in result.stderr


def test_merged_backfills_arrive_in_time_order_with_a_ground_truth_each(stack, stream):
    """Two backfills over the same minutes sent as one: every shard holds their records in time order
    (what a live window job's watermark needs), and each run's ground truth counts its own records."""
    quiet = config(1500, seed=11, services=tuple(
        dataclasses.replace(p, name=f"q-{p.name}") for p in config(1).services))
    results = generate_stage.run_merged(stack, [config(1000, seed=3), quiet], stream=stream, say=lambda _: None)
    by_shard = read_back(stack, stream)
    stamps = [[json.loads(data)["timestamp"] for data, _ in records] for records in by_shard.values()]
    assert all(shard == sorted(shard) for shard in stamps)
    services = Counter("q" if json.loads(data)["service"].startswith("q-") else "main"
                       for records in by_shard.values() for data, _ in records)
    assert services == {"main": 1000, "q": 1500}
    assert [r.truth["counts"]["sent"] for r in results] == [1000, 1500]
    assert all(r.ok and r.truth["complete"] for r in results)
    assert len({r.run_id for r in results}) == 2
