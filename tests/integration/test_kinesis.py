"""Kinesis on the local endpoint: the calls the generator and the trigger make, for real."""

from __future__ import annotations

import json

import boto3
import pytest

pytestmark = pytest.mark.stack


def test_put_records_then_get_records_round_trip(stack, unique_name):
    client = boto3.client("kinesis", **stack.boto3_kwargs())
    client.create_stream(StreamName=unique_name, ShardCount=2)
    client.get_waiter("stream_exists").wait(StreamName=unique_name, WaiterConfig={"Delay": 0.2})
    sent = [{"i": i, "service": ["auth", "payment"][i % 2]} for i in range(50)]

    response = client.put_records(
        StreamName=unique_name,
        Records=[{"Data": json.dumps(r).encode(), "PartitionKey": f"key-{r['i']}"} for r in sent],
    )

    assert response["FailedRecordCount"] == 0
    received = []
    shards = client.list_shards(StreamName=unique_name)["Shards"]
    assert len(shards) == 2
    for shard in shards:
        iterator = client.get_shard_iterator(StreamName=unique_name, ShardId=shard["ShardId"],
                                             ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        batch = client.get_records(ShardIterator=iterator, Limit=1000)
        received += [json.loads(r["Data"]) for r in batch["Records"]]
    assert sorted(received, key=lambda r: r["i"]) == sent
    client.delete_stream(StreamName=unique_name)


def test_stack_provisions_the_pipeline_stream(stack):
    client = boto3.client("kinesis", **stack.boto3_kwargs())
    summary = client.describe_stream_summary(StreamName=stack.stream_name)["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "ACTIVE"
    assert summary["OpenShardCount"] == stack.shard_count
