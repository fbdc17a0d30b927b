"""The two documents of a Kinesis trigger: the event a function receives, and the ``KinesisBatchInfo``
record that describes a discarded batch to the on-failure destination (shapes as AWS sends them)."""

from __future__ import annotations

import base64
import datetime as dt
import uuid
from typing import Any

_ISO_MS = "%Y-%m-%dT%H:%M:%S.%f"


def _iso_ms(moment: dt.datetime) -> str:
    """UTC to the millisecond; boto3 gives arrival times in the host's zone."""
    return moment.astimezone(dt.UTC).strftime(_ISO_MS)[:-3] + "Z"


def kinesis_event(records: list[dict[str, Any]], *, shard_id: str, role_arn: str, region: str,
                  stream_arn: str) -> dict[str, Any]:
    """The ``{"Records": [...]}`` event for GetRecords records of one shard."""
    return {"Records": [{
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": r["PartitionKey"],
            "sequenceNumber": r["SequenceNumber"],
            "data": base64.b64encode(r["Data"]).decode("ascii"),
            "approximateArrivalTimestamp": r["ApproximateArrivalTimestamp"].timestamp(),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{r['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role_arn,
        "awsRegion": region,
        "eventSourceARN": stream_arn,
    } for r in records]}


def batch_info(records: list[dict[str, Any]], *, shard_id: str, condition: str, invoke_count: int,
               function_arn: str, stream_arn: str) -> dict[str, Any]:
    """The on-failure destination's record of a discarded batch: where it was, not what it held."""
    return {
        "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": function_arn,
                           "condition": condition, "approximateInvokeCount": invoke_count},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": _iso_ms(dt.datetime.now(dt.UTC)),
        "KinesisBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": records[0]["SequenceNumber"],
            "endSequenceNumber": records[-1]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": _iso_ms(records[0]["ApproximateArrivalTimestamp"]),
            "approximateArrivalOfLastRecord": _iso_ms(records[-1]["ApproximateArrivalTimestamp"]),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }
