"""moto's server with seven fixes for how the workbench uses it; run as ``python -m pipeline.stack.moto_server``.

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
6. GetRecords answers at most 10,000 records and 10 MiB of data (record data plus partition key), as
   Kinesis does: moto answered every record after the iterator (hundreds of MB in one reply when no
   ``Limit`` was given) and had no size cap. A reply stops before the record that would take it past
   10 MiB (it always holds at least one record when one is there); ``Limit`` is still honoured.
7. Resharding as on AWS. moto's SplitShard takes the parent's records out and puts them again (new
   sequence numbers, so a trigger that read them stores them twice), its MergeShards copies both
   parents' records into the child, and new records keep going to the first shard whose hash key
   range holds them, closed or not (measured: 100 records, split, 300 more -> parent 400, children
   0). Here a split or merge closes the parent(s), which keep their records and sequence numbers
   (ListShards reports their ``EndingSequenceNumber``); the children start empty, with
   ``ParentShardId`` (and ``AdjacentParentShardId`` for a merge); every put goes to the one open
   shard whose hash key range holds the record's hash key. GetRecords on a closed shard answers
   ``NextShardIterator`` null (and ``ChildShards``) once the reply reaches the shard's last record.
   Puts, splits, merges and reads share one lock, so no record lands in a parent after it closed.
"""

from __future__ import annotations

import json
import threading
import time
from operator import attrgetter
from typing import Any

from moto.awslambda.models import LambdaBackend
from moto.core.serialize import TimestampSerializer
from moto.kinesis.exceptions import InvalidArgumentError
from moto.kinesis.models import KinesisBackend, Record, Shard, Stream
from moto.kinesis.responses import KinesisResponse
from moto.kinesis.utils import compose_shard_iterator, decompose_shard_iterator
from moto.server import main
from moto.utilities.utils import md5_hash

# Puts, reshards and reads of every stream: reentrant, since a routed put takes it, then the shard's put.
_put_lock = threading.RLock()

MAX_GET_RECORDS = 10_000  # Kinesis: GetRecords returns at most 10,000 records ...
MAX_GET_RECORDS_BYTES = 10 * 1024 * 1024  # ... and at most 10 MiB of data per call


def _max_sequence_number(self: Shard) -> int:
    return next(reversed(self.records), 0)


def _put_record(self: Shard, partition_key: str, data: str, explicit_hash_key: str) -> str:
    with _put_lock:
        last = next(reversed(self.records), None)
        sequence_number = last + 1 if last is not None else time.time_ns()
        self.records[sequence_number] = Record(partition_key, data, sequence_number, explicit_hash_key)
        return str(sequence_number)


def _record_size(record: Record) -> int:
    """Bytes of data (stored base64-encoded) plus partition key, as Kinesis counts a record."""
    data = record.data
    size = len(data) * 3 // 4 - data[-2:].count("=") if isinstance(data, str) else len(data)
    return size + len(record.partition_key.encode("utf-8"))


def _within_size_cap(records: list[Record]) -> list[Record]:
    """The longest prefix holding at most 10 MiB (at least one record)."""
    total = 0
    for index, record in enumerate(records):
        total += _record_size(record)
        if index and total > MAX_GET_RECORDS_BYTES:
            return records[:index]
    return records


_scan_get_records = Shard.get_records
_serialized_get_records = KinesisResponse.get_records


def _capped_scan(self: Shard, last_sequence_id: str, limit: int) -> tuple[list[Record], int, int]:
    """moto's own scan, within the size cap."""
    results, last, millis_behind = _scan_get_records(self, last_sequence_id, limit)
    capped = _within_size_cap(results)
    if len(capped) == len(results):
        return results, last, millis_behind
    newest = self.records[next(reversed(self.records))]
    return capped, capped[-1].sequence_number, int((newest.created_at - capped[-1].created_at) * 1000)


def _get_records(self: Shard, last_sequence_id: str, limit: int | None) -> tuple[list[Record], int, int]:
    limit = MAX_GET_RECORDS if limit is None else max(1, min(int(limit), MAX_GET_RECORDS))
    with _put_lock:  # a put adding to the ordered dict while it is read could break the read
        records = self.records
        last = int(last_sequence_id)
        if not records:
            return [], last, 0
        newest = next(reversed(records))
        start = max(last + 1, next(iter(records)))
        results: list[Record] = []
        total = 0
        for number in range(start, min(newest, start + limit - 1) + 1):
            record = records.get(number)
            if record is None:  # numbered by moto itself (a gap): its own scan
                return _capped_scan(self, last_sequence_id, limit)
            total += _record_size(record)
            if results and total > MAX_GET_RECORDS_BYTES:
                break
            results.append(record)
        if not results:
            return [], last, 0
        behind = records[newest].created_at - results[-1].created_at
        return results, results[-1].sequence_number, int(behind * 1000)


def _backend_get_records(self: KinesisBackend, stream_arn: str | None, shard_iterator: str,
                         limit: int | None) -> tuple[str | None, list[Record], int]:
    """moto's, except that a closed shard read to its end answers no next iterator (as on AWS)."""
    stream_name, shard_id, last_sequence_id = decompose_shard_iterator(shard_iterator)
    stream = self.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
    shard = stream.get_shard(shard_id)
    records, last, millis_behind = shard.get_records(last_sequence_id, limit)
    # A shard is closed under the lock and no put reaches it afterwards: its last record is final.
    if not shard.is_open and int(last) >= shard.get_max_sequence_number():
        return None, records, millis_behind
    return compose_shard_iterator(stream_name, shard, last), records, millis_behind


_epoch_ms = TimestampSerializer._timestamp_unixtimestamp  # moto's own: seconds, truncated to milliseconds


def _child_shards(backend: KinesisBackend, stream_arn: str | None, shard_iterator: str) -> list[dict[str, Any]]:
    """GetRecords' ``ChildShards``, sent (as on AWS) with the reply that ends a closed shard."""
    stream_name, shard_id, _ = decompose_shard_iterator(shard_iterator)
    stream = backend.describe_stream(stream_arn=stream_arn, stream_name=stream_name)
    return [{"ShardId": child.shard_id,
             "ParentShards": [p for p in (child.parent, child.adjacent_parent) if p],
             "HashKeyRange": {"StartingHashKey": str(child.starting_hash), "EndingHashKey": str(child.ending_hash)}}
            for child in stream.shards.values() if shard_id in (child.parent, child.adjacent_parent)]


def _get_records_json(self: KinesisResponse) -> Any:
    if "cbor" in self.headers.get("Content-Type", ""):
        return _serialized_get_records(self)
    stream_arn, shard_iterator = self._get_param("StreamARN"), self._get_param("ShardIterator")
    next_iterator, records, millis_behind = self.kinesis_backend.get_records(
        stream_arn, shard_iterator, self._get_param("Limit")
    )
    body: dict[str, Any] = {
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
    if next_iterator is None:
        del body["NextShardIterator"]
        body["ChildShards"] = _child_shards(self.kinesis_backend, stream_arn, shard_iterator)
    return json.dumps(body), {"Content-Type": "application/x-amz-json-1.1"}


def _no_kinesis_invoke(self: LambdaBackend, *args: Any, **kwargs: Any) -> None:
    """The local trigger delivers Kinesis records to the function; moto need not (and cannot)."""


# --- resharding (fix 7) ---------------------------------------------------------------------------
_stream_put_record = Stream.put_record


def _routed_put_record(self: Stream, partition_key: str, explicit_hash_key: str, data: str) -> tuple[str, str]:
    with _put_lock:  # the shard is chosen and written under the lock a split or merge takes
        return _stream_put_record(self, partition_key, explicit_hash_key, data)


def _shard_for_key(self: Stream, partition_key: str, explicit_hash_key: str) -> Shard | None:
    """The open shard whose hash key range (both ends included) holds the record's hash key."""
    if not isinstance(partition_key, str) or len(partition_key) > 256:
        raise InvalidArgumentError("partition_key")
    if explicit_hash_key:
        if not isinstance(explicit_hash_key, str):
            raise InvalidArgumentError("explicit_hash_key")
        key = int(explicit_hash_key)
        if key >= 2**128:
            raise InvalidArgumentError("explicit_hash_key")
    else:
        key = int(md5_hash(partition_key.encode("utf-8")).hexdigest(), 16)
    return next((s for s in self.shards.values() if s.is_open and s.starting_hash <= key <= s.ending_hash), None)


def _closed_error(stream: Stream, shard: Shard) -> InvalidArgumentError:
    return InvalidArgumentError(message=f"Shard {shard.shard_id} in stream {stream.stream_name} under account "
                                        f"{stream.account_id} has already been merged or split, and thus is not "
                                        "eligible for merging or splitting.")


def _next_shard_index(stream: Stream) -> int:
    return max(stream.shards.values(), key=attrgetter("_shard_id"))._shard_id + 1


def _split_shard(self: Stream, shard_to_split: str, new_starting_hash_key: str) -> None:
    """Close the parent (it keeps its records) and open two empty children over its hash key range."""
    with _put_lock:
        shard = self.shards[shard_to_split]
        split_at = int(new_starting_hash_key)
        if not shard.starting_hash < split_at < shard.ending_hash:
            raise InvalidArgumentError(
                message=f"NewStartingHashKey {split_at} used in SplitShard() on shard {shard_to_split} in stream "
                        f"{self.stream_name} under account {self.account_id} is not both greater than one plus "
                        f"the shard's StartingHashKey {shard.starting_hash} and less than the shard's "
                        f"EndingHashKey {shard.ending_hash - 1}.")
        if not shard.is_open:
            raise _closed_error(self, shard)
        index = _next_shard_index(self)
        for offset, (low, high) in enumerate(((shard.starting_hash, split_at - 1), (split_at, shard.ending_hash))):
            child = Shard(index + offset, low, high, parent=shard.shard_id)
            self.shards[child.shard_id] = child
        shard.is_open = False
        self.shard_count = sum(s.is_open for s in self.shards.values())


def _merge_shards(self: Stream, shard_to_merge: str, adjacent_shard_to_merge: str) -> None:
    """Close both parents (they keep their records) and open one empty child over both ranges."""
    with _put_lock:
        shard, adjacent = self.shards[shard_to_merge], self.shards[adjacent_shard_to_merge]
        low, high = sorted((shard, adjacent), key=attrgetter("starting_hash"))
        if shard is adjacent or low.ending_hash + 1 != high.starting_hash:
            raise InvalidArgumentError(
                message=f"Shards {shard_to_merge} and {adjacent_shard_to_merge} in stream {self.stream_name} "
                        f"under account {self.account_id} are not an adjacent pair of shards eligible for merging")
        for parent in (shard, adjacent):
            if not parent.is_open:
                raise _closed_error(self, parent)
        child = Shard(_next_shard_index(self), low.starting_hash, high.ending_hash, parent=shard.shard_id,
                      adjacent_parent=adjacent.shard_id)
        self.shards[child.shard_id] = child
        shard.is_open = adjacent.is_open = False
        self.shard_count = sum(s.is_open for s in self.shards.values())


Shard.get_max_sequence_number = _max_sequence_number  # type: ignore[method-assign]
Shard.put_record = _put_record  # type: ignore[method-assign]
LambdaBackend.send_kinesis_message = _no_kinesis_invoke  # type: ignore[method-assign]
Shard.get_records = _get_records  # type: ignore[method-assign]
KinesisBackend.get_records = _backend_get_records  # type: ignore[method-assign]
KinesisResponse.get_records = _get_records_json  # type: ignore[method-assign]
Stream.put_record = _routed_put_record  # type: ignore[method-assign]
Stream.get_shard_for_key = _shard_for_key  # type: ignore[method-assign]
Stream.split_shard = _split_shard  # type: ignore[method-assign]
Stream.merge_shards = _merge_shards  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
