"""The trigger's rules after an invocation (AWS's, for a Kinesis mapping), as pure functions."""

from __future__ import annotations

import datetime as dt

import pytest

from pipeline.ingest.config import TriggerConfig
from pipeline.ingest.retry import MAX_BACKOFF_S, Outcome, backoff_s, decide, expired

ERROR = Outcome(ok=False, error="RuntimeError: boom")
NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)


def test_success_is_done():
    decision = decide(Outcome(ok=True), 10, 2, TriggerConfig())
    assert (decision.action, decision.attempts) == ("done", 2)


def test_partial_failure_resumes_at_the_lowest_failed_record_without_counting_a_retry():
    decision = decide(Outcome(ok=False, failed_from=3), 10, 1, TriggerConfig(max_retry_attempts=0))
    assert (decision.action, decision.split_at, decision.attempts) == ("resume", 3, 1)


def test_partial_failure_at_the_first_record_is_a_function_error():
    bisecting = TriggerConfig(bisect_batch_on_error=True)
    assert decide(Outcome(ok=False, failed_from=0), 10, 0, bisecting).action == "bisect"
    assert decide(Outcome(ok=False, failed_from=0), 10, 0, TriggerConfig()).action == "retry"


@pytest.mark.parametrize(("batch_len", "split_at"), [(10, 5), (7, 3), (2, 1)])
def test_function_error_bisects_without_consuming_a_retry(batch_len, split_at):
    config = TriggerConfig(bisect_batch_on_error=True, max_retry_attempts=0)
    decision = decide(ERROR, batch_len, 4, config)
    assert (decision.action, decision.split_at, decision.attempts) == ("bisect", split_at, 4)


def test_a_single_record_is_retried_not_bisected():
    decision = decide(ERROR, 1, 0, TriggerConfig(bisect_batch_on_error=True))
    assert (decision.action, decision.attempts) == ("retry", 1)


def test_retries_are_counted_with_their_backoff():
    config = TriggerConfig(max_retry_attempts=5, retry_backoff_s=0.1)
    decisions = [decide(ERROR, 4, failed, config) for failed in range(3)]
    assert [d.action for d in decisions] == ["retry"] * 3
    assert [d.attempts for d in decisions] == [1, 2, 3]
    assert [d.delay_s for d in decisions] == pytest.approx([0.1, 0.2, 0.4])


@pytest.mark.parametrize("max_retries", [1, 3, 10])
def test_maximum_retry_attempts_n_discards_after_attempt_n_plus_one(max_retries):
    config = TriggerConfig(max_retry_attempts=max_retries)
    last_retry = decide(ERROR, 4, max_retries - 1, config)  # attempt N failed: one retry is left
    assert (last_retry.action, last_retry.attempts) == ("retry", max_retries)
    decision = decide(ERROR, 4, max_retries, config)  # attempt N+1 failed: the N retries are spent
    assert (decision.action, decision.condition, decision.attempts) == (
        "discard", "RetryAttemptsExhausted", max_retries + 1)


@pytest.mark.parametrize("failed", [0, 100, 1_023, 1_024, 10_000])
def test_minus_one_retries_forever(failed):
    decision = decide(ERROR, 1, failed, TriggerConfig(max_retry_attempts=-1))
    assert (decision.action, decision.attempts) == ("retry", failed + 1)
    assert 0 < decision.delay_s <= MAX_BACKOFF_S


def test_zero_retries_discards_after_the_first_failure():
    decision = decide(ERROR, 4, 0, TriggerConfig(max_retry_attempts=0))
    assert (decision.action, decision.condition, decision.attempts) == ("discard", "RetryAttemptsExhausted", 1)


def test_backoff_doubles_and_is_capped():
    config = TriggerConfig(retry_backoff_s=0.5)
    assert [backoff_s(config, n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, MAX_BACKOFF_S]
    assert backoff_s(config, 60) == MAX_BACKOFF_S


def test_no_record_age_limit_never_expires():
    assert not expired(NOW - dt.timedelta(days=365), TriggerConfig(max_record_age_s=-1), now=NOW)


@pytest.mark.parametrize(("age_s", "is_expired"), [(59, False), (60, False), (61, True)])
def test_record_age_limit(age_s, is_expired):
    config = TriggerConfig(max_record_age_s=60)
    assert expired(NOW - dt.timedelta(seconds=age_s), config, now=NOW) is is_expired
