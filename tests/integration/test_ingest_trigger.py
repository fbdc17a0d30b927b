"""The local Kinesis trigger calls the real handler as AWS's event source mapping would.

Every test gets its own stream, collections, function name (so its own checkpoints) and failure
queue; the trigger runs as a real process where a restart or a kill matters.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
from pymongo import MongoClient

from pipeline.ingest.config import TriggerConfig
from pipeline.ingest.mapping import EventSourceMapping
from pipeline.ingest.runtime import load_function
from pipeline.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.stack

FIXTURES = Path(__file__).parent.parent / "fixtures"


@pytest.fixture(autouse=True)
def _restore_environ():
    """load_function sets the function's environment (as in a container); keep it out of other tests."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def ingest(stack, unique_name):
    """Settings naming a fresh 2-shard stream, collections, function and queue for this test."""
    names = {"stream_name": unique_name, "function_name": f"fn-{unique_name}",
             "raw_collection": f"raw_{unique_name}", "quarantine_collection": f"q_{unique_name}",
             "failure_queue_name": f"dlq-{unique_name}"}
    settings = Settings(**names)
    kinesis = boto3.client("kinesis", **settings.boto3_kwargs())
    kinesis.create_stream(StreamName=unique_name, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=unique_name, WaiterConfig={"Delay": 0.2})
    mongo = MongoClient(settings.mongo_uri)
    db = mongo[settings.mongodb_database]
    env = {**os.environ, **{f"WB_{k.upper()}": v for k, v in names.items()}}
    yield settings, kinesis, db, env
    for name in _raw_collections(db, settings):
        db[name].drop()
    db[settings.quarantine_collection].drop()
    mongo.close()
    kinesis.delete_stream(StreamName=unique_name)


def _log(i: int, **extra: object) -> dict:
    return {"timestamp": f"2026-11-27T10:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z",
            "service": ["auth", "payment"][i % 2], "status": 200 if i % 5 else 503,
            "message": f"GET /items/{i} done", "latency_ms": 10.0 + i, "request_id": f"r{i:06d}", **extra}


def _put(kinesis, stream: str, payloads: list[bytes]) -> None:
    for start in range(0, len(payloads), 500):
        chunk = payloads[start:start + 500]
        response = kinesis.put_records(StreamName=stream, Records=[
            {"Data": data, "PartitionKey": str(start + k)} for k, data in enumerate(chunk)])
        assert response["FailedRecordCount"] == 0


def _trigger(env: dict[str, str], *args: str, **popen: object) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipeline", "lambda", "run", *args], cwd=PROJECT_ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def _run_until_idle(env: dict[str, str], *args: str) -> str:
    proc = _trigger(env, "--until-idle", *args)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err
    return out


def _raw_collections(db, settings: Settings) -> list[str]:
    """The raw logs' collections: one per hour (``raw_<YYYYMMDDHH>``) with the default bucketing."""
    return [n for n in db.list_collection_names() if n.startswith(f"{settings.raw_collection}_")]


def _stored_logs(db, settings: Settings) -> dict[str, dict]:
    return {d["request_id"]: d for name in _raw_collections(db, settings) for d in db[name].find()}


def _count(db, settings: Settings) -> int:
    return sum(db[name].count_documents({}) for name in _raw_collections(db, settings))


def _failure_messages(settings: Settings) -> list[dict]:
    sqs = boto3.client("sqs", **settings.boto3_kwargs())
    url = sqs.get_queue_url(QueueName=settings.failure_queue_name)["QueueUrl"]
    messages = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages"):
        messages += [json.loads(m["Body"]) for m in batch]
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
    return messages


def test_every_record_is_stored_field_for_field_and_malformed_ones_are_quarantined(ingest):
    settings, kinesis, db, env = ingest
    logs = [_log(i) for i in range(400)]
    bad = {b"{not json": "not JSON", json.dumps({"service": "auth"}).encode(): "missing field",
           json.dumps({**_log(0), "status": "abc"}).encode(): "status is not an HTTP code"}
    _put(kinesis, settings.stream_name, [json.dumps(r).encode() for r in logs] + list(bad))

    _run_until_idle(env)

    stored = _stored_logs(db, settings)
    assert len(stored) == len(logs) == _count(db, settings)
    for record in logs:
        doc = stored[record["request_id"]]
        assert doc["timestamp_raw"] == record["timestamp"]
        assert doc["timestamp"].isoformat(timespec="milliseconds") + "Z" == record["timestamp"]
        assert {k: doc[k] for k in record if k != "timestamp"} == {k: v for k, v in record.items() if k != "timestamp"}
        assert doc["_id"] == f"{doc['kinesis']['shard_id']}:{doc['kinesis']['sequence_number']}"
    quarantined = {bytes(d["raw"]): d["reason"] for d in db[settings.quarantine_collection].find()}
    assert set(quarantined) == set(bad)
    for raw, reason in bad.items():
        assert reason in quarantined[raw]
    buckets = _raw_collections(db, settings)
    assert sorted(buckets) == [f"{settings.raw_collection}_20261127{hour}" for hour in ("10",)]
    for name in buckets:
        indexes = {tuple(ix["key"]) for ix in db[name].list_indexes()}
        assert {("timestamp",), ("service", "timestamp"), ("status",)} <= indexes


def test_a_second_run_resumes_from_the_checkpoint_and_writes_nothing_twice(ingest):
    settings, kinesis, db, env = ingest
    _put(kinesis, settings.stream_name, [json.dumps(_log(i)).encode() for i in range(100)])
    _run_until_idle(env)
    _put(kinesis, settings.stream_name, [json.dumps(_log(i)).encode() for i in range(100, 150)])

    out = _run_until_idle(env)

    assert "50 records delivered" in out  # only the new ones
    assert len(_stored_logs(db, settings)) == 150


def test_killed_in_the_middle_of_a_batch_then_restarted_gives_exactly_n(ingest):
    settings, kinesis, db, env = ingest
    n = 600
    _put(kinesis, settings.stream_name, [json.dumps(_log(i)).encode() for i in range(n)])
    proc = _trigger({**env, "SLOW_WRITER_PAUSE_S": "0.4"}, "--batch-size", "50",
                    "--handler", "tests.fixtures.handlers:slow_writer")
    deadline = time.monotonic() + 120
    while (stored := _count(db, settings)) % 50 == 0 or stored < 100:  # mid-batch: not a multiple of 50
        assert time.monotonic() < deadline and proc.poll() is None, "the trigger never got going"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    partial = _count(db, settings)
    assert 0 < partial < n

    _run_until_idle(env)

    stored = _stored_logs(db, settings)
    assert _count(db, settings) == n == len(stored)
    assert sorted(stored) == [f"r{i:06d}" for i in range(n)]


@pytest.mark.parametrize("handler", ["poison_raising", "poison_partial"])
def test_a_poison_record_is_isolated_and_sent_to_the_failure_queue(ingest, handler):
    settings, kinesis, db, env = ingest
    payloads = [json.dumps(_log(i)).encode() for i in range(200)]
    payloads[77] = json.dumps(_log(77, message="POISON pill")).encode()
    _put(kinesis, settings.stream_name, payloads)
    env = {**env, "WB_MAX_RETRY_ATTEMPTS": "2", "WB_BISECT_BATCH_ON_ERROR": "true",
           "WB_REPORT_BATCH_ITEM_FAILURES": "true"}

    out = _run_until_idle(env, "--handler", f"tests.fixtures.handlers:{handler}")

    stored = _stored_logs(db, settings)
    assert len(stored) == 199 and "r000077" not in stored, out
    (message,) = _failure_messages(settings)
    info = message["KinesisBatchInfo"]
    assert info["batchSize"] == 1
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert message["requestContext"]["approximateInvokeCount"] == 3  # first try + 2 retries
    record = kinesis.get_records(ShardIterator=kinesis.get_shard_iterator(
        StreamName=settings.stream_name, ShardId=info["shardId"], ShardIteratorType="AT_SEQUENCE_NUMBER",
        StartingSequenceNumber=info["startSequenceNumber"])["ShardIterator"], Limit=1)["Records"][0]
    assert b"POISON" in record["Data"]
    assert info["streamArn"].endswith(f"stream/{settings.stream_name}")


def test_the_event_has_the_shape_of_a_real_kinesis_event(ingest):
    settings, kinesis, _, _ = ingest
    _put(kinesis, settings.stream_name, [json.dumps(_log(i)).encode() for i in range(5)])
    events: list[dict] = []
    mapping = EventSourceMapping(settings, lambda event, context: events.append(event),
                                 TriggerConfig(batch_size=10))

    mapping.run(until_idle_s=0.5)

    recorded = json.loads((FIXTURES / "aws_kinesis_event.json").read_text())["Records"][0]
    ours = [record for event in events for record in event["Records"]]
    assert len(ours) == 5

    def shape(value: object) -> object:
        if isinstance(value, dict):
            return {k: shape(v) for k, v in value.items()}
        return type(value).__name__

    for record in ours:
        assert shape(record) == shape(recorded)
        assert record["eventID"] == f"{record['eventID'].split(':')[0]}:{record['kinesis']['sequenceNumber']}"
        assert record["eventSourceARN"].startswith("arn:aws:kinesis:")
        assert record["awsRegion"] == settings.region
        assert json.loads(base64.b64decode(record["kinesis"]["data"]))["service"] in ("auth", "payment")
        for constant in ("eventSource", "eventVersion", "eventName"):
            assert record[constant] == recorded[constant]
        assert record["kinesis"]["kinesisSchemaVersion"] == "1.0"


def test_database_down_fails_only_the_batch_and_nothing_is_lost(ingest):
    """The handler reports every record as failed when MongoDB is unreachable; the shard waits."""
    settings, kinesis, db, _ = ingest
    _put(kinesis, settings.stream_name, [json.dumps(_log(i)).encode() for i in range(20)])
    unreachable = Settings(**{**settings.model_dump(include={"stream_name", "function_name", "raw_collection",
                                                            "quarantine_collection", "failure_queue_name"}),
                              "mongodb_uri": "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300"})
    handler = load_function(unreachable)
    config = TriggerConfig(batch_size=100, max_retry_attempts=1, report_batch_item_failures=True,
                           bisect_batch_on_error=False, retry_backoff_s=0.01)
    stats = EventSourceMapping(unreachable, handler, config).run(until_idle_s=0.5)

    assert stats.partial_failures >= 2 and stats.records == 0
    assert stats.discarded_records == 20  # retries exhausted: described in the failure queue, not lost silently
    assert sum(m["KinesisBatchInfo"]["batchSize"] for m in _failure_messages(settings)) == 20
    # The records are still in the stream: a replay from TRIM_HORIZON with the database up stores them all.
    EventSourceMapping(settings, load_function(settings), TriggerConfig(), checkpoint_path=settings.var_dir
                       / "trigger" / "replay" / f"{settings.stream_name}.json").run(until_idle_s=0.5)
    assert _count(db, settings) == 20


def test_a_generated_scenario_arrives_exactly_with_malformed_records_quarantined(ingest):
    """generate -> Kinesis -> trigger until idle: exactly N raw logs, field for field, and the quarantine."""
    import datetime as dt
    import hashlib

    from pipeline.generate.generator import GeneratorConfig, generate
    from pipeline.generate.ground_truth import read_ground_truth
    from pipeline.generate.scenarios import make_scenario

    settings, _, db, env = ingest
    args = {"scenario": "payment-outage", "count": 800, "seed": 11, "bad_fraction": 0.05,
            "start": dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC),
            "end": dt.datetime(2026, 11, 27, 10, 20, tzinfo=dt.UTC)}
    gen = subprocess.run([sys.executable, "-m", "pipeline", "generate", "--scenario", args["scenario"],
                          "--count", str(args["count"]), "--seed", str(args["seed"]), "--bad-fraction", "0.05",
                          "--start", "2026-11-27T10:00Z", "--end", "2026-11-27T10:20Z", "--no-progress"],
                         cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert gen.returncode == 0, gen.stdout + gen.stderr
    run_id = gen.stdout.strip().splitlines()[-1].split("run_id: ")[1]
    truth = read_ground_truth(settings, run_id)

    _run_until_idle(env)

    config = GeneratorConfig(**{**args, "scenario": make_scenario(args["scenario"], {})})
    expected = [e.record for e in generate(config) if e.record is not None]
    assert len(expected) == truth["counts"]["valid"]
    stored = _stored_logs(db, settings)
    assert len(stored) == len(expected) == _count(db, settings)
    for record in expected:
        doc = stored[record["request_id"]]
        assert doc["timestamp_raw"] == record["timestamp"]
        assert {k: doc[k] for k in record if k != "timestamp"} == {k: v for k, v in record.items() if k != "timestamp"}
    quarantined = {hashlib.sha256(bytes(d["raw"])).hexdigest(): d["reason"]
                   for d in db[settings.quarantine_collection].find()}
    assert set(quarantined) == {m["sha256"] for m in truth["malformed"]}
    assert all(quarantined.values())
