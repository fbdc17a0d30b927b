"""The launcher's GetRecords fast path answers exactly what moto's own code answers.

moto runs in-process here (its WSGI app, no socket); each request is made twice, once through the
patched path and once through moto's originals, and the parsed replies must be equal.
"""

from __future__ import annotations

import base64
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
