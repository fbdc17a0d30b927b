"""The launcher's GetRecords fast path answers exactly what moto's own code answers.

moto runs in-process here (its WSGI app, no socket); each request is made twice, once through the
patched path and once through moto's originals, and the parsed replies must be equal.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json

import pytest
from moto.kinesis.models import Record, Shard
from moto.kinesis.responses import KinesisResponse
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.server import create_backend_app
from werkzeug.test import Client

from pipeline.stack import moto_server

HEADERS = {"Content-Type": "application/x-amz-json-1.1", "Host": "localhost",
           "Authorization": "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/kinesis/aws4_request, "
                            "SignedHeaders=host, Signature=x"}


@pytest.fixture(scope="module")
def kinesis():
    client = Client(DomainDispatcherApplication(create_backend_app))

    def call(target: str, body: dict) -> dict:
        headers = {**HEADERS, "X-Amz-Target": f"Kinesis_20131202.{target}"}
        reply = client.post("/", data=json.dumps(body), headers=headers)
        assert reply.status_code == 200, reply.data
        return json.loads(reply.data)

    call("CreateStream", {"StreamName": "s", "ShardCount": 1})
    payloads = [bytes([i % 256]) * (i % 40) + b"\xff\x00{}" for i in range(1200)]
    for start in range(0, len(payloads), 500):
        call("PutRecords", {"StreamName": "s", "Records": [
            {"Data": base64.b64encode(p).decode(), "PartitionKey": str(start + k)}
            for k, p in enumerate(payloads[start:start + 500])]})
    return call, payloads


def _both(call, monkeypatch, target: str, body: dict) -> tuple[dict, dict]:
    fast = call(target, body)
    with monkeypatch.context() as m:
        m.setattr(Shard, "get_records", moto_server._scan_get_records)
        m.setattr(KinesisResponse, "get_records", moto_server._serialized_get_records)
        original = call(target, body)
    return fast, original


def _iterator(call, kind: str, **extra: str) -> str:
    return call("GetShardIterator", {"StreamName": "s", "ShardId": "shardId-000000000000",
                                     "ShardIteratorType": kind, **extra})["ShardIterator"]


def test_pages_through_the_shard_as_moto_does(kinesis, monkeypatch):
    call, payloads = kinesis
    iterator, seen = _iterator(call, "TRIM_HORIZON"), []
    for limit in (1, 250, 10_000, 10_000):
        fast, original = _both(call, monkeypatch, "GetRecords", {"ShardIterator": iterator, "Limit": limit})
        assert fast == original
        seen += [base64.b64decode(r["Data"]) for r in fast["Records"]]
        iterator = fast["NextShardIterator"]
    assert seen == payloads  # every record once, in order, bytes intact
    assert fast["Records"] == [] and fast["NextShardIterator"] == iterator


@pytest.mark.parametrize("kind", ["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "LATEST"])
def test_iterators_from_a_position(kinesis, monkeypatch, kind):
    call, _ = kinesis
    first = call("GetRecords", {"ShardIterator": _iterator(call, "TRIM_HORIZON"), "Limit": 20})["Records"]
    extra = {} if kind == "LATEST" else {"StartingSequenceNumber": first[10]["SequenceNumber"]}
    fast, original = _both(call, monkeypatch, "GetRecords", {"ShardIterator": _iterator(call, kind, **extra),
                                                              "Limit": 3})
    assert fast == original
    if kind != "LATEST":
        skip = 10 if kind == "AT_SEQUENCE_NUMBER" else 11
        assert [r["SequenceNumber"] for r in fast["Records"]] == [r["SequenceNumber"] for r in first[skip:skip + 3]]


def test_a_cbor_request_takes_motos_own_path(monkeypatch):
    seen = []
    monkeypatch.setattr(moto_server, "_serialized_get_records", lambda self: seen.append(self) or "moto's")

    class Request:
        def __init__(self) -> None:
            self.headers = {"Content-Type": "application/x-amz-cbor-1.1"}

    assert moto_server._get_records_json(Request()) == "moto's" and seen


def test_a_shard_numbered_with_gaps_falls_back_to_motos_scan():
    shard = Shard(0, 0, 2**128)
    for number in (5, 6, 9, 10):  # not consecutive: as if numbered by moto's own code
        shard.records[number] = Record("k", base64.b64encode(b"x").decode(), number, "")
    assert shard.get_records("5", 10) == moto_server._scan_get_records(shard, "5", 10)
    records, last, _ = shard.get_records("5", 2)
    assert [r.sequence_number for r in records] == [6, 9] and last == 9


# --- GetRecords caps: 10,000 records, 10 MiB ------------------------------------------------------
def _request(target: str, body: dict) -> tuple[int, dict]:
    client = Client(DomainDispatcherApplication(create_backend_app))
    headers = {**HEADERS, "X-Amz-Target": f"Kinesis_20131202.{target}"}
    reply = client.post("/", data=json.dumps(body), headers=headers)
    return reply.status_code, json.loads(reply.data or b"{}")


def _ok(target: str, body: dict) -> dict:
    status, reply = _request(target, body)
    assert status == 200, reply
    return reply


def _stream(name: str, shards: int) -> None:
    _ok("CreateStream", {"StreamName": name, "ShardCount": shards})


def _put(name: str, payloads: list[bytes], keys: list[str] | None = None) -> list[dict]:
    keys = keys or [str(i) for i in range(len(payloads))]
    step = 5 if max(map(len, payloads)) > 100_000 else 500  # PutRecords: 500 records, 5 MiB
    out = []
    for start in range(0, len(payloads), step):
        out += _ok("PutRecords", {"StreamName": name, "Records": [
            {"Data": base64.b64encode(p).decode(), "PartitionKey": k}
            for p, k in zip(payloads[start:start + step], keys[start:start + step], strict=True)]})["Records"]
    return out


def _shard_iterator(name: str, shard_id: str, kind: str = "TRIM_HORIZON", **extra: str) -> str:
    return _ok("GetShardIterator", {"StreamName": name, "ShardId": shard_id, "ShardIteratorType": kind,
                                    **extra})["ShardIterator"]


def _read_all(name: str, shard_id: str, limit: int | None = None) -> tuple[list[dict], list[dict]]:
    """Every record of a shard, page by page, and the replies (until a closed shard's end or no records)."""
    iterator, records, replies = _shard_iterator(name, shard_id), [], []
    while iterator:
        reply = _ok("GetRecords", {"ShardIterator": iterator} | ({"Limit": limit} if limit else {}))
        replies.append(reply)
        records += reply["Records"]
        iterator = reply.get("NextShardIterator")
        if not reply["Records"] and iterator:
            break  # an open shard, read to its end
    return records, replies


def _size(record: dict) -> int:
    return len(base64.b64decode(record["Data"])) + len(record["PartitionKey"].encode())


def test_a_reply_stops_before_10_mib_of_data():
    _stream("big", 1)
    payloads = [bytes([i]) * 1_000_000 for i in range(12)]  # 12 MB in one shard
    _put("big", payloads)

    for limit in (None, 10_000):
        records, replies = _read_all("big", "shardId-000000000000", limit)
        assert [base64.b64decode(r["Data"]) for r in records] == payloads  # each once, in order
        pages = [reply["Records"] for reply in replies if reply["Records"]]
        assert [len(page) for page in pages] == [10, 2]
        for page, following in itertools.pairwise(pages):
            assert sum(map(_size, page)) <= moto_server.MAX_GET_RECORDS_BYTES
            assert sum(map(_size, page)) + _size(following[0]) > moto_server.MAX_GET_RECORDS_BYTES

    first = _ok("GetRecords", {"ShardIterator": _shard_iterator("big", "shardId-000000000000"), "Limit": 3})
    assert len(first["Records"]) == 3  # Limit still honoured under the cap


def test_a_record_bigger_than_what_is_left_still_comes_alone():
    shard = Shard(0, 0, 2**128)
    for number in (1, 2):
        shard.records[number] = Record("k", base64.b64encode(b"x" * (6 * 1024 * 1024)).decode(), number, "")
    records, last, _ = shard.get_records("0", None)
    assert [r.sequence_number for r in records] == [1] and last == 1  # never an empty reply
    records, last, _ = shard.get_records("1", None)
    assert [r.sequence_number for r in records] == [2] and last == 2


def test_a_reply_holds_at_most_10000_records():
    _stream("many", 1)
    _put("many", [b"{}"] * 10_500)
    iterator = _shard_iterator("many", "shardId-000000000000")
    first = _ok("GetRecords", {"ShardIterator": iterator})  # no Limit: moto answered all 10,500
    assert len(first["Records"]) == 10_000
    assert len(_ok("GetRecords", {"ShardIterator": first["NextShardIterator"]})["Records"]) == 500
    assert len(_ok("GetRecords", {"ShardIterator": iterator, "Limit": 7})["Records"]) == 7


def test_the_size_cap_also_holds_on_motos_own_scan():
    shard = Shard(0, 0, 2**128)
    for number in (3, 5, 7):  # a gap: moto's scan answers
        shard.records[number] = Record("k", base64.b64encode(b"x" * (6 * 1024 * 1024)).decode(), number, "")
    records, last, behind = shard.get_records("0", None)
    assert [r.sequence_number for r in records] == [3] and last == 3 and behind >= 0


# --- resharding as on AWS -------------------------------------------------------------------------
def _hash_key(partition_key: str) -> int:
    return int(hashlib.md5(partition_key.encode()).hexdigest(), 16)  # Kinesis's own hash of a partition key


def _shards(name: str) -> dict[str, dict]:
    return {s["ShardId"]: s for s in _ok("ListShards", {"StreamName": name})["Shards"]}


def test_a_split_keeps_the_parents_records_and_sends_new_ones_to_the_children():
    _stream("split", 1)
    parent = "shardId-000000000000"
    before = _put("split", [b"old-%d" % i for i in range(100)])
    _ok("SplitShard", {"StreamName": "split", "ShardToSplit": parent, "NewStartingHashKey": str(2**127)})
    keys = [f"key-{i}" for i in range(300)]
    after = _put("split", [b"new-%d" % i for i in range(300)], keys)

    shards = _shards("split")
    assert set(shards) == {parent, "shardId-000000000001", "shardId-000000000002"}
    children = [s for s in shards.values() if s.get("ParentShardId") == parent]
    assert len(children) == 2 and not any("AdjacentParentShardId" in s for s in children)
    assert [int(c["HashKeyRange"]["StartingHashKey"]) for c in children] == [0, 2**127]
    # The parent keeps its records and their sequence numbers, and reports where it ended.
    records, replies = _read_all("split", parent, limit=30)
    assert [r["SequenceNumber"] for r in records] == [r["SequenceNumber"] for r in before]
    assert [base64.b64decode(r["Data"]) for r in records] == [b"old-%d" % i for i in range(100)]
    assert shards[parent]["SequenceNumberRange"]["EndingSequenceNumber"] == before[-1]["SequenceNumber"]
    assert all("NextShardIterator" in reply for reply in replies[:-1])
    assert "NextShardIterator" not in replies[-1] and replies[-1]["Records"]  # null with the last records
    assert {c["ShardId"] for c in replies[-1]["ChildShards"]} == {c["ShardId"] for c in children}
    # New records went to the open child whose range holds their hash key, and nowhere else.
    for key, put in zip(keys, after, strict=True):
        child = shards[put["ShardId"]]
        assert put["ShardId"] != parent
        assert int(child["HashKeyRange"]["StartingHashKey"]) <= _hash_key(key) <= int(
            child["HashKeyRange"]["EndingHashKey"])
    stored = [r for c in children for r in _read_all("split", c["ShardId"])[0]]
    assert sorted(base64.b64decode(r["Data"]) for r in stored) == sorted(b"new-%d" % i for i in range(300))


def test_a_merge_closes_both_parents_and_opens_one_child_over_both_ranges():
    _stream("merge", 2)
    low, high = "shardId-000000000000", "shardId-000000000001"
    before = _put("merge", [b"old-%d" % i for i in range(100)])
    _ok("MergeShards", {"StreamName": "merge", "ShardToMerge": high, "AdjacentShardToMerge": low})
    after = _put("merge", [b"new-%d" % i for i in range(50)])

    shards = _shards("merge")
    child = shards["shardId-000000000002"]
    assert child["ParentShardId"] == high and child["AdjacentParentShardId"] == low
    assert child["HashKeyRange"] == {"StartingHashKey": "0", "EndingHashKey": str(2**128 - 1)}
    assert {p["ShardId"] for p in after} == {child["ShardId"]}
    for shard_id in (low, high):
        records, replies = _read_all("merge", shard_id)
        assert [r["SequenceNumber"] for r in records] == [p["SequenceNumber"] for p in before
                                                          if p["ShardId"] == shard_id]
        assert shards[shard_id]["SequenceNumberRange"]["EndingSequenceNumber"] == records[-1]["SequenceNumber"]
        assert [c["ShardId"] for c in replies[-1]["ChildShards"]] == [child["ShardId"]]
    assert len(_read_all("merge", child["ShardId"])[0]) == 50


def test_a_closed_shard_read_past_its_end_answers_no_next_iterator():
    _stream("closed", 1)
    parent = "shardId-000000000000"
    last = _put("closed", [b"x"] * 5)[-1]["SequenceNumber"]
    open_iterator = _shard_iterator("closed", parent, "LATEST")
    assert _ok("GetRecords", {"ShardIterator": open_iterator})["NextShardIterator"]  # open: never null
    _ok("SplitShard", {"StreamName": "closed", "ShardToSplit": parent, "NewStartingHashKey": "1000"})

    for iterator in (open_iterator, _shard_iterator("closed", parent, "LATEST"),
                     _shard_iterator("closed", parent, "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=last)):
        reply = _ok("GetRecords", {"ShardIterator": iterator})
        assert reply["Records"] == [] and "NextShardIterator" not in reply and len(reply["ChildShards"]) == 2
    # An empty closed parent (split before any record) ends at once too.
    _stream("empty", 1)
    _ok("SplitShard", {"StreamName": "empty", "ShardToSplit": parent, "NewStartingHashKey": "1000"})
    reply = _ok("GetRecords", {"ShardIterator": _shard_iterator("empty", parent)})
    assert reply["Records"] == [] and "NextShardIterator" not in reply


def test_a_closed_shard_cannot_be_split_or_merged_again_and_merges_need_neighbours():
    _stream("rules", 3)
    status, reply = _request("MergeShards", {"StreamName": "rules", "ShardToMerge": "shardId-000000000000",
                                             "AdjacentShardToMerge": "shardId-000000000002"})
    assert status == 400 and "adjacent" in reply["message"]
    _ok("SplitShard", {"StreamName": "rules", "ShardToSplit": "shardId-000000000000", "NewStartingHashKey": "1000"})
    status, reply = _request("SplitShard", {"StreamName": "rules", "ShardToSplit": "shardId-000000000000",
                                            "NewStartingHashKey": "2000"})
    assert status == 400 and "already been merged or split" in reply["message"]
    status, reply = _request("MergeShards", {"StreamName": "rules", "ShardToMerge": "shardId-000000000000",
                                             "AdjacentShardToMerge": "shardId-000000000001"})
    assert status == 400


def test_update_shard_count_reshards_the_same_way():
    _stream("scale", 1)
    before = _put("scale", [b"x"] * 20)
    _ok("UpdateShardCount", {"StreamName": "scale", "TargetShardCount": 2, "ScalingType": "UNIFORM_SCALING"})
    shards = _shards("scale")
    assert len(shards) == 3
    assert [r["SequenceNumber"] for r in _read_all("scale", "shardId-000000000000")[0]] == [
        r["SequenceNumber"] for r in before]
    summary = _ok("DescribeStreamSummary", {"StreamName": "scale"})["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 2
