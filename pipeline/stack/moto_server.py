"""moto's server with five fixes for how the workbench uses it; run as ``python -m pipeline.stack.moto_server``.

1. ``Shard.get_max_sequence_number`` copies the shard's whole key list on every PutRecords entry, so
   putting records gets slower with every record already stored (14,000/s falling to 930/s over
   50,000 records on one machine). The last key of the ordered dict is read directly instead.
2. ``Shard.put_record`` is, in moto's own words, "not safe for concurrency": concurrent PutRecords
   calls (the server is threaded) can give two records the same sequence number, and one is lost.
   It runs under a lock.
3. moto numbers each shard's records 1, 2, 3...: a stream created again (moto keeps nothing across a
   restart) or another stream with the same shard ids repeats the same ``eventID``s
   (``shardId:sequenceNumber``), which the idempotent Lambda then takes for records it already
   stored, and drops. As on AWS, sequence numbers here are large and never repeat: a shard's first
   record is numbered from the clock (nanoseconds), the next ones count up from there.
4. After ``lambda deploy``, moto tries to run the function (in Docker, absent here) for every
   record put on the mapped stream. The local trigger (``python -m pipeline lambda run``) plays
   the event source mapping instead, so moto's attempt is switched off.
5. GetRecords was the ceiling of every reader (Flink, the trigger): moto scans a shard from its
   first record to find where an iterator points, then builds the reply with its generic,
   model-driven serializer, which spent 90% of the 0.5-0.8 s it took per 10,000 records (about
   15,000 records/s per server, measured). Sequence numbers here are consecutive (fix 3), so the
   next record is looked up by number, and the JSON reply is written directly, with the same
   fields and types as moto's (base64 ``Data``, string ``SequenceNumber``, epoch-seconds
   ``ApproximateArrivalTimestamp`` truncated to milliseconds; tests/unit/test_moto_server.py
   compares the two). A CBOR request still takes moto's own path.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from moto.awslambda.models import LambdaBackend
from moto.core.serialize import TimestampSerializer
from moto.kinesis.models import Record, Shard
from moto.kinesis.responses import KinesisResponse
from moto.server import main

_put_lock = threading.Lock()


def _max_sequence_number(self: Shard) -> int:
    return next(reversed(self.records), 0)


def _put_record(self: Shard, partition_key: str, data: str, explicit_hash_key: str) -> str:
    with _put_lock:
        last = next(reversed(self.records), None)
        sequence_number = last + 1 if last is not None else time.time_ns()
        self.records[sequence_number] = Record(partition_key, data, sequence_number, explicit_hash_key)
        return str(sequence_number)


_scan_get_records = Shard.get_records
_serialized_get_records = KinesisResponse.get_records


def _get_records(self: Shard, last_sequence_id: str, limit: int | None) -> tuple[list[Record], int, int]:
    with _put_lock:  # a put adding to the ordered dict while it is read could break the read
        records = self.records
        last = int(last_sequence_id)
        if not records:
            return [], last, 0
        newest = next(reversed(records))
        start = max(last + 1, next(iter(records)))
        stop = newest if limit is None else min(newest, start + limit - 1)
        try:
            results = [records[n] for n in range(start, stop + 1)]
        except KeyError:  # numbered by moto itself (a gap): its own scan
            return _scan_get_records(self, last_sequence_id, limit)
        if not results:
            return [], last, 0
        behind = records[newest].created_at - results[-1].created_at
        return results, results[-1].sequence_number, int(behind * 1000)


_epoch_ms = TimestampSerializer._timestamp_unixtimestamp  # moto's own: seconds, truncated to milliseconds


def _get_records_json(self: KinesisResponse) -> Any:
    if "cbor" in self.headers.get("Content-Type", ""):
        return _serialized_get_records(self)
    next_iterator, records, millis_behind = self.kinesis_backend.get_records(
        self._get_param("StreamARN"), self._get_param("ShardIterator"), self._get_param("Limit")
    )
    body = {
        "NextShardIterator": next_iterator,
        "Records": [
            {
                "Data": record.data,
                "PartitionKey": record.partition_key,
                "SequenceNumber": str(record.sequence_number),
                "ApproximateArrivalTimestamp": _epoch_ms(record.created_at_datetime),
            }
            for record in records
        ],
        "MillisBehindLatest": millis_behind,
    }
    return json.dumps(body), {"Content-Type": "application/x-amz-json-1.1"}


def _no_kinesis_invoke(self: LambdaBackend, *args: Any, **kwargs: Any) -> None:
    """The local trigger delivers Kinesis records to the function; moto need not (and cannot)."""


Shard.get_max_sequence_number = _max_sequence_number  # type: ignore[method-assign]
Shard.put_record = _put_record  # type: ignore[method-assign]
LambdaBackend.send_kinesis_message = _no_kinesis_invoke  # type: ignore[method-assign]
Shard.get_records = _get_records  # type: ignore[method-assign]
KinesisResponse.get_records = _get_records_json  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
