"""The Kinesis event source mapping, reproduced locally: it calls the real Lambda handler in-process.

moto stores Lambda functions but never runs them, so this module does what AWS's poller does for a
Kinesis trigger, with the same settings (``Settings.batch_size`` and friends, also used by
``lambda deploy``):

- one poller thread per shard, one batch in flight per shard, GetRecords at most 5 calls/s per shard;
- StartingPosition TRIM_HORIZON, LATEST or AT_TIMESTAMP; BatchSize; MaximumBatchingWindowInSeconds;
  a 6 MB payload cap per invocation; the event shape of a real Kinesis event;
- on a function error the batch is retried (the shard waits) until it succeeds, MaximumRetryAttempts
  or MaximumRecordAgeInSeconds; BisectBatchOnFunctionError splits it (splitting does not consume
  retries); with ReportBatchItemFailures processing resumes at the lowest failed sequence number;
  a discarded batch goes to the on-failure destination (an SQS queue) as a ``KinesisBatchInfo``;
- the checkpoint (last fully processed sequence number per shard) is written after every batch and
  survives a restart. Delivery is at least once; the handler is idempotent.

One deliberate addition: when a batch resumed at a failed record fails at that same first record
again and bisection is on, it is split like a batch that raised, so one poison record is isolated
and the rest of the shard goes through.
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib
import importlib.util
import json
import logging
import os
import random
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from pipeline.settings import PROJECT_ROOT, Settings

log = logging.getLogger("pipeline.trigger")

Handler = Callable[[dict[str, Any], Any], Any]
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024
GET_RECORDS_INTERVAL_S = 0.2  # Kinesis allows 5 GetRecords calls per second per shard
RECORD_OVERHEAD_BYTES = 420  # the JSON around each record's data in the event
DEFAULT_HANDLER = f"{PROJECT_ROOT / 'lambda' / 'handler.py'}:handler"


@dataclass(frozen=True)
class TriggerConfig:
    """The event source mapping's settings; the deployed mapping gets the same values."""

    batch_size: int = 100
    max_batching_window_s: float = 0.0
    starting_position: str = "TRIM_HORIZON"
    starting_timestamp: dt.datetime | None = None
    max_retry_attempts: int = -1
    max_record_age_s: int = -1
    bisect_batch_on_error: bool = False
    report_batch_item_failures: bool = False
    retry_backoff_s: float = 0.2

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> TriggerConfig:
        values = {
            "batch_size": settings.batch_size,
            "max_batching_window_s": float(settings.max_batching_window_s),
            "starting_position": settings.starting_position,
            "max_retry_attempts": settings.max_retry_attempts,
            "max_record_age_s": settings.max_record_age_s,
            "bisect_batch_on_error": settings.bisect_batch_on_error,
            "report_batch_item_failures": settings.report_batch_item_failures,
        }
        return cls(**(values | {k: v for k, v in overrides.items() if v is not None}))


@dataclass
class Stats:
    invocations: int = 0
    records: int = 0
    function_errors: int = 0
    partial_failures: int = 0
    discarded_batches: int = 0
    discarded_records: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


class LambdaContext:
    """The parts of Lambda's context object handlers use."""

    def __init__(self, function_name: str, region: str, timeout_s: float = 60.0) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:123456789012:function:{function_name}"
        self.memory_limit_in_mb = 512
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def load_handler(spec: str) -> Handler:
    """``path/to/file.py:function`` or ``package.module:function``; loaded once, like a container."""
    target, _, name = spec.rpartition(":")
    if not target or not name:
        raise ValueError(f"handler must look like 'file.py:function' or 'module:function', got {spec!r}")
    if target.endswith(".py"):
        path = Path(target)
        module_spec = importlib.util.spec_from_file_location(f"lambda_function_{path.stem}", path)
        if module_spec is None or module_spec.loader is None:
            raise ValueError(f"cannot load the handler file {path}")
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    return getattr(module, name)


class CheckpointStore:
    """Last fully processed sequence number per shard, in a JSON file replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._data: dict[str, str] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}

    def get(self, shard_id: str) -> str | None:
        with self._lock:
            return self._data.get(shard_id)

    def set(self, shard_id: str, sequence_number: str) -> None:
        with self._lock:
            self._data[shard_id] = sequence_number
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(f".{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(self._data, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.path)


@dataclass
class _Outcome:
    ok: bool
    failed_from: int | None = None  # index of the lowest failed record (partial batch response)
    error: str | None = None


class ShardPoller(threading.Thread):
    """Reads one shard and invokes the handler with one batch at a time."""

    def __init__(self, mapping: EventSourceMapping, shard_id: str) -> None:
        super().__init__(name=f"poller-{shard_id}", daemon=True)
        self.mapping = mapping
        self.shard_id = shard_id
        self.config = mapping.config
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
        elif self.config.starting_position == "AT_TIMESTAMP":
            if self.config.starting_timestamp is None:
                raise ValueError("StartingPosition AT_TIMESTAMP needs a starting timestamp")
            args |= {"ShardIteratorType": "AT_TIMESTAMP", "Timestamp": self.config.starting_timestamp}
        else:
            args |= {"ShardIteratorType": self.config.starting_position}
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
            if iterator is None:  # shard closed (resharded) and fully processed
                self.idle_since = self.idle_since or time.monotonic()
                return
            if self._caught_up:
                self.idle_since = self.idle_since or time.monotonic()

    # --- invoking ------------------------------------------------------------------------------
    def _event(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        m = self.mapping
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
            "eventID": f"{self.shard_id}:{r['SequenceNumber']}",
            "eventName": "aws:kinesis:record",
            "invokeIdentityArn": m.role_arn,
            "awsRegion": m.region,
            "eventSourceARN": m.stream_arn,
        } for r in records]}

    def _invoke(self, records: list[dict[str, Any]]) -> _Outcome:
        m = self.mapping
        context = LambdaContext(m.function_name, m.region)
        m.stats.add(invocations=1)
        try:
            result = m.handler(self._event(records), context)
        except Exception as exc:  # noqa: BLE001 - a function error, as Lambda reports it
            log.warning("%s: function error on %d records: %s", self.shard_id, len(records), exc)
            m.stats.add(function_errors=1)
            return _Outcome(ok=False, error=f"{type(exc).__name__}: {exc}")
        if not self.config.report_batch_item_failures or not isinstance(result, dict):
            return _Outcome(ok=True)
        failures = result.get("batchItemFailures") or []
        if not failures:
            return _Outcome(ok=True)
        positions = {r["SequenceNumber"]: i for i, r in enumerate(records)}
        try:
            lowest = min(positions[f["itemIdentifier"]] for f in failures)
        except (KeyError, TypeError):  # an unknown or missing identifier: AWS fails the whole batch
            m.stats.add(function_errors=1)
            return _Outcome(ok=False, error=f"invalid batchItemFailures: {str(failures)[:200]}")
        m.stats.add(partial_failures=1)
        return _Outcome(ok=False, failed_from=lowest, error="partial batch failure")

    def _expired(self, records: list[dict[str, Any]]) -> bool:
        if self.config.max_record_age_s < 0:
            return False
        oldest = records[0]["ApproximateArrivalTimestamp"]
        return (dt.datetime.now(dt.UTC) - oldest).total_seconds() > self.config.max_record_age_s

    def _process(self, records: list[dict[str, Any]]) -> None:
        """Deliver ``records`` (contiguous, in shard order) until success or discard."""
        attempts = 0
        pending = records
        stop = self.mapping.stop_event
        while pending:
            if stop.is_set():
                return  # not checkpointed: the next start delivers these again
            if self._expired(pending):
                self._discard(pending, "RecordAgeExceeded", attempts + 1)
                return
            outcome = self._invoke(pending)
            if outcome.ok:
                self._done(pending)
                return
            if outcome.failed_from:  # the records before the lowest failure are done
                self._done(pending[: outcome.failed_from])
                pending = pending[outcome.failed_from:]
                continue
            if self.config.bisect_batch_on_error and len(pending) > 1:
                middle = len(pending) // 2
                self._process(pending[:middle])
                self._process(pending[middle:])
                return
            attempts += 1
            limit = self.config.max_retry_attempts
            if limit >= 0 and attempts > limit:
                self._discard(pending, "RetryAttemptsExhausted", attempts)
                return
            delay = min(self.config.retry_backoff_s * 2 ** (attempts - 1), 5.0)
            stop.wait(delay * (0.5 + random.random()))  # noqa: S311 - jitter

    def _done(self, records: list[dict[str, Any]]) -> None:
        if records:
            self.mapping.checkpoints.set(self.shard_id, records[-1]["SequenceNumber"])
            self.mapping.stats.add(records=len(records))

    def _discard(self, records: list[dict[str, Any]], condition: str, invoke_count: int) -> None:
        """Send the batch's description to the on-failure destination, then move past it."""
        m = self.mapping
        iso = "%Y-%m-%dT%H:%M:%S.%f"
        info = {
            "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": m.function_arn,
                               "condition": condition, "approximateInvokeCount": invoke_count},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": dt.datetime.now(dt.UTC).strftime(iso)[:-3] + "Z",
            "KinesisBatchInfo": {
                "shardId": self.shard_id,
                "startSequenceNumber": records[0]["SequenceNumber"],
                "endSequenceNumber": records[-1]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": records[0]["ApproximateArrivalTimestamp"].strftime(iso)[:-3] + "Z",
                "approximateArrivalOfLastRecord": records[-1]["ApproximateArrivalTimestamp"].strftime(iso)[:-3] + "Z",
                "batchSize": len(records),
                "streamArn": m.stream_arn,
            },
        }
        if m.failure_queue_url is None:
            log.error("%s: discarding %d records (%s) and no on-failure destination is set", self.shard_id,
                      len(records), condition)
        else:
            m.sqs.send_message(QueueUrl=m.failure_queue_url, MessageBody=json.dumps(info))
            log.warning("%s: %d records discarded (%s), described in the failure queue", self.shard_id,
                        len(records), condition)
        m.stats.add(discarded_batches=1, discarded_records=len(records))
        m.checkpoints.set(self.shard_id, records[-1]["SequenceNumber"])


class EventSourceMapping:
    """All shards of one stream, feeding one function."""

    def __init__(self, settings: Settings, handler: Handler, config: TriggerConfig | None = None,
                 stream_name: str | None = None, failure_queue_name: str | None = None,
                 checkpoint_path: Path | None = None) -> None:
        self.settings = settings
        self.handler = handler
        self.config = config or TriggerConfig.from_settings(settings)
        self.stream_name = stream_name or settings.stream_name
        self.function_name = settings.function_name
        self.region = settings.region
        client_config = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=32)
        self.kinesis = boto3.client("kinesis", config=client_config, **settings.boto3_kwargs())
        self.sqs = boto3.client("sqs", **settings.boto3_kwargs())
        summary = self.kinesis.describe_stream_summary(StreamName=self.stream_name)["StreamDescriptionSummary"]
        self.stream_arn: str = summary["StreamARN"]
        account = self.stream_arn.split(":")[4]
        self.function_arn = f"arn:aws:lambda:{self.region}:{account}:function:{self.function_name}"
        self.role_arn = f"arn:aws:iam::{account}:role/{self.function_name}-role"
        queue = failure_queue_name or settings.failure_queue_name
        self.failure_queue_url: str | None = self.sqs.create_queue(QueueName=queue)["QueueUrl"] if queue else None
        self.checkpoints = CheckpointStore(checkpoint_path or default_checkpoint_path(settings, self.stream_name))
        self.stop_event = threading.Event()
        self.stats = Stats()
        self.pollers: list[ShardPoller] = []

    def start(self) -> None:
        shards = self.kinesis.list_shards(StreamName=self.stream_name)["Shards"]
        self.pollers = [ShardPoller(self, shard["ShardId"]) for shard in shards]
        for poller in self.pollers:
            poller.start()

    def idle_for(self) -> float:
        """Seconds since every shard was caught up with nothing in flight (0 if one is busy)."""
        marks = [p.idle_since for p in self.pollers]
        if not marks or any(mark is None for mark in marks):
            return 0.0
        return time.monotonic() - max(mark for mark in marks if mark is not None)

    def run(self, until_idle_s: float | None = None, report: Callable[[Stats], None] | None = None,
            report_every_s: float = 5.0) -> Stats:
        """Poll until stopped (or, with ``until_idle_s``, until every shard has been idle that long)."""
        self.start()
        next_report = time.monotonic() + report_every_s
        try:
            while not self.stop_event.is_set():
                if until_idle_s is not None and self.idle_for() >= until_idle_s:
                    break
                if report and time.monotonic() >= next_report:
                    report(self.stats)
                    next_report += report_every_s
                self.stop_event.wait(0.1)
        finally:
            self.stop_event.set()
            for poller in self.pollers:
                poller.join(timeout=60)
        errors = [p.error for p in self.pollers if p.error is not None]
        if errors:
            raise RuntimeError(f"a shard poller failed: {errors[0]}") from errors[0]
        return self.stats


def default_checkpoint_path(settings: Settings, stream_name: str) -> Path:
    return settings.var_dir / "trigger" / settings.function_name / f"{stream_name}.json"


def function_environment(settings: Settings) -> dict[str, str]:
    """The environment the deployed function gets on the local profile (``lambda deploy`` builds it)."""
    from pipeline.lambda_deploy import function_environment as deployed_environment

    if not settings.is_local:
        raise ValueError("the local trigger plays the event source mapping of the local profile; "
                         "on AWS the deployed mapping invokes the function")
    return deployed_environment(settings, None)


def load_function(settings: Settings, spec: str = DEFAULT_HANDLER) -> Handler:
    """Set the function's environment, then load its handler (as a Lambda container would)."""
    os.environ.update(function_environment(settings))
    return load_handler(spec)
