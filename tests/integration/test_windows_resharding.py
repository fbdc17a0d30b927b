"""A live window job while its stream is resharded: a shard split, then a merge, while records arrive.
The source finds the new shards (every second) and reads them after their parents; every record is
counted once in the window of its minute, none late, none twice."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
import threading
import time
from collections import Counter

import pytest

from pipeline import windows
from pipeline.common import aws
from pipeline.windows.tables import delete_services
from tests.fixtures.windows import window_counts

pytestmark = pytest.mark.stack
BASE = dt.datetime(2026, 11, 27, 6, 0)  # in the past: no stamp is capped as clock skew
SPEED = 6  # event time runs six times faster than the clock: a minute every 10 s
PRODUCE_S = 45
BOUND_S = 120  # event-time seconds: 20 s of the clock



def _adjacent_open_pair(kinesis, stream: str) -> tuple[str, str]:
    shards = [s for s in kinesis.list_shards(StreamName=stream)["Shards"]
              if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
    shards.sort(key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]))
    for low, high in itertools.pairwise(shards):
        if int(low["HashKeyRange"]["EndingHashKey"]) + 1 == int(high["HashKeyRange"]["StartingHashKey"]):
            return low["ShardId"], high["ShardId"]
    raise AssertionError(f"no adjacent open shards in {shards}")


def test_a_live_job_counts_every_record_through_a_split_and_a_merge(stack, unique_name):
    # Event time runs SPEED times faster than the clock, so the job's real-time tolerances are scaled:
    # the source idle timeout (a subtask without records for 5 s stops holding the watermark back)
    # by SPEED, and the watermark bound to two minutes of event time (20 s of the clock). The
    # connector's watermark is per subtask, over every shard that subtask reads, and it hands
    # shards to subtasks by hash: two shards on one subtask whose
    # readers drift a few seconds apart on this 2-core machine (seen in CI: read, but late for the
    # first minute) turn the slower one's records late. This test is about resharding; a reader's
    # drift is the bound's business.
    settings = stack.model_copy(update={"flink_source_idle_timeout_s": stack.flink_source_idle_timeout_s * SPEED})
    kinesis = aws.client(settings, "kinesis")
    kinesis.create_stream(StreamName=unique_name, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=unique_name, WaiterConfig={"Delay": 0.2})
    sent: Counter = Counter()
    stop = threading.Event()
    errors: list[BaseException] = []

    def produce() -> None:
        rng, began, i = random.Random(3), time.monotonic(), 0
        try:
            while not stop.is_set():
                at = BASE + dt.timedelta(seconds=(time.monotonic() - began) * SPEED)
                batch = []
                for _ in range(20):
                    service = f"{unique_name}-{rng.choice('abc')}"
                    batch.append({"Data": json.dumps({
                        "timestamp": at.isoformat(timespec="milliseconds") + "Z", "service": service,
                        "status": rng.choice((200, 200, 404, 503)), "message": f"r{i}", "latency_ms": i % 97,
                    }).encode(), "PartitionKey": f"k{rng.randrange(10**9)}"})
                    sent[(service, at.replace(second=0, microsecond=0))] += 1
                    i += 1
                response = kinesis.put_records(StreamName=unique_name, Records=batch)
                assert response["FailedRecordCount"] == 0
                time.sleep(0.1)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    producer = threading.Thread(target=produce, daemon=True)
    try:
        run = windows.run_job(settings, name=unique_name, stream=unique_name, parallelism=2,
                              watermark_bound_s=BOUND_S, say=lambda _: None)
        producer.start()
        time.sleep(PRODUCE_S / 3)
        parent = "shardId-000000000000"
        kinesis.split_shard(StreamName=unique_name, ShardToSplit=parent, NewStartingHashKey=str(2**126))
        time.sleep(PRODUCE_S / 3)
        low, high = _adjacent_open_pair(kinesis, unique_name)
        kinesis.merge_shards(StreamName=unique_name, ShardToMerge=low, AdjacentShardToMerge=high)
        time.sleep(PRODUCE_S / 3)
        stop.set()
        producer.join(timeout=30)
        assert not errors, errors
        last = max(minute for _, minute in sent)
        closer = last + dt.timedelta(seconds=BOUND_S + 120)  # moves the watermark past every minute sent
        kinesis.put_records(StreamName=unique_name, Records=[{"Data": json.dumps({
            "timestamp": closer.isoformat(timespec="milliseconds") + "Z", "service": f"{unique_name}-z",
            "status": 200, "message": "closer", "latency_ms": 1}).encode(), "PartitionKey": f"z{k}"}
            for k in range(8)])

        shards = kinesis.list_shards(StreamName=unique_name)["Shards"]
        assert len(shards) == 5  # two originals, two children of the split, one of the merge
        deadline = time.monotonic() + 180
        while True:
            counted, _, received = window_counts(settings, unique_name)
            counted = +Counter({k: n for k, n in counted.items() if not k[0].endswith("-z")})
            if counted == sent or time.monotonic() > deadline:
                break
            time.sleep(2)
        received = +Counter({k: n for k, n in received.items() if not k[0].endswith("-z")})
        differing = sorted(set(sent - counted) | set(counted - sent))[:10]
        # counted < received: read, but late for its window; received < sent: never read.
        assert counted == sent, (f"windows differ from what was sent (see {run.log_path}); (service, minute): "
                                 "sent, counted, received: "
                                 f"{[(key, sent[key], counted[key], received[key]) for key in differing]}")
        assert received == sent  # read once each, none late
    finally:
        stop.set()
        windows.stop_jobs(settings, unique_name)
        kinesis.delete_stream(StreamName=unique_name)
        delete_services(settings, unique_name)
