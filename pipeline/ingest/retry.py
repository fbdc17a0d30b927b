"""What the trigger does after an invocation: AWS's rules for a Kinesis mapping, as pure functions.

- success: the batch is done (checkpointed);
- a partial batch response: the records before the lowest failed one are done, and delivery
  resumes at it;
- a function error (or a partial response that failed at the batch's first record again) with
  BisectBatchOnFunctionError: the batch is split in two halves, each delivered on its own
  (splitting consumes no retry);
- otherwise the batch is retried after a backoff, until MaximumRetryAttempts (-1: forever), then
  discarded to the on-failure destination; MaximumRecordAgeInSeconds discards it when its oldest
  record is older than that, before any attempt.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from pipeline.ingest.config import TriggerConfig

MAX_BACKOFF_S = 5.0


@dataclass(frozen=True)
class Outcome:
    """One invocation's result as the mapping sees it."""

    ok: bool
    failed_from: int | None = None  # index of the lowest failed record (partial batch response)
    error: str | None = None


@dataclass(frozen=True)
class Decision:
    action: Literal["done", "resume", "bisect", "retry", "discard"]
    split_at: int = 0  # resume: records before it are done; bisect: first index of the second half
    attempts: int = 0  # failed attempts of this batch so far, this one included
    delay_s: float = 0.0  # retry: the backoff before the next attempt (before jitter)
    condition: str = ""  # discard: KinesisBatchInfo's condition


def backoff_s(config: TriggerConfig, attempts: int) -> float:
    """Exponential backoff after the ``attempts``-th failed attempt, capped (the exponent too: with
    MaximumRetryAttempts -1 a batch may fail thousands of times, and 2.0 ** 1024 overflows)."""
    return min(config.retry_backoff_s * 2.0 ** min(attempts - 1, 32), MAX_BACKOFF_S)


def decide(outcome: Outcome, batch_len: int, failed_attempts: int, config: TriggerConfig) -> Decision:
    """The next step for a batch of ``batch_len`` records after ``outcome``; ``failed_attempts`` is
    the number of failed attempts before this one."""
    if outcome.ok:
        return Decision("done", attempts=failed_attempts)
    if outcome.failed_from:  # 0 is no progress: treated like a function error
        return Decision("resume", split_at=outcome.failed_from, attempts=failed_attempts)
    if config.bisect_batch_on_error and batch_len > 1:
        return Decision("bisect", split_at=batch_len // 2, attempts=failed_attempts)
    attempts = failed_attempts + 1
    if 0 <= config.max_retry_attempts < attempts:
        return Decision("discard", attempts=attempts, condition="RetryAttemptsExhausted")
    return Decision("retry", attempts=attempts, delay_s=backoff_s(config, attempts))


def expired(oldest_arrival: dt.datetime, config: TriggerConfig, now: dt.datetime | None = None) -> bool:
    """Whether a batch whose oldest record arrived at ``oldest_arrival`` is past MaximumRecordAge."""
    if config.max_record_age_s < 0:
        return False
    return ((now or dt.datetime.now(dt.UTC)) - oldest_arrival).total_seconds() > config.max_record_age_s
