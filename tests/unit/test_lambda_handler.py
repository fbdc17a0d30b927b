"""The Lambda function's parsing and validation of one record against the record contract
(``lambda/record_contract.json``), without MongoDB or Kinesis: the edge-case corpus, and what is
stored (UTC timestamps, a long message cut, clock skew, unknown fields as they are or as ``extra_json``).
That ``_id`` is always the Kinesis event id is the handler's job: tests/integration/test_ingest_trigger.py."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from typing import Any

import bson
import pytest

from pipeline.settings import PROJECT_ROOT
from tests.fixtures.contract_corpus import corpus


def _load_handler_module():
    """lambda/handler.py as the local runtime loads it: from its path, once (``lambda`` is no package)."""
    spec = importlib.util.spec_from_file_location("lambda_handler_under_test", PROJECT_ROOT / "lambda" / "handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


handler = _load_handler_module()
InvalidRecord = handler.InvalidRecord
CONTRACT = json.loads((PROJECT_ROOT / "lambda" / "record_contract.json").read_text(encoding="utf-8"))
MESSAGE_MAX_CHARS = CONTRACT["defaults"]["message_max_chars"]
TOLERANCE = dt.timedelta(seconds=CONTRACT["defaults"]["clock_skew_tolerance_s"])
VALID = {"timestamp": "2026-11-27T10:00:00Z", "service": "checkout", "status": 200, "message": "order placed",
         "latency_ms": 12}
BASE = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)  # the corpus' records are stamped in the 10 minutes after
CORPUS = corpus(BASE, "unit")


@pytest.fixture(autouse=True)
def _contract_defaults(monkeypatch):
    """The limits are the contract's defaults unless a test sets them (the function reads its environment)."""
    monkeypatch.delenv("MESSAGE_MAX_CHARS", raising=False)
    monkeypatch.delenv("CLOCK_SKEW_TOLERANCE_S", raising=False)


def _data(**changes: object) -> bytes:
    return json.dumps(VALID | changes).encode()


def _keys_and_depth(value: Any, depth: int = 1) -> tuple[set[str], int]:
    """Every key at any level of ``value`` and its nesting depth (a document is level 1)."""
    keys: set[str] = set()
    deepest = depth
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        if isinstance(key, str):
            keys.add(key)
        if isinstance(child, dict | list):
            child_keys, child_depth = _keys_and_depth(child, depth + 1)
            keys |= child_keys
            deepest = max(deepest, child_depth)
    return keys, deepest


def assert_storable(document: dict[str, Any]) -> None:
    """What MongoDB takes: BSON-encodable (64-bit integers, valid UTF-8), no key starting with '$' or
    holding a '.', nesting within 100 levels, and no ``_id`` of the record's own."""
    bson.encode(document)
    keys, depth = _keys_and_depth(document)
    assert not any(key.startswith("$") or "." in key for key in keys), keys
    assert depth <= 100
    assert "_id" not in document


# --- the corpus: a log exactly when the contract says ------------------------------------------------

@pytest.mark.parametrize(("label", "data", "is_log"), CORPUS, ids=[label for label, _, _ in CORPUS])
def test_the_corpus_gives_a_log_exactly_when_the_contract_says(label, data, is_log):
    if not is_log:
        with pytest.raises(InvalidRecord):
            handler.parse_log(data)
        return
    document = handler.parse_log(data, arrival=BASE + dt.timedelta(minutes=10))
    assert BASE <= document["timestamp"] < BASE + dt.timedelta(minutes=10)
    assert "clock_skew" not in document  # stamped before its arrival
    assert type(document["status"]) is int and 100 <= document["status"] <= 599
    assert type(document["latency_ms"]) is float and 0 <= document["latency_ms"] <= CONTRACT["latency_max_ms"]
    assert isinstance(document["service"], str) and isinstance(document["message"], str)
    assert_storable(document)


def test_the_corpus_has_both_sides_of_every_rule():
    assert len(CORPUS) > 80
    assert len({label for label, _, _ in CORPUS}) == len(CORPUS)
    assert {is_log for _, _, is_log in CORPUS} == {True, False}


# --- the stored document ------------------------------------------------------------------------------

def test_valid_log_becomes_the_document_to_store():
    document = handler.parse_log(_data(trace_id="t-1"))

    assert document["timestamp"] == dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)
    assert document["timestamp_raw"] == "2026-11-27T10:00:00Z"
    assert document["latency_ms"] == 12.0 and isinstance(document["latency_ms"], float)
    assert (document["service"], document["status"], document["message"]) == ("checkout", 200, "order placed")
    assert document["trace_id"] == "t-1"
    assert "_id" not in document
    assert not {"clock_skew", "message_truncated", "message_length", "extra_json"} & document.keys()


@pytest.mark.parametrize(("raw", "utc"), [
    ("2026-11-27T10:00:00Z", dt.datetime(2026, 11, 27, 10, 0)),
    ("2026-11-27T10:00:00z", dt.datetime(2026, 11, 27, 10, 0)),
    ("2026-11-27T15:30:00+05:30", dt.datetime(2026, 11, 27, 10, 0)),
    ("2026-11-27T00:15:00-02:00", dt.datetime(2026, 11, 27, 2, 15)),
    ("2026-11-27T10:00:00", dt.datetime(2026, 11, 27, 10, 0)),
    ("2026-11-27 10:00:00Z", dt.datetime(2026, 11, 27, 10, 0)),
    ("2026-11-27T10:00:00.250Z", dt.datetime(2026, 11, 27, 10, 0, 0, 250_000)),
    ("2026-11-27T10:00:00.5Z", dt.datetime(2026, 11, 27, 10, 0, 0, 500_000)),
    ("2026-11-27T10:00:00.999999999Z", dt.datetime(2026, 11, 27, 10, 0, 0, 999_000)),  # cut, never rounded
    ("2026-11-27T00:30:00+01:00", dt.datetime(2026, 11, 26, 23, 30)),  # the day before in UTC
])
def test_timestamps_are_stored_in_utc_to_the_millisecond(raw, utc):
    document = handler.parse_log(_data(timestamp=raw))
    assert document["timestamp"] == utc.replace(tzinfo=dt.UTC)
    assert document["timestamp"].tzinfo is dt.UTC
    assert document["timestamp_raw"] == raw


@pytest.mark.parametrize(("field", "value"), [
    ("status", 100), ("status", 599), ("latency_ms", 0), ("latency_ms", 0.5), ("latency_ms", 1e15), ("message", ""),
])
def test_values_at_the_edges_are_accepted(field, value):
    assert handler.parse_log(_data(**{field: value}))[field] == value


@pytest.mark.parametrize(("field", "value", "stored"), [
    ("status", "503", 503),
    ("latency_ms", "12.5", 12.5),
    ("latency_ms", "1e3", 1000.0),
    ("message", 5, "5"),
    ("message", True, "true"),
    ("message", ["a", 1], '["a", 1]'),
    ("message", {"error": "x"}, '{"error": "x"}'),
])
def test_numbers_as_text_and_messages_of_any_json_value_are_stored_typed(field, value, stored):
    document = handler.parse_log(_data(**{field: value}))
    assert document[field] == stored and type(document[field]) is type(stored)


def test_a_lone_surrogate_in_the_message_is_replaced_not_refused():
    document = handler.parse_log(_data(message="x").replace(b'"x"', b'"x\\ud800y"'))
    assert document["message"] == "x?y"
    assert_storable(document)


# --- a long message is a log, stored cut ----------------------------------------------------------------

def test_a_message_up_to_the_limit_is_stored_whole():
    document = handler.parse_log(_data(message="x" * MESSAGE_MAX_CHARS))
    assert document["message"] == "x" * MESSAGE_MAX_CHARS
    assert "message_truncated" not in document and "message_length" not in document


def test_a_longer_message_is_cut_to_the_limit_flagged_with_its_length():
    message = "é" * 10 + "x" * (300 * 1024)  # characters count, not bytes
    document = handler.parse_log(_data(message=message))

    assert document["message"] == message[:MESSAGE_MAX_CHARS]
    assert document["message_truncated"] is True
    assert document["message_length"] == len(message)
    assert (document["service"], document["status"]) == ("checkout", 200)


def test_a_long_message_of_another_json_type_is_cut_as_its_text():
    value = {"trace": ["frame"] * 10_000}
    document = handler.parse_log(_data(message=value))
    text = json.dumps(value)
    assert document["message"] == text[:MESSAGE_MAX_CHARS]
    assert (document["message_truncated"], document["message_length"]) == (True, len(text))


def test_the_message_limit_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("MESSAGE_MAX_CHARS", "10")
    document = handler.parse_log(_data(message="0123456789abc"))
    assert (document["message"], document["message_length"]) == ("0123456789", 13)
    assert "message_truncated" not in handler.parse_log(_data(message="0123456789"))


# --- clock skew: a stamp at or beyond arrival + tolerance counts at arrival + tolerance ----------

ARRIVAL = dt.datetime(2026, 11, 27, 10, 0, 0, 123_456, tzinfo=dt.UTC)


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _stamped(moment: dt.datetime) -> bytes:
    return _data(timestamp=_iso(moment))


def test_a_record_stamped_just_under_the_tolerance_after_its_arrival_keeps_its_time():
    # arrival counts to the millisecond
    just_under = ARRIVAL.replace(microsecond=123_000) + TOLERANCE - dt.timedelta(milliseconds=1)
    document = handler.parse_log(_stamped(just_under), arrival=ARRIVAL)
    assert document["timestamp"] == just_under
    assert "clock_skew" not in document


def test_a_record_stamped_at_the_tolerance_is_capped_and_flagged():
    cap = ARRIVAL.replace(microsecond=123_000) + TOLERANCE
    document = handler.parse_log(_stamped(cap), arrival=ARRIVAL)
    assert document["timestamp"] == cap
    assert document["clock_skew"] is True
    assert document["timestamp_raw"] == _iso(cap)  # what the producer sent


def test_a_record_stamped_2099_counts_at_arrival_plus_tolerance_to_the_millisecond():
    document = handler.parse_log(_data(timestamp="2099-01-01T00:00:00Z"), arrival=ARRIVAL)
    assert document["timestamp"] == dt.datetime(2026, 11, 27, 10, 0, 0, 123_000, tzinfo=dt.UTC) + TOLERANCE
    assert document["timestamp"].tzinfo == dt.UTC
    assert document["clock_skew"] is True
    assert document["timestamp_raw"] == "2099-01-01T00:00:00Z"


def test_an_arrival_in_another_zone_is_taken_in_utc():
    arrival = ARRIVAL.astimezone(dt.timezone(dt.timedelta(hours=-5)))
    document = handler.parse_log(_data(timestamp="2099-01-01T00:00:00Z"), arrival=arrival)
    assert document["timestamp"] == ARRIVAL.replace(microsecond=123_000) + TOLERANCE
    assert document["timestamp"].utcoffset() == dt.timedelta(0)


def test_late_records_and_records_without_an_arrival_are_not_skewed():
    late = handler.parse_log(_data(timestamp="2020-01-01T00:00:00Z"), arrival=ARRIVAL)
    assert late["timestamp"] == dt.datetime(2020, 1, 1, tzinfo=dt.UTC) and "clock_skew" not in late
    unknown = handler.parse_log(_data(timestamp="2099-01-01T00:00:00Z"))
    assert unknown["timestamp"] == dt.datetime(2099, 1, 1, tzinfo=dt.UTC) and "clock_skew" not in unknown


def test_the_tolerance_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("CLOCK_SKEW_TOLERANCE_S", "0")
    ahead = ARRIVAL.replace(microsecond=124_000)
    assert handler.parse_log(_stamped(ahead), arrival=ARRIVAL)["clock_skew"] is True


# --- unknown fields: kept as they are, or whole as extra_json when the store would refuse them -------

def test_unknown_fields_the_store_takes_are_kept_as_they_are():
    extras = {"host": "h-1", "nested": {"a": [1, 2, {"b": None}]}, "big": 2**63 - 1, "small": -(2**63),
              "deep": json.loads("[" * (handler.MAX_STORED_DEPTH - 1) + "]" * (handler.MAX_STORED_DEPTH - 1))}
    document = handler.parse_log(_data(**extras))
    assert {k: document[k] for k in extras} == extras
    assert "extra_json" not in document
    assert_storable(document)


def _with_raw_extra(name: str, raw_value: bytes) -> bytes:
    return _data()[:-1] + b', "' + name.encode() + b'": ' + raw_value + b"}"


@pytest.mark.parametrize(("data", "extras"), [
    (_data(host="h-1", **{"$set": 1}), {"host": "h-1", "$set": 1}),
    (_data(**{"app.kubernetes.io/name": "x"}), {"app.kubernetes.io/name": "x"}),
    (_data(labels={"$where": "1", "ok": 2}), {"labels": {"$where": "1", "ok": 2}}),
    (_with_raw_extra("big", b"9" * 30), {"big": int("9" * 30)}),
    (_data(big=2**63), {"big": 2**63}),
    (_data(small=-(2**63) - 1), {"small": -(2**63) - 1}),
    (_with_raw_extra("deep", b"[" * 500 + b"]" * 500), {"deep": json.loads("[" * 500 + "]" * 500)}),
    (_data(deep=json.loads("[" * handler.MAX_STORED_DEPTH + "]" * handler.MAX_STORED_DEPTH)),
     {"deep": json.loads("[" * handler.MAX_STORED_DEPTH + "]" * handler.MAX_STORED_DEPTH)}),
    (_data(_id="mine", host="h-1"), {"_id": "mine", "host": "h-1"}),
    (_data(kinesis={"shard_id": "fake"}), {"kinesis": {"shard_id": "fake"}}),
    (_data(extra_json="{}"), {"extra_json": "{}"}),
    (_data(clock_skew=False), {"clock_skew": False}),
], ids=["$ key", "dotted key", "nested $ key", "30-digit int", "2^63", "-2^63-1", "500 levels", "91 levels",
        "own _id", "own kinesis", "own extra_json", "own clock_skew"])
def test_unknown_fields_the_store_would_refuse_are_kept_whole_as_extra_json(data, extras):
    document = handler.parse_log(data)

    assert json.loads(document["extra_json"]) == extras  # the record's own fields, recoverable
    assert not extras.keys() & (document.keys() - {"extra_json"})
    assert (document["service"], document["status"], document["latency_ms"]) == ("checkout", 200, 12.0)
    assert "clock_skew" not in document
    assert_storable(document)


@pytest.mark.parametrize("data", [
    _data(timestamp_raw="mine"),
    _data(timestamp="2099-01-01T00:00:00Z", clock_skew="mine"),
    _data(message="x" * (MESSAGE_MAX_CHARS + 1), message_length="mine"),
], ids=["own timestamp_raw", "own clock_skew, skewed", "own message_length, cut"])
def test_a_field_named_like_one_the_handler_sets_is_kept_in_extra_json(data):
    document = handler.parse_log(data, arrival=ARRIVAL)
    assert "mine" in json.loads(document.get("extra_json", "{}")).values()


# --- what is refused, and why ---------------------------------------------------------------------

@pytest.mark.parametrize(("data", "reason"), [
    (b"{not json", "not JSON"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b"", "not JSON"),
    (_data() + b" x", "not JSON"),
    (_data(latency_ms=float("nan")), "not JSON"),
    (_data(latency_ms=float("inf")), "not JSON"),
    (b"[1, 2]", "not a JSON object but list"),
    (b'"a string"', "not a JSON object but str"),
    (b"null", "not a JSON object but NoneType"),
    (json.dumps({k: v for k, v in VALID.items() if k != "service"}).encode(), "missing field(s): service"),
    (b"{}", "missing field(s): timestamp, service, status, message, latency_ms"),
    (_data(message=None), "missing field(s): message"),
    (_data(status=None), "missing field(s): status"),
    (_data(timestamp=1_764_237_600), "timestamp is not a string"),
    (_data(timestamp="yesterday"), "timestamp is not ISO-8601 of the contract: 'yesterday'"),
    (_data(timestamp=""), "timestamp is not ISO-8601 of the contract"),
    (_data(timestamp="1969-12-31T23:59:59Z"), "timestamp is not ISO-8601 of the contract"),
    (_data(timestamp="2026-11-27T10:00:00+0530"), "timestamp is not ISO-8601 of the contract"),
    (_data(timestamp="2026-02-30T10:00:00Z"), "timestamp is not a date: '2026-02-30T10:00:00Z'"),
    (_data(service=""), "service is not a name"),
    (_data(service="   "), "service is not a name"),
    (_data(service=7), "service is not a name"),
    (_data(service="5xx"), "service is not a name"),
    (_data(service="false"), "service is not a name"),
    (_data(service="x" * 129), "service is not a name"),
    (_data(status=99), "status is not an HTTP code (100-599): '99'"),
    (_data(status=600), "status is not an HTTP code (100-599): '600'"),
    (_data(status="600"), "status is not an HTTP code (100-599): '600'"),
    (_data(status=200.0), "status is not an HTTP code"),
    (_data(status=True), "status is not an HTTP code (100-599): 'True'"),
    (_data(status="abc"), "status is not an HTTP code"),
    (_data(latency_ms=-1), "latency_ms is not a number within [0, 1e+15]: '-1'"),
    (_data(latency_ms=1e16), "latency_ms is not a number within [0, 1e+15]"),
    (_data(latency_ms="12 ms"), "latency_ms is not a number within"),
    (_data(latency_ms="NaN"), "latency_ms is not a number within"),
    (_data(latency_ms=False), "latency_ms is not a number within"),
    (_data(latency_ms={"value": 12}), "latency_ms is not a number within"),
])
def test_invalid_records_are_refused_with_the_reason(data, reason):
    with pytest.raises(InvalidRecord) as refused:
        handler.parse_log(data)
    assert str(refused.value).startswith(reason)


def test_invalid_record_is_a_value_error():
    assert issubclass(InvalidRecord, ValueError)


def test_long_invalid_values_are_cut_in_the_reason():
    with pytest.raises(InvalidRecord) as refused:
        handler.parse_log(_data(timestamp="x" * 1000))
    assert str(refused.value) == f"timestamp is not ISO-8601 of the contract: {'x' * 64!r}"
    with pytest.raises(InvalidRecord) as refused:
        handler.parse_log(_data(status="9" * 1000))
    assert len(str(refused.value)) < 100
