"""The Lambda function's parsing and validation of one record, without MongoDB or Kinesis."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json

import pytest

from pipeline.settings import PROJECT_ROOT


def _load_handler_module():
    """lambda/handler.py as the local runtime loads it: from its path, once (``lambda`` is no package)."""
    spec = importlib.util.spec_from_file_location("lambda_handler_under_test", PROJECT_ROOT / "lambda" / "handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


handler = _load_handler_module()
InvalidRecord = handler.InvalidRecord
VALID = {"timestamp": "2026-11-27T10:00:00Z", "service": "checkout", "status": 200, "message": "order placed",
         "latency_ms": 12}


def _data(**changes: object) -> bytes:
    return json.dumps(VALID | changes).encode()


def test_valid_log_becomes_the_document_to_store():
    document = handler.parse_log(_data(trace_id="t-1"))

    assert document["timestamp"] == dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)
    assert document["timestamp_raw"] == "2026-11-27T10:00:00Z"
    assert document["latency_ms"] == 12.0 and isinstance(document["latency_ms"], float)
    assert (document["service"], document["status"], document["message"]) == ("checkout", 200, "order placed")
    assert document["trace_id"] == "t-1"
    assert "_id" not in document


@pytest.mark.parametrize(("raw", "utc"), [
    ("2026-11-27T10:00:00Z", dt.datetime(2026, 11, 27, 10, 0)),
    ("2026-11-27T10:00:00z", dt.datetime(2026, 11, 27, 10, 0)),
    ("2026-11-27T15:30:00+05:30", dt.datetime(2026, 11, 27, 10, 0)),
    ("2026-11-27T00:15:00-02:00", dt.datetime(2026, 11, 27, 2, 15)),
    ("2026-11-27T10:00:00", dt.datetime(2026, 11, 27, 10, 0)),
    ("2026-11-27T10:00:00.250Z", dt.datetime(2026, 11, 27, 10, 0, 0, 250_000)),
])
def test_timestamps_are_stored_in_utc(raw, utc):
    document = handler.parse_log(_data(timestamp=raw))
    assert document["timestamp"] == utc.replace(tzinfo=dt.UTC)
    assert document["timestamp"].tzinfo is dt.UTC
    assert document["timestamp_raw"] == raw


@pytest.mark.parametrize(("field", "value"), [
    ("status", 100), ("status", 599), ("latency_ms", 0), ("latency_ms", 0.5), ("message", ""),
])
def test_values_at_the_edges_are_accepted(field, value):
    assert handler.parse_log(_data(**{field: value}))[field] == value


@pytest.mark.parametrize(("data", "reason"), [
    (b"{not json", "not JSON"),
    (b"\xff\xfe\x00garbage", "not JSON"),
    (b"", "not JSON"),
    (b"[1, 2]", "not a JSON object but list"),
    (b'"a string"', "not a JSON object but str"),
    (b"null", "not a JSON object but NoneType"),
    (json.dumps({k: v for k, v in VALID.items() if k != "service"}).encode(), "missing field(s): service"),
    (b"{}", "missing field(s): timestamp, service, status, message, latency_ms"),
    (_data(timestamp=1_764_237_600), "timestamp is not a string"),
    (_data(timestamp="yesterday"), "timestamp is not ISO-8601: 'yesterday'"),
    (_data(timestamp=""), "timestamp is not ISO-8601"),
    (_data(service=""), "service is not a non-empty string"),
    (_data(service="   "), "service is not a non-empty string"),
    (_data(service=7), "service is not a non-empty string"),
    (_data(status=99), "status is not an HTTP code: '99'"),
    (_data(status=600), "status is not an HTTP code: '600'"),
    (_data(status="200"), "status is not an HTTP code"),
    (_data(status=200.0), "status is not an HTTP code"),
    (_data(status=True), "status is not an HTTP code: 'True'"),
    (_data(message=None), "message is not a string"),
    (_data(latency_ms=-1), "latency_ms is not a non-negative number: '-1'"),
    (_data(latency_ms="12"), "latency_ms is not a non-negative number"),
    (_data(latency_ms=False), "latency_ms is not a non-negative number"),
    (_data(latency_ms=float("nan")), "latency_ms is not a non-negative number: 'nan'"),
])
def test_invalid_records_are_refused_with_the_reason(data, reason):
    with pytest.raises(InvalidRecord) as refused:
        handler.parse_log(data)
    assert str(refused.value).startswith(reason)


def test_invalid_record_is_a_value_error():
    assert issubclass(InvalidRecord, ValueError)


def test_oversized_record_is_refused_before_parsing():
    padding = b" " * (handler.MAX_RECORD_BYTES - len(_data()))
    assert handler.parse_log(_data() + padding)["service"] == "checkout"  # exactly the limit: accepted

    with pytest.raises(InvalidRecord, match=rf"^oversized: {handler.MAX_RECORD_BYTES + 1} bytes > "):
        handler.parse_log(_data() + padding + b" ")
    with pytest.raises(InvalidRecord, match=r"^oversized"):
        handler.parse_log(b"{" * (handler.MAX_RECORD_BYTES + 1))  # never handed to the JSON parser


def test_long_invalid_values_are_cut_in_the_reason():
    with pytest.raises(InvalidRecord) as refused:
        handler.parse_log(_data(timestamp="x" * 1000))
    assert str(refused.value) == f"timestamp is not ISO-8601: {'x' * 64!r}"
