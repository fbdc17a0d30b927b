"""The documents of a Kinesis trigger: the function's event and a discarded batch's KinesisBatchInfo."""

from __future__ import annotations

import base64
import datetime as dt
import json

from pipeline.ingest.events import batch_info, kinesis_event
from pipeline.settings import PROJECT_ROOT

SHARD = "shardId-000000000001"
STREAM_ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/log-stream"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:log-ingest"
ROLE_ARN = "arn:aws:iam::123456789012:role/log-ingest"
FIRST_ARRIVAL = dt.datetime(2026, 11, 27, 10, 0, 0, 123456, tzinfo=dt.UTC)


def _records(count: int = 3) -> list[dict]:
    """Records as boto3's GetRecords returns them."""
    return [{"SequenceNumber": f"4959033827149025660855969253836157109592157598913658{n:04d}",
             "PartitionKey": f"key-{n}",
             "Data": json.dumps({"n": n}).encode() + b"\x00\xff",
             "ApproximateArrivalTimestamp": FIRST_ARRIVAL + dt.timedelta(seconds=n)} for n in range(count)]


def _event(records: list[dict]) -> dict:
    return kinesis_event(records, shard_id=SHARD, role_arn=ROLE_ARN, region="us-east-1", stream_arn=STREAM_ARN)


def _info(records: list[dict], **overrides: object) -> dict:
    arguments = {"shard_id": SHARD, "condition": "RetryAttemptsExhausted", "invoke_count": 4,
                 "function_arn": FUNCTION_ARN, "stream_arn": STREAM_ARN} | overrides
    return batch_info(records, **arguments)


def test_event_has_the_shape_aws_sends():
    recorded = json.loads((PROJECT_ROOT / "tests" / "fixtures" / "aws_kinesis_event.json").read_text())
    expected = recorded["Records"][0]

    item = _event(_records(1))["Records"][0]

    assert item.keys() == expected.keys()
    assert item["kinesis"].keys() == expected["kinesis"].keys()
    assert (item["eventSource"], item["eventVersion"], item["kinesis"]["kinesisSchemaVersion"]) == (
        "aws:kinesis", "1.0", "1.0")
    assert (item["eventName"], item["invokeIdentityArn"], item["awsRegion"], item["eventSourceARN"]) == (
        "aws:kinesis:record", ROLE_ARN, "us-east-1", STREAM_ARN)


def test_event_keeps_each_record_in_order_with_its_id_key_and_bytes():
    records = _records()
    items = _event(records)["Records"]

    assert len(items) == len(records)
    for item, record in zip(items, records, strict=True):
        assert item["eventID"] == f"{SHARD}:{record['SequenceNumber']}"
        assert item["kinesis"]["sequenceNumber"] == record["SequenceNumber"]
        assert item["kinesis"]["partitionKey"] == record["PartitionKey"]
        assert base64.b64decode(item["kinesis"]["data"], validate=True) == record["Data"]


def test_arrival_is_epoch_seconds():
    item = _event(_records(1))["Records"][0]
    arrival = item["kinesis"]["approximateArrivalTimestamp"]
    assert isinstance(arrival, float)
    assert dt.datetime.fromtimestamp(arrival, dt.UTC) == FIRST_ARRIVAL


def test_event_of_no_records_is_empty():
    assert _event([]) == {"Records": []}


def test_batch_info_says_where_the_discarded_batch_was():
    records = _records(5)
    info = _info(records)

    batch = info["KinesisBatchInfo"]
    assert batch["shardId"] == SHARD
    assert batch["startSequenceNumber"] == records[0]["SequenceNumber"]
    assert batch["endSequenceNumber"] == records[-1]["SequenceNumber"]
    assert batch["batchSize"] == 5
    assert batch["streamArn"] == STREAM_ARN
    assert batch["approximateArrivalOfFirstRecord"] == "2026-11-27T10:00:00.123Z"
    assert batch["approximateArrivalOfLastRecord"] == "2026-11-27T10:00:04.123Z"
    context = info["requestContext"]
    assert (context["condition"], context["approximateInvokeCount"], context["functionArn"]) == (
        "RetryAttemptsExhausted", 4, FUNCTION_ARN)
    assert "Data" not in json.dumps(info) and "key-0" not in json.dumps(info)


def test_batch_info_timestamp_is_now_in_iso_z_with_milliseconds():
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    info = _info(_records(1), condition="RecordAgeExceeded", invoke_count=1)
    after = dt.datetime.now(dt.UTC)

    stamp = info["timestamp"]
    assert stamp.endswith("Z") and len(stamp) == len("2026-11-27T10:00:00.000Z")
    assert before <= dt.datetime.fromisoformat(stamp[:-1] + "+00:00") <= after
    assert info["requestContext"]["condition"] == "RecordAgeExceeded"


def test_each_batch_info_has_its_own_request_id():
    records = _records(1)
    assert _info(records)["requestContext"]["requestId"] != _info(records)["requestContext"]["requestId"]
