"""The trigger's shard discovery, checkpoints and lock, without the stack.

moto runs in this process (a threaded server on a free port, with the stack launcher's patches, so
split and merge behave as on AWS); the handler records what it receives.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from pipeline.ingest.checkpoints import (
    SHARD_END,
    CheckpointStore,
    TriggerLock,
    TriggerLockedError,
    default_checkpoint_path,
    lock_path,
)
from pipeline.ingest.config import TriggerConfig
from pipeline.ingest.mapping import EventSourceMapping
from pipeline.settings import Settings
from pipeline.stack import moto_server  # noqa: F401 - patches moto as the stack's launcher does

PARENT = "shardId-000000000000"


@pytest.fixture(scope="module")
def moto_port():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    yield server.get_host_and_port()[1]
    server.stop()


def _new_stream(port: int, var_dir: Path, shards: int) -> tuple[Settings, object]:
    name = f"u{uuid.uuid4().hex[:8]}"
    settings = Settings(kinesis_port=port, stream_name=name, function_name=f"fn-{name}", failure_queue_name="",
                        var_dir=var_dir)
    kinesis = boto3.client("kinesis", **settings.boto3_kwargs())
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    return settings, kinesis


@pytest.fixture
def stream(moto_port, tmp_path):
    """A fresh one-shard stream on the in-process moto, its checkpoints under ``tmp_path``."""
    return _new_stream(moto_port, tmp_path, 1)


def _put(kinesis, stream: str, start: int, count: int) -> None:
    kinesis.put_records(StreamName=stream, Records=[
        {"Data": json.dumps({"i": i}).encode(), "PartitionKey": f"k{i % 7}"} for i in range(start, start + count)])


def _split(kinesis, stream: str, shard: str, at: int = 2**127) -> None:
    kinesis.split_shard(StreamName=stream, ShardToSplit=shard, NewStartingHashKey=str(at))


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []
        self.lock = threading.Lock()

    def __call__(self, event: dict, context: object) -> None:
        with self.lock:
            self.seen += [(r["eventID"].split(":")[0], json.loads(base64.b64decode(r["kinesis"]["data"]))["i"])
                          for r in event["Records"]]

    def numbers(self) -> list[int]:
        return sorted(i for _, i in self.seen)


def _mapping(settings: Settings, handler: Recorder, **config: object) -> EventSourceMapping:
    return EventSourceMapping(settings, handler, TriggerConfig(**config), discovery_interval_s=0.3)


def test_children_are_read_after_their_parent_and_a_restart_skips_the_finished_parent(stream):
    settings, kinesis = stream
    _put(kinesis, settings.stream_name, 0, 30)
    _split(kinesis, settings.stream_name, PARENT)
    _put(kinesis, settings.stream_name, 30, 30)
    recorder = Recorder()

    stats = _mapping(settings, recorder, batch_size=7).run(until_idle_s=0.3)

    assert stats.records == 60 and recorder.numbers() == list(range(60))
    shards = [shard for shard, _ in recorder.seen]
    assert shards[:30] == [PARENT] * 30 and PARENT not in shards[30:]
    checkpoints = CheckpointStore(default_checkpoint_path(settings, settings.stream_name))
    assert checkpoints.finished(PARENT) and checkpoints.get(PARENT) is None
    again = Recorder()
    assert _mapping(settings, again).run(until_idle_s=0.3).records == 0 and again.seen == []


def test_a_split_while_running_starts_the_children_and_until_idle_waits_for_them(stream):
    settings, kinesis = stream
    _put(kinesis, settings.stream_name, 0, 20)
    recorder = Recorder()
    mapping = _mapping(settings, recorder)
    runner = threading.Thread(target=lambda: mapping.run(until_idle_s=1.0))
    runner.start()
    deadline = time.monotonic() + 30
    while len(recorder.seen) < 20:
        assert time.monotonic() < deadline
        time.sleep(0.02)

    _split(kinesis, settings.stream_name, PARENT)  # the parent is idle and caught up
    _put(kinesis, settings.stream_name, 20, 40)
    runner.join(timeout=60)

    assert not runner.is_alive() and recorder.numbers() == list(range(60))
    assert set(mapping.pollers) == {PARENT, "shardId-000000000001", "shardId-000000000002"}
    assert mapping.checkpoints.finished(PARENT)


def test_with_latest_a_shard_closed_before_the_start_is_skipped_and_later_children_start_at_trim_horizon(stream):
    settings, kinesis = stream
    _put(kinesis, settings.stream_name, 0, 10)
    _split(kinesis, settings.stream_name, PARENT)  # closed before the trigger starts: nothing after LATEST
    _put(kinesis, settings.stream_name, 10, 10)  # in the children, before the start: skipped by LATEST
    recorder = Recorder()
    mapping = _mapping(settings, recorder, starting_position="LATEST")
    runner = threading.Thread(target=lambda: mapping.run(until_idle_s=1.0))
    runner.start()
    deadline = time.monotonic() + 30
    while len(mapping.pollers) < 2 or any(p.idle_since is None for p in mapping.pollers.values()):
        assert time.monotonic() < deadline
        time.sleep(0.02)

    _put(kinesis, settings.stream_name, 20, 10)  # after the start: delivered
    _split(kinesis, settings.stream_name, "shardId-000000000002", at=3 * 2**126)
    _put(kinesis, settings.stream_name, 30, 20)  # partly in the new grandchildren, read from their start
    runner.join(timeout=60)

    assert PARENT in mapping.skipped and PARENT not in mapping.pollers
    assert recorder.numbers() == list(range(20, 50))
    assert {"shardId-000000000003", "shardId-000000000004"} <= set(mapping.pollers)


def test_a_merge_waits_for_both_parents(moto_port, tmp_path):
    settings, kinesis = _new_stream(moto_port, tmp_path, 2)
    name = settings.stream_name
    _put(kinesis, name, 0, 40)
    kinesis.merge_shards(StreamName=name, ShardToMerge=PARENT, AdjacentShardToMerge="shardId-000000000001")
    _put(kinesis, name, 40, 40)
    recorder = Recorder()
    slow = {"first": True}

    def handler(event: dict, context: object) -> None:
        if slow.pop("first", False) and event["Records"][0]["eventID"].startswith(PARENT):
            time.sleep(0.5)  # the first parent lags: the child must still wait for it
        recorder(event, context)

    mapping = EventSourceMapping(settings, handler, TriggerConfig(batch_size=5), discovery_interval_s=0.1)
    mapping.run(until_idle_s=0.3)

    assert recorder.numbers() == list(range(80))
    shards = [shard for shard, _ in recorder.seen]
    first_of_child = shards.index("shardId-000000000002")
    assert {"shardId-000000000002"} == set(shards[first_of_child:])
    assert mapping.checkpoints.finished(PARENT) and mapping.checkpoints.finished("shardId-000000000001")


def test_an_open_shard_marked_finished_by_an_old_stream_of_the_same_name_is_read(stream):
    settings, kinesis = stream  # moto forgets its streams on a restart; the checkpoint file stays
    CheckpointStore(default_checkpoint_path(settings, settings.stream_name)).finish(PARENT)
    _put(kinesis, settings.stream_name, 0, 10)
    recorder = Recorder()
    assert _mapping(settings, recorder).run(until_idle_s=0.3).records == 10


def test_a_failed_listing_while_running_is_tried_again(stream):
    settings, kinesis = stream
    _put(kinesis, settings.stream_name, 0, 10)
    recorder = Recorder()
    mapping = _mapping(settings, recorder)
    real, calls = mapping.list_shards, []

    def flaky() -> list[dict]:
        calls.append(1)
        if len(calls) in (2, 3):
            raise EndpointConnectionError(endpoint_url="http://moto")
        if len(calls) == 4:
            _split(kinesis, settings.stream_name, PARENT)
            _put(kinesis, settings.stream_name, 10, 10)
        return real()

    mapping.list_shards = flaky
    assert mapping.run(until_idle_s=1.0).records == 20 and len(calls) > 4


# --- checkpoints -----------------------------------------------------------------------------------
def test_a_finished_shard_is_remembered_across_restarts_and_old_files_still_load(tmp_path):
    path = tmp_path / "stream.json"
    path.write_text(json.dumps({"shardId-000000000000": "42"}))  # written before shard ends were kept
    store = CheckpointStore(path)
    assert store.get(PARENT) == "42" and not store.finished(PARENT)
    store.finish(PARENT)
    store.set("shardId-000000000001", "7")
    again = CheckpointStore(path)
    assert again.finished(PARENT) and again.get(PARENT) is None and again.known(PARENT)
    assert again.get("shardId-000000000001") == "7" and not again.known("shardId-000000000002")
    assert json.loads(path.read_text())[PARENT] == SHARD_END


# --- one trigger per mapping -----------------------------------------------------------------------
def test_a_second_holder_is_told_who_holds_the_lock_and_since_when(tmp_path):
    path = lock_path(tmp_path / "stream.json")
    first = TriggerLock(path, "s -> fn")
    first.acquire()
    holder = json.loads(path.read_text())
    with pytest.raises(TriggerLockedError) as caught:
        TriggerLock(path, "s -> fn").acquire()
    message = str(caught.value)
    assert f"pid {holder['pid']}" in message and f"since {holder['started']}" in message
    assert "(s -> fn)" in message and caught.value.fix and str(path) in message
    first.acquire()  # held already: nothing happens
    first.release()
    assert not path.exists()
    with TriggerLock(path):
        assert json.loads(path.read_text())["pid"] != 0


def test_a_lock_file_left_by_a_killed_holder_is_taken_over(tmp_path):
    path = lock_path(tmp_path / "stream.json")
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import time
        from pathlib import Path
        from pipeline.ingest.checkpoints import TriggerLock
        TriggerLock(Path({str(path)!r})).acquire()
        print("held", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(TriggerLockedError, match=f"pid {holder.pid}"):
        TriggerLock(path).acquire()
    holder.kill()  # SIGKILL: no clean-up, the file stays
    holder.wait(timeout=10)
    holder.stdout.close()
    assert path.exists()

    with TriggerLock(path) as lock:
        assert lock.held and json.loads(path.read_text())["pid"] != holder.pid
