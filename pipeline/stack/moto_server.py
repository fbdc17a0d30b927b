"""moto's server with four fixes for how the workbench uses it; run as ``python -m pipeline.stack.moto_server``.

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
"""

from __future__ import annotations

import threading
import time
from typing import Any

from moto.awslambda.models import LambdaBackend
from moto.kinesis.models import Record, Shard
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


def _no_kinesis_invoke(self: LambdaBackend, *args: Any, **kwargs: Any) -> None:
    """The local trigger delivers Kinesis records to the function; moto need not (and cannot)."""


Shard.get_max_sequence_number = _max_sequence_number  # type: ignore[method-assign]
Shard.put_record = _put_record  # type: ignore[method-assign]
LambdaBackend.send_kinesis_message = _no_kinesis_invoke  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
