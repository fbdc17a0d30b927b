"""One shard's poller: reads it in order and invokes the function with one batch at a time.

GetRecords at most 5 calls/s, batches up to BatchSize records and 6 MB of payload, at most
MaximumBatchingWindowInSeconds of waiting for a fuller batch; what happens after each invocation is
``pipeline.ingest.retry``'s decision. A closed shard (split or merged) answers a null
``NextShardIterator`` once read to its end: when every record read is done too, the poller marks the
shard finished in the checkpoint file and tells the mapping, which then starts the shard's children.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from pipeline.ingest.events import batch_info, kinesis_event
from pipeline.ingest.retry import Outcome, decide, expired
from pipeline.ingest.runtime import LambdaContext

if TYPE_CHECKING:
    from pipeline.ingest.mapping import EventSourceMapping

log = logging.getLogger("pipeline.ingest")

MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
GET_RECORDS_INTERVAL_S = 0.2  # Kinesis allows 5 GetRecords calls per second per shard
RECORD_OVERHEAD_BYTES = 420  # the JSON around each record's data in the event


class ShardPoller(threading.Thread):
    """Reads one shard and invokes the handler with one batch at a time."""

    def __init__(self, mapping: EventSourceMapping, shard_id: str, starting_position: str | None = None) -> None:
        super().__init__(name=f"poller-{shard_id}", daemon=True)
        self.mapping = mapping
        self.shard_id = shard_id
        self.config = mapping.config
        # Where to start without a checkpoint: the mapping's StartingPosition, or TRIM_HORIZON for the
        # child of a shard this mapping read (its records all come after the parent's).
        self.starting_position = starting_position or self.config.starting_position
        self.idle_since: float | None = None
        self.error: BaseException | None = None
        self._buffer: deque[dict[str, Any]] = deque()
        self._last_call = 0.0
        self._caught_up = False

    # --- reading -------------------------------------------------------------------------------
    def _iterator(self) -> str:
        kinesis, stream = self.mapping.kinesis, self.mapping.stream_name
        args: dict[str, Any] = {"StreamName": stream, "ShardId": self.shard_id}
        checkpoint = self.mapping.checkpoints.get(self.shard_id)
        if checkpoint is not None:
            args |= {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "StartingSequenceNumber": checkpoint}
        elif self.starting_position == "AT_TIMESTAMP":
            if self.config.starting_timestamp is None:
                raise ValueError("StartingPosition AT_TIMESTAMP needs a starting timestamp")
            args |= {"ShardIteratorType": "AT_TIMESTAMP", "Timestamp": self.config.starting_timestamp}
        else:
            args |= {"ShardIteratorType": self.starting_position}
        return kinesis.get_shard_iterator(**args)["ShardIterator"]

    def _fetch(self, iterator: str | None) -> str | None:
        wait = self._last_call + GET_RECORDS_INTERVAL_S - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_call = time.monotonic()
        response = self.mapping.kinesis.get_records(ShardIterator=iterator, Limit=10_000)
        self._buffer.extend(response["Records"])
        self._caught_up = not response["Records"] and response.get("MillisBehindLatest", 0) == 0
        return response.get("NextShardIterator")

    def _take_batch(self) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        size = 0
        while self._buffer and len(batch) < self.config.batch_size:
            record_size = 4 * ((len(self._buffer[0]["Data"]) + 2) // 3) + RECORD_OVERHEAD_BYTES
            if batch and size + record_size > MAX_PAYLOAD_BYTES:
                break
            batch.append(self._buffer.popleft())
            size += record_size
        return batch

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # noqa: BLE001 - reported by the mapping, which stops the others
            self.error = exc
            self.mapping.stop_event.set()

    def _run(self) -> None:
        stop = self.mapping.stop_event
        iterator: str | None = self._iterator()
        window_started: float | None = None
        while not stop.is_set():
            if iterator is not None and len(self._buffer) < self.config.batch_size:
                iterator = self._fetch(iterator)
            if self._buffer:
                self.idle_since = None
                window_started = window_started or time.monotonic()
                full = len(self._buffer) >= self.config.batch_size
                window_over = time.monotonic() - window_started >= self.config.max_batching_window_s
                if full or window_over or iterator is None:
                    self._process(self._take_batch())
                    window_started = time.monotonic() if self._buffer else None
                continue
            if iterator is None:  # shard closed (resharded), read to its end and every record done
                self._finish()
                return
            if self._caught_up:
                self.idle_since = self.idle_since or time.monotonic()

    def _finish(self) -> None:
        self.mapping.checkpoints.finish(self.shard_id)
        self.idle_since = time.monotonic()  # news: the mapping lists the shards again before it may end idle
        log.info("%s: closed and drained; its children may be read", self.shard_id)
        self.mapping.shard_ended.set()

    # --- invoking ------------------------------------------------------------------------------
    def _invoke(self, records: list[dict[str, Any]]) -> Outcome:
        m = self.mapping
        context = LambdaContext(m.function_name, m.region)
        m.stats.add(invocations=1)
        event = kinesis_event(records, shard_id=self.shard_id, role_arn=m.role_arn, region=m.region,
                              stream_arn=m.stream_arn)
        try:
            result = m.handler(event, context)
        except Exception as exc:  # noqa: BLE001 - a function error, as Lambda reports it
            log.warning("%s: function error on %d records: %s", self.shard_id, len(records), exc)
            m.stats.add(function_errors=1)
            return Outcome(ok=False, error=f"{type(exc).__name__}: {exc}")
        if not self.config.report_batch_item_failures or not isinstance(result, dict):
            return Outcome(ok=True)
        failures = result.get("batchItemFailures") or []
        if not failures:
            return Outcome(ok=True)
        positions = {r["SequenceNumber"]: i for i, r in enumerate(records)}
        try:
            lowest = min(positions[f["itemIdentifier"]] for f in failures)
        except (KeyError, TypeError):  # an unknown or missing identifier: AWS fails the whole batch
            m.stats.add(function_errors=1)
            return Outcome(ok=False, error=f"invalid batchItemFailures: {str(failures)[:200]}")
        m.stats.add(partial_failures=1)
        return Outcome(ok=False, failed_from=lowest, error="partial batch failure")

    def _process(self, records: list[dict[str, Any]]) -> None:
        """Deliver ``records`` (contiguous, in shard order) until success or discard."""
        attempts = 0
        pending = records
        stop = self.mapping.stop_event
        while pending:
            if stop.is_set():
                return  # not checkpointed: the next start delivers these again
            if expired(pending[0]["ApproximateArrivalTimestamp"], self.config):
                self._discard(pending, "RecordAgeExceeded", attempts + 1)
                return
            decision = decide(self._invoke(pending), len(pending), attempts, self.config)
            attempts = decision.attempts
            if decision.action == "done":
                self._done(pending)
                return
            if decision.action == "resume":
                self._done(pending[: decision.split_at])
                pending = pending[decision.split_at:]
                continue
            if decision.action == "bisect":
                self._process(pending[: decision.split_at])
                self._process(pending[decision.split_at:])
                return
            if decision.action == "discard":
                self._discard(pending, decision.condition, decision.attempts)
                return
            stop.wait(decision.delay_s * (0.5 + random.random()))  # noqa: S311 - jitter

    def _done(self, records: list[dict[str, Any]]) -> None:
        if records:
            self.mapping.checkpoints.set(self.shard_id, records[-1]["SequenceNumber"])
            self.mapping.stats.add(records=len(records))

    def _discard(self, records: list[dict[str, Any]], condition: str, invoke_count: int) -> None:
        """Send the batch's description to the on-failure destination, then move past it."""
        m = self.mapping
        info = batch_info(records, shard_id=self.shard_id, condition=condition, invoke_count=invoke_count,
                          function_arn=m.function_arn, stream_arn=m.stream_arn)
        if m.failure_queue_url is None:
            log.error("%s: discarding %d records (%s) and no on-failure destination is set", self.shard_id,
                      len(records), condition)
        else:
            m.sqs.send_message(QueueUrl=m.failure_queue_url, MessageBody=json.dumps(info))
            log.warning("%s: %d records discarded (%s), described in the failure queue", self.shard_id,
                        len(records), condition)
        m.stats.add(discarded_batches=1, discarded_records=len(records))
        m.checkpoints.set(self.shard_id, records[-1]["SequenceNumber"])
