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

from pipeline.ingest.checkpoints import TriggerLock
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


def _request_id(doc: dict) -> str:
    """A stored log's request id: a field, or in ``extra_json`` when its unknown fields are kept as text."""
    return doc["request_id"] if "request_id" in doc else json.loads(doc["extra_json"])["request_id"]


def _stored_logs(db, settings: Settings) -> dict[str, dict]:
    return {_request_id(d): d for name in _raw_collections(db, settings) for d in db[name].find()}


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
    own_id = _log(400, _id="mine")  # a record's own _id never becomes the stored one
    bad = {b"{not json": "not JSON", json.dumps({"service": "auth"}).encode(): "missing field",
           json.dumps({**_log(0), "status": "abc"}).encode(): "status is not an HTTP code"}
    _put(kinesis, settings.stream_name, [json.dumps(r).encode() for r in [*logs, own_id]] + list(bad))

    _run_until_idle(env)

    stored = _stored_logs(db, settings)
    assert len(stored) == len(logs) + 1 == _count(db, settings)
    doc = stored.pop(own_id["request_id"])
    assert doc["_id"] == f"{doc['kinesis']['shard_id']}:{doc['kinesis']['sequence_number']}"  # the eventID
    assert json.loads(doc["extra_json"]) == {"request_id": own_id["request_id"], "_id": "mine"}
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


# --- resharding during a run ----------------------------------------------------------------------
KEYS = [f"key-{k:02d}" for k in range(20)]


def _put_keyed(kinesis, stream: str, indices: range) -> None:
    """Logs ``r<i>`` under 20 partition keys; one PutRecords call at a time, so each key's order is i's."""
    for start in range(indices.start, indices.stop, 500):
        response = kinesis.put_records(StreamName=stream, Records=[
            {"Data": json.dumps(_log(i)).encode(), "PartitionKey": KEYS[i % len(KEYS)]}
            for i in range(start, min(start + 500, indices.stop))])
        assert response["FailedRecordCount"] == 0


def _all_shard_records(kinesis, stream: str) -> list[dict]:
    """Every record of every shard (closed ones to their end), with its shard."""
    records = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while iterator:
            reply = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
            records += [{**r, "ShardId": shard["ShardId"]} for r in reply["Records"]]
            iterator = reply.get("NextShardIterator")
            if not reply["Records"] and "EndingSequenceNumber" not in shard["SequenceNumberRange"]:
                break  # an open shard, read to its end
    return records


def _reshard_during_a_run(ingest, tmp_path, reshard) -> tuple[list[list[str]], dict, str]:
    """Put, start ``lambda run --until-idle`` (slowed down), ``reshard`` once it has delivered a few
    batches, put as many again, and wait for it to end. Checks every record stored exactly once and
    each key's records seen in Kinesis order; returns the records seen, the shards and the output."""
    settings, kinesis, db, env = ingest
    stream = settings.stream_name
    first, second = range(0, 600), range(600, 1200)
    _put_keyed(kinesis, stream, first)
    seen_file = tmp_path / "seen.jsonl"
    proc = _trigger({**env, "RECORDING_FILE": str(seen_file), "RECORDING_PAUSE_S": "0.1"}, "--until-idle",
                    "--idle-seconds", "1", "--batch-size", "20", "--handler", "tests.fixtures.recording:recording")
    deadline = time.monotonic() + 120
    while not seen_file.exists() or len(seen_file.read_text().splitlines()) < 40:
        assert time.monotonic() < deadline and proc.poll() is None, "the trigger never got going"
        time.sleep(0.02)

    reshard(kinesis, stream)
    _put_keyed(kinesis, stream, second)
    assert proc.poll() is None, "the trigger ended before the reshard: nothing tested"
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + err

    # Ended only once the children were drained too: every record is stored, exactly once.
    expected = [f"r{i:06d}" for i in [*first, *second]]
    stored = _stored_logs(db, settings)
    assert _count(db, settings) == len(expected) == len(stored), out + err
    assert sorted(stored) == expected
    assert all(doc["_id"] == f"{doc['kinesis']['shard_id']}:{doc['kinesis']['sequence_number']}"
               for doc in stored.values())
    # Each key's records reached the handler in the stream's order (sequence numbers grow from a
    # parent to its children), which is also the order they were put in.
    seen = [json.loads(line) for line in seen_file.read_text().splitlines()]
    first_seen = list(dict.fromkeys(event_id for event_id, _, _ in seen))
    assert len(first_seen) == len(expected)
    in_stream = sorted(_all_shard_records(kinesis, stream), key=lambda r: int(r["SequenceNumber"]))
    assert len(in_stream) == len(expected)  # moto kept the parents' records (no copies in the children)
    for key in KEYS:
        stream_order = [f"{r['ShardId']}:{r['SequenceNumber']}" for r in in_stream if r["PartitionKey"] == key]
        of_key = set(stream_order)
        handler_order = [e for e in first_seen if e in of_key]
        assert handler_order == stream_order, key
        request_ids = [json.loads(r["Data"])["request_id"] for r in in_stream if r["PartitionKey"] == key]
        assert request_ids == sorted(request_ids)
    shards = {s["ShardId"]: s for s in kinesis.list_shards(StreamName=stream)["Shards"]}
    return seen, shards, out


def _shard_of(event_id: str) -> str:
    return event_id.split(":")[0]


def _restart_delivers(settings: Settings) -> int:
    """Records a restarted trigger (in-process, same checkpoints) delivers."""
    return EventSourceMapping(settings, load_function(settings), TriggerConfig()).run(until_idle_s=0.5).records


def _checkpoints(settings: Settings) -> dict[str, str]:
    return json.loads((settings.var_dir / "trigger" / settings.function_name
                       / f"{settings.stream_name}.json").read_text())


def test_a_shard_split_during_a_run_is_drained_before_its_children(ingest, tmp_path):
    settings = ingest[0]
    parent = "shardId-000000000000"

    def split(kinesis, stream: str) -> None:
        kinesis.split_shard(StreamName=stream, ShardToSplit=parent, NewStartingHashKey=str(2**126))

    seen, shards, _ = _reshard_during_a_run(ingest, tmp_path, split)

    children = sorted(s for s, shard in shards.items() if shard.get("ParentShardId") == parent)
    assert len(children) == 2
    order = [_shard_of(event_id) for event_id, _, _ in seen]
    assert set(children) <= set(order)  # the new records were read from the children
    last_of_parent = max(i for i, shard in enumerate(order) if shard == parent)
    assert all(order.index(child) > last_of_parent for child in children)
    checkpoints = _checkpoints(settings)
    assert checkpoints[parent] == "SHARD_END"
    assert all(checkpoints[child].isdigit() for child in children)
    assert _restart_delivers(settings) == 0  # a restart reads no record again, the drained parent least of all


def test_a_merge_during_a_run_waits_for_both_parents(ingest, tmp_path):
    settings = ingest[0]
    parents = ["shardId-000000000000", "shardId-000000000001"]

    def merge(kinesis, stream: str) -> None:
        kinesis.merge_shards(StreamName=stream, ShardToMerge=parents[0], AdjacentShardToMerge=parents[1])

    seen, shards, _ = _reshard_during_a_run(ingest, tmp_path, merge)

    (child,) = [s for s, shard in shards.items() if shard.get("ParentShardId") == parents[0]]
    assert shards[child]["AdjacentParentShardId"] == parents[1]
    order = [_shard_of(event_id) for event_id, _, _ in seen]
    first_of_child = order.index(child)
    assert all(max(i for i, shard in enumerate(order) if shard == p) < first_of_child for p in parents)
    assert all(_checkpoints(settings)[p] == "SHARD_END" for p in parents)
    assert _restart_delivers(settings) == 0


# --- one trigger per mapping ----------------------------------------------------------------------
def _lock_file(settings: Settings) -> Path:
    return settings.var_dir / "trigger" / settings.function_name / f"{settings.stream_name}.json.lock"


def _wait_for_lock(lock: Path, proc: subprocess.Popen) -> dict:
    deadline = time.monotonic() + 60
    while not (lock.exists() and lock.read_text().strip()):
        assert time.monotonic() < deadline and proc.poll() is None, "the first trigger never took the lock"
        time.sleep(0.05)
    return json.loads(lock.read_text())


@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_second_trigger_on_the_same_mapping_exits_naming_the_first(ingest, stop_with):
    settings, kinesis, db, env = ingest
    _put(kinesis, settings.stream_name, [json.dumps(_log(i)).encode() for i in range(50)])
    lock = _lock_file(settings)
    first = _trigger(env)  # runs until stopped
    holder = _wait_for_lock(lock, first)
    assert holder["pid"] == first.pid and holder["host"] and holder["started"]

    second = subprocess.run([sys.executable, "-m", "pipeline", "lambda", "run", "--until-idle"], cwd=PROJECT_ROOT,
                            env=env, capture_output=True, text=True, timeout=120, check=False)

    assert second.returncode != 0
    assert f"pid {first.pid}" in second.stderr and f"since {holder['started']}" in second.stderr
    assert "fix:" in second.stderr and str(lock) in second.stderr
    assert first.poll() is None  # the first one goes on, its lock untouched
    assert json.loads(lock.read_text()) == holder

    deadline = time.monotonic() + 60
    while _count(db, settings) < 50:
        assert time.monotonic() < deadline, "the first trigger stored nothing"
        time.sleep(0.1)
    first.send_signal(stop_with)  # released at exit, on SIGTERM and Ctrl-C alike
    out, err = first.communicate(timeout=60)
    assert first.returncode == 0, out + err
    assert "50 records delivered" in out
    assert not lock.exists()
    with TriggerLock(lock):  # the mapping is free again
        pass


# --- GetRecords caps ------------------------------------------------------------------------------
def test_get_records_answers_at_most_10_mib(stack, unique_name):
    kinesis = boto3.client("kinesis", **stack.boto3_kwargs())
    kinesis.create_stream(StreamName=unique_name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=unique_name, WaiterConfig={"Delay": 0.2})
    try:
        payloads = [bytes([65 + i]) * 1_000_000 for i in range(12)]  # 12 MB in one shard
        for start in range(0, len(payloads), 5):  # PutRecords takes at most 5 MiB
            kinesis.put_records(StreamName=unique_name, Records=[
                {"Data": p, "PartitionKey": "k"} for p in payloads[start:start + 5]])
        iterator = kinesis.get_shard_iterator(StreamName=unique_name, ShardId="shardId-000000000000",
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        first = kinesis.get_records(ShardIterator=iterator, Limit=10_000)
        second = kinesis.get_records(ShardIterator=first["NextShardIterator"], Limit=10_000)

        assert len(first["Records"]) == 10  # 10 MB; an 11th record would pass 10 MiB
        assert sum(len(r["Data"]) + len(r["PartitionKey"]) for r in first["Records"]) <= 10 * 1024 * 1024
        assert [r["Data"] for r in first["Records"] + second["Records"]] == payloads
        assert len(kinesis.get_records(ShardIterator=iterator, Limit=3)["Records"]) == 3
    finally:
        kinesis.delete_stream(StreamName=unique_name)
