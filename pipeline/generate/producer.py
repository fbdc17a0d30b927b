"""Sending events to Kinesis with PutRecords: batched, retried, never silently dropped.

One PutRecords call carries up to 500 records and 5 MiB; the seed's one ``put_record`` per event
pays a full HTTP round trip per record instead. Kinesis may accept a call yet reject some of its
records (``FailedRecordCount``, a per-record ``ErrorCode`` such as
``ProvisionedThroughputExceededException``): those records, and only those, are sent again after an
exponential backoff with jitter, until they are accepted or ``max_attempts`` is used up, in which
case ``ProducerError`` says how many records were not sent. Calls run on worker threads, so the
next batch is generated while one is in flight; ``concurrency`` calls may be in flight at once. Keep
it at 1 locally: moto's ``put_record`` is not safe for concurrent calls (it reads the last sequence
number, then writes the next; 4 calls in flight lost 49 of 20,000 records here).
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.exceptions import ConnectionError as BotoConnectionError
from tqdm import tqdm

from pipeline.common.aws import client
from pipeline.common.errors import WorkbenchError
from pipeline.generate.generator import LogEvent
from pipeline.generate.malformed import KINESIS_MAX_RECORD_BYTES

if TYPE_CHECKING:
    from pipeline.settings import Settings

MAX_RECORDS_PER_CALL = 500
MAX_BYTES_PER_CALL = 5 * 1024 * 1024  # data plus partition keys
DEFAULT_MAX_ATTEMPTS = 8
# Whole-call failures worth retrying: throttling and the service's own trouble. Anything else
# (no such stream, access denied, a validation error) fails at once with the service's message.
RETRYABLE_CALL_ERRORS = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "KMSThrottlingException",
    "InternalFailure", "InternalFailureException", "ServiceUnavailable", "ServiceUnavailableException",
})


@dataclass(frozen=True)
class ProducerStats:
    sent: int  # records Kinesis accepted
    failed_retried: int  # records that came back failed and were sent again
    calls: int  # PutRecords calls made, retries included
    seconds: float
    records_per_s: float
    bytes_sent: int = 0


class ProducerError(WorkbenchError):
    """Some records could not be sent; ``unsent`` says how many, ``stats`` what did get through."""

    def __init__(self, message: str, unsent: int, stats: ProducerStats) -> None:
        super().__init__(message)
        self.unsent = unsent
        self.stats = stats


@dataclass
class _BatchResult:
    sent: int = 0
    bytes_sent: int = 0
    retried: int = 0
    calls: int = 0
    unsent: int = 0
    error_codes: Counter[str] = field(default_factory=Counter)


def kinesis_client(settings: Settings, concurrency: int = 1) -> Any:
    """A Kinesis client for the producer, from the settings' endpoint and credentials.

    botocore's client-side parameter validation is off: ``batches`` already keeps every call within
    Kinesis' limits, and validating 500 records costs about as much as generating them.
    """
    config = Config(parameter_validation=False, max_pool_connections=max(10, concurrency),
                    retries={"mode": "standard"})
    return client(settings, "kinesis", config)


def record_size(event: LogEvent) -> int:
    """What a record counts against Kinesis' limits: its data plus its partition key."""
    return len(event.data) + len(event.partition_key.encode())


def batches(events: Iterable[LogEvent], max_records: int = MAX_RECORDS_PER_CALL,
            max_bytes: int = MAX_BYTES_PER_CALL, linger_s: float | None = None,
            clock: Callable[[], float] = time.monotonic) -> Iterator[list[LogEvent]]:
    """Group events into PutRecords-sized batches, in order.

    A batch closes when one more record would break a limit, or (live mode) when its first record
    has waited ``linger_s``, so slow traffic is not held back until 500 records have piled up.
    """
    batch: list[LogEvent] = []
    size = 0
    opened = 0.0
    try:
        for event in events:
            bytes_ = record_size(event)
            if bytes_ > KINESIS_MAX_RECORD_BYTES:
                raise ValueError(f"a record of {bytes_} bytes (partition key {event.partition_key!r}) is over "
                                 f"Kinesis' limit of {KINESIS_MAX_RECORD_BYTES} bytes per record")
            if batch and (len(batch) >= max_records or size + bytes_ > max_bytes):
                yield batch
                batch, size = [], 0
            if not batch:
                opened = clock()
            batch.append(event)
            size += bytes_
            if linger_s is not None and clock() - opened >= linger_s:
                yield batch
                batch, size = [], 0
    except KeyboardInterrupt:
        # Ctrl-C stops a live run while it waits for the next event: what was generated still goes out,
        # so the ground truth's counts match what arrived.
        if batch:
            yield batch
        raise
    if batch:
        yield batch


class KinesisProducer:
    """Sends ``LogEvent``s to one stream with PutRecords; see the module docstring for the rules."""

    def __init__(self, client: Any, stream_name: str, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS,
                 concurrency: int = 1, base_delay_s: float = 0.05, max_delay_s: float = 5.0,
                 linger_s: float | None = None, max_records: int = MAX_RECORDS_PER_CALL,
                 max_bytes: int = MAX_BYTES_PER_CALL, sleep: Callable[[float], None] = time.sleep) -> None:
        if max_attempts < 1 or concurrency < 1:
            raise ValueError("max_attempts and concurrency must be >= 1")
        if not 1 <= max_records <= MAX_RECORDS_PER_CALL or not 1 <= max_bytes <= MAX_BYTES_PER_CALL:
            raise ValueError(f"a PutRecords call takes 1..{MAX_RECORDS_PER_CALL} records and at most "
                             f"{MAX_BYTES_PER_CALL} bytes")
        self.client = client
        self.stream_name = stream_name
        self.max_attempts = max_attempts
        self.concurrency = concurrency
        self.base_delay_s = base_delay_s
        self.max_delay_s = max_delay_s
        self.linger_s = linger_s
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._sleep = sleep
        self._jitter = random.Random()  # noqa: S311 - backoff jitter, not security
        self._totals = _BatchResult()
        self._began = time.monotonic()

    @property
    def stats(self) -> ProducerStats:
        """What has been sent so far (also after an interruption or a ``ProducerError``)."""
        seconds = max(time.monotonic() - self._began, 1e-9)
        t = self._totals
        return ProducerStats(t.sent, t.retried, t.calls, round(seconds, 3), round(t.sent / seconds, 1), t.bytes_sent)

    def send(self, events: Iterable[LogEvent], total: int | None = None, progress: bool = True) -> ProducerStats:
        """Send every event; return the statistics, or raise ``ProducerError`` if records were left unsent."""
        self._totals = _BatchResult()
        self._began = time.monotonic()
        bar = tqdm(total=total, unit="ev", unit_scale=True, desc=f"-> {self.stream_name}",
                   disable=not progress, dynamic_ncols=True, smoothing=0.1)
        try:
            self._send_concurrently(batches(events, self.max_records, self.max_bytes, self.linger_s), bar)
        finally:
            bar.close()
        self._raise_if_unsent()
        return self.stats

    def _send_concurrently(self, grouped: Iterator[list[LogEvent]], bar: tqdm) -> None:
        """Keep up to ``concurrency`` calls in flight on worker threads while this thread generates
        the next batch: even with one call at a time, generating and sending then overlap (a call
        mostly waits on the socket, which releases the GIL). Events are read only as fast as they
        go out, so memory stays bounded."""
        in_flight: set[Future[_BatchResult]] = set()
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="put-records") as pool:
            try:
                for batch in grouped:
                    if len(in_flight) >= self.concurrency:
                        done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                        for future in done:
                            self._account(future.result(), bar)
                        if self._totals.unsent:
                            break  # stop reading events; what is in flight still finishes below
                    in_flight.add(pool.submit(self._put_with_retry, batch))
            finally:
                for future in in_flight:
                    self._account(future.result(), bar)

    def _account(self, result: _BatchResult, bar: tqdm) -> None:
        totals = self._totals
        totals.sent += result.sent
        totals.bytes_sent += result.bytes_sent
        totals.retried += result.retried
        totals.calls += result.calls
        totals.unsent += result.unsent
        totals.error_codes.update(result.error_codes)
        bar.update(result.sent)

    def _raise_if_unsent(self) -> None:
        if self._totals.unsent:
            codes = ", ".join(f"{code} x{n}" for code, n in self._totals.error_codes.most_common(3))
            raise ProducerError(
                f"{self._totals.unsent} records were not sent to stream {self.stream_name!r}: still failing after "
                f"{self.max_attempts} attempts (errors seen: {codes}); {self._totals.sent} records were sent",
                self._totals.unsent, self.stats)

    def _put_with_retry(self, batch: list[LogEvent]) -> _BatchResult:
        """PutRecords ``batch``; resend exactly the records that failed, backing off between attempts."""
        result = _BatchResult()
        pending = batch
        for attempt in range(1, self.max_attempts + 1):
            if attempt > 1:
                result.retried += len(pending)
                self._sleep(self._backoff(attempt - 1))
            result.calls += 1
            failed = self._put_once(pending, result)
            if not failed:
                return result
            pending = failed
        result.unsent = len(pending)
        return result

    def _put_once(self, pending: list[LogEvent], result: _BatchResult) -> list[LogEvent]:
        """One PutRecords call; returns the events that must be sent again."""
        try:
            response = self.client.put_records(StreamName=self.stream_name, Records=[
                {"Data": event.data, "PartitionKey": event.partition_key} for event in pending])
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in RETRYABLE_CALL_ERRORS:
                raise
            result.error_codes[code] += len(pending)
            return pending
        except (BotoConnectionError, ReadTimeoutError) as exc:
            result.error_codes[type(exc).__name__] += len(pending)
            return pending
        outcomes = response["Records"]
        if len(outcomes) != len(pending):
            raise RuntimeError(f"PutRecords answered {len(outcomes)} results for {len(pending)} records")
        failed = []
        for event, outcome in zip(pending, outcomes, strict=True):
            if outcome.get("ErrorCode"):
                failed.append(event)
                result.error_codes[outcome["ErrorCode"]] += 1
            else:
                result.sent += 1
                result.bytes_sent += len(event.data)
        return failed

    def _backoff(self, retry: int) -> float:
        """Exponential backoff with "equal jitter": half the step fixed, half random, so retries of
        concurrent callers spread out but never come back at once."""
        step = min(self.max_delay_s, self.base_delay_s * 2 ** (retry - 1))
        return step / 2 + self._jitter.uniform(0, step / 2)
