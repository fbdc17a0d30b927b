"""Template mining over stored logs (``pipeline.analysis.mining``): template rows whose text matches
their id after merges, one step equal to two steps with a state round trip between them (combined as
the store combines them), ``store_merges`` on hand-made merge lists, the counting of error field
values (errors only, ``status`` always, ``NOT_FIELDS`` never, the per-service cap on distinct values
and its survival through the state, scalar types only, values cut), ``log_moment`` and messages of
other shapes (stack traces, a traceback, a dict, a 300 KiB message)."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.analysis import drain
from pipeline.analysis.drain import Miner, template_id
from pipeline.analysis.mining import (
    MAX_SAMPLE_CHARS,
    MAX_VALUE_CHARS,
    NOT_FIELDS,
    MiningStep,
    TemplateMiner,
    log_moment,
)
from pipeline.analysis.pattern_stats import MAX_FIELD_VALUES
from pipeline.generate.generator import GeneratorConfig, LogGenerator

START = datetime(2026, 1, 1, tzinfo=UTC)
T0 = datetime(2026, 1, 1)  # naive UTC, as the store gives it


def generated(count: int = 6000, seed: int = 3) -> list[dict]:
    config = GeneratorConfig(count=count, seed=seed, start=START, end=START + timedelta(hours=2))
    records = [event.record for event in LogGenerator(config)]
    assert all(record is not None for record in records)
    return records


@pytest.fixture(scope="module")
def records() -> list[dict]:
    logs = generated()
    stamps = [log_moment(log["timestamp"]) for log in logs]
    assert stamps == sorted(stamps)  # the generator's records come in event-time order, as the miner takes them
    return logs


def error_log(minute: int = 0, service: str = "svc", status: int = 500, message: str = "boom", **fields) -> dict:
    return {"timestamp": T0 + timedelta(minutes=minute), "service": service, "status": status,
            "message": message, **fields}


def field_counts(step: MiningStep, name: str) -> Counter:
    """Errors per value of field ``name`` in a step, over every service and minute."""
    counts: Counter = Counter()
    for (_, _, field_name, value), count in step.fields.items():
        if field_name == name:
            counts[value] += count
    return counts


# --- template rows ------------------------------------------------------------------------------

def test_every_template_row_has_the_text_of_its_id(records):
    step = TemplateMiner().mine(records)
    assert step.merges, "the data must make templates generalise, or the test shows nothing"
    rows = step.template_rows()
    assert len(rows) >= 20
    for tid, service, text, *_ in rows:
        assert drain.template_id(service, text) == tid, (tid, service, text)


def test_template_rows_are_the_templates_drain_ends_with(records):
    miner = TemplateMiner()
    step = miner.mine(records)
    final = {t.template_id: (t.service, t.template) for t in miner.miner.templates()}
    assert {row[0]: (row[1], row[2]) for row in step.template_rows()} == final
    assert set(step.minutes) == set(final)
    assert sum(logs for by_minute in step.minutes.values() for logs, _ in by_minute.values()) == len(records)
    assert step.logs == len(records)
    errors = sum(1 for record in records if record["status"] >= 500)
    assert sum(errors for by_minute in step.minutes.values() for _, errors in by_minute.values()) == errors
    assert [row[2:] for row in step.minute_rows()] == [
        (minute, logs, errs) for by_minute in step.minutes.values() for minute, (logs, errs) in by_minute.items()]


def test_first_seen_last_seen_and_sample_follow_event_time():
    miner = TemplateMiner()
    step = miner.mine([
        error_log(5, message="order o-1234567 failed", status=200),
        error_log(2, message="order o-7654321 failed", status=503),  # earlier: it becomes the sample
        error_log(9, message="order o-1111111 failed", status=201),
    ])
    [(tid, service, text, first, last, sample, sample_status)] = step.template_rows()
    assert (service, text) == ("svc", "order <id> failed")
    assert tid == template_id("svc", text)
    assert (first, last) == (T0 + timedelta(minutes=2), T0 + timedelta(minutes=9))
    assert (sample, sample_status) == ("order o-7654321 failed", 503)


# --- one step, two steps --------------------------------------------------------------------------

def combine(steps: list[MiningStep]) -> dict[str, dict[dt.datetime, list[int]]]:
    """Per-template minute counts as the store ends up with them: each step's ``store_merges`` move
    what earlier steps wrote (one after the other, in the order given, as ``template_store`` does),
    then the step's own counts are added."""
    stored: dict[str, dict[dt.datetime, list[int]]] = {}
    for step in steps:
        for old, new in step.store_merges():
            moved = stored.pop(old, {})
            into = stored.setdefault(new, {})
            for minute, (logs, errors) in moved.items():
                counts = into.setdefault(minute, [0, 0])
                counts[0] += logs
                counts[1] += errors
        for tid, by_minute in step.minutes.items():
            into = stored.setdefault(tid, {})
            for minute, (logs, errors) in by_minute.items():
                counts = into.setdefault(minute, [0, 0])
                counts[0] += logs
                counts[1] += errors
    return stored


def by_text(minutes: dict[str, dict[dt.datetime, list[int]]], texts: dict[str, tuple[str, str]]) -> Counter:
    """(service, template text, minute, "logs"|"errors") -> count."""
    out: Counter = Counter()
    for tid, by_minute in minutes.items():
        service, text = texts[tid]
        for minute, (logs, errors) in by_minute.items():
            out[(service, text, minute, "logs")] += logs
            out[(service, text, minute, "errors")] += errors
    return +out


@pytest.mark.parametrize("cut", [100, 2500, 5900])
def test_two_steps_with_a_state_round_trip_equal_one_step(records, cut):
    whole = TemplateMiner()
    one = whole.mine(records)
    texts = {t.template_id: (t.service, t.template) for t in whole.miner.templates()}
    expected = by_text(one.minutes, texts)

    first = TemplateMiner()
    step1 = first.mine(records[:cut])
    second = TemplateMiner.from_state_json(first.state_json())
    step2 = second.mine(records[cut:])
    assert step2.merges, "the second step must move ids the first one wrote, or the test shows little"
    assert second.state_json() == whole.state_json()

    stored = combine([step1, step2])
    texts2 = {t.template_id: (t.service, t.template) for t in second.miner.templates()}
    assert texts2 == texts
    assert set(stored) <= set(texts2), "counts left under an id that no longer exists"
    assert by_text(stored, texts2) == expected
    assert step1.fields + step2.fields == one.fields
    assert step1.logs + step2.logs == one.logs == len(records)


def test_state_json_is_refused_when_it_is_not_a_mining_state():
    with pytest.raises(ValueError, match="template-mining"):
        TemplateMiner.from_state_json(Miner().to_json())
    with pytest.raises(ValueError, match="template-mining"):
        TemplateMiner.from_state_json("[]")


# --- store_merges ---------------------------------------------------------------------------------

def merges_of(*pairs: tuple[str, str]) -> dict[str, str]:
    step = MiningStep(merges=list(pairs))
    result = step.store_merges()
    assert len(result) == len({old for old, _ in result})  # one move per id
    return dict(result)


def test_store_merges_of_no_merges_is_empty():
    assert MiningStep().store_merges() == []


def test_store_merges_single_and_independent_moves():
    assert merges_of(("A", "B")) == {"A": "B"}
    assert merges_of(("A", "B"), ("X", "Y")) == {"A": "B", "X": "Y"}


def test_store_merges_follow_a_chain_to_its_end():
    assert merges_of(("A", "B"), ("B", "C")) == {"A": "C", "B": "C"}
    assert merges_of(("A", "B"), ("B", "C"), ("C", "D")) == {"A": "D", "B": "D", "C": "D"}


def test_store_merges_take_the_first_merge_of_a_recreated_id():
    # A merged into B, then recreated in this step and merged into C: the store's A (written by
    # earlier steps) became B; the later A is one the store never saw
    assert merges_of(("A", "B"), ("A", "C")) == {"A": "B"}


def test_store_merges_send_a_first_merge_on_to_where_its_target_went():
    assert merges_of(("A", "B"), ("B", "D"), ("A", "C")) == {"A": "D", "B": "D"}


def test_store_merges_applied_in_order_put_earlier_counts_where_a_one_step_miner_has_them():
    step = MiningStep(merges=[("A", "B"), ("B", "C"), ("X", "C")])
    stored = {"A": {T0: [1, 0]}, "B": {T0: [10, 1]}, "X": {T0: [100, 0]}}
    for old, new in step.store_merges():
        for minute, counts in stored.pop(old, {}).items():
            into = stored.setdefault(new, {}).setdefault(minute, [0, 0])
            into[0] += counts[0]
            into[1] += counts[1]
    assert stored == {"C": {T0: [111, 1]}}


def test_store_merges_of_a_real_step_move_only_ids_of_earlier_steps_to_ids_that_exist(records):
    first = TemplateMiner()
    step1 = first.mine(records[:300])
    step2 = first.mine(records[300:])
    moves = dict(step2.store_merges())
    assert moves
    assert {old for old, _ in step2.merges} == set(moves)
    final = {t.template_id for t in first.miner.templates()}
    assert set(moves.values()) <= final
    assert not set(moves) & final
    assert set(moves) & set(step1.templates)  # some of what step 1 wrote moves


# --- field values of errors ----------------------------------------------------------------------

def test_only_errors_count_field_values_and_status_always_does():
    step = TemplateMiner().mine([
        error_log(0, status=200, host="h1"),
        error_log(0, status=404, host="h1"),
        error_log(0, status=499, host="h1"),
        error_log(0, status=500, host="h2"),
        error_log(1, status=503, host="h2"),
        error_log(1, status=503),  # no host: status is still counted
    ])
    assert step.fields == Counter({
        ("svc", T0, "status", "500"): 1,
        ("svc", T0, "host", "h2"): 1,
        ("svc", T0 + timedelta(minutes=1), "status", "503"): 2,
        ("svc", T0 + timedelta(minutes=1), "host", "h2"): 1,
    })
    assert sorted(step.field_rows()) == sorted((*key, count) for key, count in step.fields.items())


def test_fields_of_an_error_are_counted_per_service_and_minute():
    moment = T0 + timedelta(minutes=3, seconds=59, microseconds=999)
    step = TemplateMiner().mine([
        {"timestamp": moment, "service": "api", "status": "502", "message": "bad gateway", "region": "eu"},
        {"timestamp": moment, "service": "web", "status": 502, "message": "bad gateway", "region": "eu"},
    ])
    minute = T0 + timedelta(minutes=3)
    assert step.fields == Counter({(service, minute, name, value): 1 for service in ("api", "web")
                                   for name, value in (("status", "502"), ("region", "eu"))})


def test_not_fields_are_never_counted():
    log = error_log(0, **{name: "v" for name in NOT_FIELDS - {"timestamp", "service", "message"}})
    log["mood"] = "grumpy"
    step = TemplateMiner().mine([log])
    assert {name for _, _, name, _ in step.fields} == {"status", "mood"}


def test_only_str_int_and_bool_values_are_counted():
    step = TemplateMiner().mine([error_log(
        0, text="x", number=7, flag=True, ratio=0.25, nothing=None, mapping={"a": 1}, items=[1, 2])])
    assert {(name, value) for _, _, name, value in step.fields} == {
        ("status", "500"), ("text", "x"), ("number", "7"), ("flag", "True")}


def test_values_are_cut_to_max_value_chars():
    long_a = "a" * MAX_VALUE_CHARS + "tail-one"
    long_b = "a" * MAX_VALUE_CHARS + "tail-two"  # the same value once cut
    step = TemplateMiner().mine([error_log(0, note=long_a), error_log(0, note=long_b)])
    assert field_counts(step, "note") == Counter({"a" * MAX_VALUE_CHARS: 2})


def test_a_field_with_too_many_values_in_a_step_is_left_out_of_that_step_only():
    miner = TemplateMiner()
    many = [error_log(0, path=f"/p{i}", host="h1") for i in range(MAX_FIELD_VALUES + 1)]
    step = miner.mine([*many, error_log(0, path="/p0", service="other")])
    assert field_counts(step, "path") == Counter({"/p0": 1})  # only the other service's, under the cap
    assert [key[0] for key in step.fields if key[2] == "path"] == ["other"]
    assert field_counts(step, "host") == Counter({"h1": MAX_FIELD_VALUES + 1})  # other fields go on
    assert field_counts(step, "status") == Counter({"500": MAX_FIELD_VALUES + 2})

    # at the cap, a field is kept; the next step decides anew (hosts change with deploys)
    step = miner.mine([error_log(1, path=f"/q{i}") for i in range(MAX_FIELD_VALUES)])
    assert len(field_counts(step, "path")) == MAX_FIELD_VALUES
    restored = TemplateMiner.from_state_json(miner.state_json())
    assert set(json.loads(restored.state_json())) == {"format", "drain"}  # no field values in the state
    step = restored.mine([error_log(2, path="/p3"), error_log(2, path="/p3")])
    assert field_counts(step, "path") == Counter({"/p3": 2})


# --- log_moment ------------------------------------------------------------------------------------

def test_log_moment_keeps_a_naive_datetime():
    moment = datetime(2026, 3, 1, 12, 30, 15, 250000)
    assert log_moment(moment) == moment
    assert log_moment(moment).tzinfo is None


def test_log_moment_turns_an_aware_datetime_into_naive_utc():
    aware = datetime(2026, 3, 1, 12, 30, tzinfo=dt.timezone(timedelta(hours=-5)))
    assert log_moment(aware) == datetime(2026, 3, 1, 17, 30)
    assert log_moment(aware).tzinfo is None
    assert log_moment(datetime(2026, 3, 1, 1, 0, tzinfo=UTC)) == datetime(2026, 3, 1, 1, 0)


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-01-01T00:00:00.050Z", datetime(2026, 1, 1, 0, 0, 0, 50000)),
    ("2026-01-01T01:30:00+02:00", datetime(2025, 12, 31, 23, 30)),
    ("2026-01-01T01:30:00", datetime(2026, 1, 1, 1, 30)),
])
def test_log_moment_reads_iso_strings(text, expected):
    moment = log_moment(text)
    assert moment == expected
    assert moment.tzinfo is None


def test_string_and_datetime_timestamps_land_in_the_same_minute():
    step = TemplateMiner().mine([
        {"timestamp": "2026-01-01T02:59:59.999+02:00", "service": "s", "status": 500, "message": "m"},
        {"timestamp": datetime(2026, 1, 1, 0, 59, 1, tzinfo=UTC), "service": "s", "status": 200, "message": "m"},
    ])
    [by_minute] = step.minutes.values()
    assert by_minute == {datetime(2026, 1, 1, 0, 59): [2, 1]}


# --- messages of other shapes ---------------------------------------------------------------------

def java_trace(first_line: str, frames: int) -> str:
    frame = "\tat com.example.shop.OrderService.place(OrderService.java:{})\n"
    return first_line + "\n" + "".join(frame.format(i) for i in range(frames)) + "Caused by: java.io.IOException\n"


PYTHON_TRACE = (
    "Traceback (most recent call last):\n"
    '  File "/srv/app/orders.py", line 42, in place\n'
    "    total = compute(cart)\n"
    '  File "/srv/app/pricing.py", line 7, in compute\n'
    "    raise ValueError(f'bad price {price}')\n"
    "ValueError: bad price 12.50\n"
)


def test_messages_of_other_shapes_mine_and_their_samples_are_cut():
    java = java_trace("java.lang.IllegalStateException: order o-0012345 is closed", 3000)
    java_2 = java_trace("java.lang.IllegalStateException: order o-9999999 is closed", 5)
    document = {"event": "payment_failed", "code": 17, "nested": {"k": [1, 2]}}
    huge = "disk full on /var/lib/data " + "x" * (300 * 1024)
    assert len(java) > MAX_SAMPLE_CHARS and len(huge) >= 300 * 1024
    miner = TemplateMiner()
    step = miner.mine([
        error_log(0, service="java", message=java),
        error_log(1, service="java", message=java_2),
        error_log(0, service="py", message=PYTHON_TRACE),
        error_log(0, service="doc", message=document),  # type: ignore[arg-type]
        error_log(0, service="huge", message=huge),
    ])
    assert step.logs == 5
    rows = {row[1]: row for row in step.template_rows()}
    assert set(rows) == {"java", "py", "doc", "huge"}
    for tid, service, text, *_ in rows.values():
        assert template_id(service, text) == tid

    assert rows["java"][2] == "java.lang.IllegalStateException: order <id> is closed"
    assert rows["java"][5] == java[:MAX_SAMPLE_CHARS]
    assert step.minutes[rows["java"][0]] == {T0: [1, 1], T0 + timedelta(minutes=1): [1, 1]}

    assert rows["py"][2] == "ValueError: bad price <num>"  # a traceback names its error last
    assert rows["py"][5] == PYTHON_TRACE

    assert rows["doc"][5] == json.dumps(document)  # a non-string message is mined as its JSON text
    assert rows["doc"][2] == '{"<str>": "<str>", "<str>": <num>, "<str>": {"<str>": [<num>, <num>]}}'

    assert rows["huge"][5] == huge[:MAX_SAMPLE_CHARS]
    assert len(rows["huge"][5]) == MAX_SAMPLE_CHARS
    assert rows["huge"][2] == "disk full on /var/lib/data"  # the token cut by the character cap is dropped

    restored = TemplateMiner.from_state_json(miner.state_json())  # such templates survive the state
    again = restored.mine([error_log(5, service="huge", message=huge),
                           error_log(5, service="py", message=PYTHON_TRACE)])
    assert {row[0] for row in again.template_rows()} == {rows["huge"][0], rows["py"][0]}
