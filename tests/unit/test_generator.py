"""The log generator, its scenarios, its malformed records, its ground truth and the producer's
batching and retry loop: everything that needs no server."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import statistics
import uuid
import zlib
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from pipeline.cli import main
from pipeline.generate.generator import GeneratorConfig, LogEvent, LogGenerator, encode_record, generate
from pipeline.generate.ground_truth import GROUND_TRUTH_FILE, Tally, build_ground_truth, reserve_run, write_ground_truth
from pipeline.generate.malformed import BAD_KINDS, KINESIS_MAX_RECORD_BYTES, REQUIRED_FIELDS, dumps
from pipeline.generate.messages import NEW_ERROR_TEMPLATE, MessageBook
from pipeline.generate.producer import (
    MAX_BYTES_PER_CALL,
    MAX_RECORDS_PER_CALL,
    KinesisProducer,
    ProducerError,
    batches,
    record_size,
)
from pipeline.generate.scenarios import SCENARIOS, LatencyCreep, PaymentOutage, describe_scenarios, make_scenario
from pipeline.generate.traffic import DEFAULT_SERVICES, level_for
from pipeline.ingest.runtime import DEFAULT_HANDLER, load_handler
from pipeline.settings import Settings

START = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
FIELDS = ["timestamp", "service", "status", "message", "latency_ms", "request_id", "host", "level"]


def backfill(count=5000, minutes=30, **kwargs) -> GeneratorConfig:
    return GeneratorConfig(count=count, start=START, end=START + timedelta(minutes=minutes), **kwargs)


_HANDLER = load_handler(DEFAULT_HANDLER).__globals__


def lambda_refuses(data: bytes) -> str | None:
    """The real Lambda's validation (lambda/handler.py, the record contract): its reason, or None."""
    try:
        _HANDLER["parse_log"](data)
    except _HANDLER["InvalidRecord"] as exc:
        return str(exc)
    return None


def test_the_generator_and_the_lambda_agree_on_the_required_fields():
    assert _HANDLER["REQUIRED_FIELDS"] == REQUIRED_FIELDS


def template_pattern(text: str) -> re.Pattern[str]:
    """A regex matching every message filled in from the template ``text``."""
    return re.compile("^" + re.sub(r"\\\{\w+\\\}", ".+?", re.escape(text)) + "$")


def percentile(values, q):
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


# --- determinism -------------------------------------------------------------------------------

def test_same_seed_and_arguments_give_byte_identical_records():
    config = backfill(seed=11, scenario=PaymentOutage(), bad_fraction=0.05)
    first = [(e.data, e.partition_key) for e in generate(config)]
    second = [(e.data, e.partition_key) for e in generate(config)]
    other_seed = [(e.data, e.partition_key) for e in generate(backfill(seed=12, scenario=PaymentOutage()))]

    assert first == second
    assert len({d for d, _ in first} & {d for d, _ in other_seed}) == 0


def test_malformed_records_do_not_change_the_valid_records_around_them():
    clean = list(generate(backfill(seed=3)))
    dirty = list(generate(backfill(seed=3, bad_fraction=0.05)))

    kept = [(c.data, d.data) for c, d in zip(clean, dirty, strict=True) if d.record is not None]
    assert len(kept) < len(clean)  # some were replaced ...
    assert all(c == d for c, d in kept)  # ... and every other one is the same


class FakeClock:
    """Wall-clock time that only moves when the generator sleeps."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.slept = 0.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


def test_live_mode_paces_at_the_rate_stamps_now_and_keeps_content_deterministic():
    config = GeneratorConfig(count=200, rate=100.0, seed=5, scenario=PaymentOutage(start_min=0))
    runs = []
    for began in (1_800_000_000.0, 1_800_000_123.456):
        clock = FakeClock(began)
        generator = LogGenerator(config, clock=clock.time, sleep=clock.sleep)
        events = list(generator)
        assert clock.slept == pytest.approx(199 / 100.0, abs=0.01)  # 200 events at 100/s
        assert generator.anchor.timestamp() == pytest.approx(began, abs=0.001)
        first = datetime.fromisoformat(events[0].record["timestamp"])
        assert abs(first.timestamp() - began) < 0.002
        runs.append([{k: v for k, v in e.record.items() if k != "timestamp"} for e in events])
    assert runs[0] == runs[1]


# --- the records --------------------------------------------------------------------------------

def test_every_valid_record_has_the_schema_and_passes_the_lambdas_validation():
    config = backfill(count=20_000, seed=1, scenario=PaymentOutage(), bad_fraction=0.0)
    events = list(generate(config))
    services = {s.name for s in DEFAULT_SERVICES}
    previous = ""
    for event in events:
        record = event.record
        assert list(record) == FIELDS
        assert json.loads(event.data) == record
        assert event.data == dumps(record)  # the fast encoder writes exactly what json.dumps would
        assert lambda_refuses(event.data) is None
        assert TIMESTAMP.match(record["timestamp"]) and record["timestamp"] >= previous  # in time order
        previous = record["timestamp"]
        assert START <= datetime.fromisoformat(record["timestamp"]) < START + timedelta(minutes=30)
        assert record["service"] in services
        assert type(record["status"]) is int and 100 <= record["status"] <= 599
        assert type(record["latency_ms"]) is float and record["latency_ms"] > 0
        assert record["level"] == level_for(record["status"])
        assert record["host"].startswith(record["service"] + "-")
        assert uuid.UUID(record["request_id"]).version == 4 and event.partition_key == record["request_id"]
    assert len({e.partition_key for e in events}) == len(events)


def test_encode_record_matches_json_dumps_for_awkward_strings():
    record = {"timestamp": "2026-11-27T10:00:00.000Z", "service": "search", "status": 200,
              "message": 'query "caf\u00e9\\n" \u2603 returned 3 results', "latency_ms": 1e-05,
              "request_id": "x", "host": "h", "level": "INFO"}
    assert encode_record(record) == dumps(record)


def test_traffic_is_realistic_shares_long_tails_and_a_status_mix():
    records = [e.record for e in generate(backfill(count=30_000, seed=2))]
    by_service = Counter(r["service"] for r in records)
    total_weight = sum(s.weight for s in DEFAULT_SERVICES)
    for profile in DEFAULT_SERVICES:
        share = by_service[profile.name] / len(records)
        assert share == pytest.approx(profile.weight / total_weight, abs=0.015)
        latencies = [r["latency_ms"] for r in records if r["service"] == profile.name and r["status"] != 504]
        median = statistics.median(latencies)
        assert median == pytest.approx(profile.latency_median_ms, rel=0.15)
        assert percentile(latencies, 99) > 2.5 * median  # a long tail, not a uniform spread
    families = Counter(r["status"] // 100 for r in records)
    assert families[2] / len(records) > 0.9
    assert 0 < families[5] / len(records) < 0.01
    assert families[4] > families[5]


def test_messages_come_from_few_templates_with_many_variable_parts():
    records = [e.record for e in generate(backfill(count=10_000, seed=4))]
    patterns = [template_pattern(t) for t in MessageBook().templates()]
    used = Counter()
    for record in records:
        matching = [i for i, p in enumerate(patterns) if p.match(record["message"])]
        assert matching, record["message"]
        used[matching[0]] += 1
    distinct_messages = len({r["message"] for r in records})
    assert len(used) <= len(patterns) < 50  # messages cluster into a few dozen patterns ...
    assert distinct_messages > 0.5 * len(records)  # ... with variable parts that make most lines unique


# --- scenarios and their ground truth -----------------------------------------------------------

def split(records, service, incident):
    inside, outside = [], []
    for r in records:
        if r["service"] != service:
            continue
        at = datetime.fromisoformat(r["timestamp"])
        (inside if incident.start <= at < incident.end else outside).append(r)
    return inside, outside


def server_error_rate(records):
    return sum(r["status"] >= 500 for r in records) / len(records)


def test_payment_outage_raises_5xx_and_latency_of_one_service_inside_its_window_only():
    scenario = make_scenario("payment-outage", {"start_min": "10", "duration_min": "10", "error_rate": "0.5"})
    generator = LogGenerator(backfill(count=40_000, minutes=40, seed=6, scenario=scenario))
    records = [e.record for e in generator]
    incident = generator.incident
    assert (incident.service, incident.start, incident.end) == (
        "payment", START + timedelta(minutes=10), START + timedelta(minutes=20))

    inside, outside = split(records, "payment", incident)
    assert server_error_rate(inside) == pytest.approx(0.5, abs=0.06)
    assert server_error_rate(outside) < 0.02
    ok_latency = lambda rs: statistics.median(r["latency_ms"] for r in rs if r["status"] < 500)  # noqa: E731
    assert ok_latency(inside) > 3 * ok_latency(outside)
    others_inside, others_outside = split(records, "search", incident)
    assert server_error_rate(others_inside) < 0.03 and server_error_rate(others_outside) < 0.03


def test_latency_creep_raises_p95_slowly_without_errors():
    scenario = LatencyCreep(start_min=10, duration_min=20, p95_factor=4.0)
    generator = LogGenerator(backfill(count=60_000, minutes=40, seed=8, scenario=scenario))
    records = [e.record for e in generator]
    incident = generator.incident
    inside, outside = split(records, "search", incident)

    def p95(rs):
        return percentile([r["latency_ms"] for r in rs if r["status"] != 504], 95)

    quarters = [[r for r in inside if incident.start + i * timedelta(minutes=5)
                 <= datetime.fromisoformat(r["timestamp"]) < incident.start + (i + 1) * timedelta(minutes=5)]
                for i in range(4)]
    rising = [p95(q) for q in quarters]
    assert rising == sorted(rising)  # it creeps up, quarter after quarter
    assert rising[-1] > 2.5 * p95(outside)
    assert statistics.median(r["latency_ms"] for r in inside) < 1.5 * statistics.median(
        r["latency_ms"] for r in outside)
    assert server_error_rate(inside) < 0.02  # no extra errors


def test_ground_truth_matches_what_was_generated(tmp_path):
    settings = Settings(var_dir=tmp_path)
    generator = LogGenerator(backfill(count=8000, seed=9, scenario=PaymentOutage(), bad_fraction=0.05))
    tally = Tally()
    events = list(tally.watch(generator))
    run_id, run_dir = reserve_run(settings, "payment-outage", now=START)
    truth = build_ground_truth(run_id=run_id, generator=generator, tally=tally, stream="s")
    path = write_ground_truth(run_dir, truth)

    assert path == tmp_path / "runs" / "20261127T100000Z-payment-outage" / GROUND_TRUTH_FILE
    assert reserve_run(settings, "payment-outage", now=START)[0] == "20261127T100000Z-payment-outage-2"
    loaded = json.loads(path.read_text())
    assert loaded["scenario"] == "payment-outage" and loaded["service"] == "payment" and loaded["seed"] == 9
    assert loaded["incident"]["start_minute"] == "2026-11-27T10:05"
    assert loaded["failing_host"] is None  # no host-failure incident
    assert {e.record["host"] for e in events if e.record and e.record["service"] == "payment"} <= set(
        loaded["hosts"]["payment"])
    assert loaded["incident"]["minutes"] == [f"2026-11-27T10:{m:02d}" for m in range(5, 15)]
    assert loaded["incident"]["full_minutes"] == loaded["incident"]["minutes"]  # the run starts on a whole minute
    assert loaded["parameters"] == {"service": "payment", "start_min": 5, "duration_min": 10,
                                    "error_rate": 0.4, "latency_factor": 5.0}
    bad = [(i, e) for i, e in enumerate(events) if e.record is None]
    assert [(m["index"], m["kind"], m["sha256"]) for m in loaded["malformed"]] == [
        (i, e.bad_kind, hashlib.sha256(e.data).hexdigest()) for i, e in bad]
    counts = loaded["counts"]
    assert counts["generated"] == 8000 and counts["valid"] + counts["malformed"] == 8000
    assert counts["by_kind"] == dict(Counter(e.bad_kind for _, e in bad))
    assert counts["by_service"] == dict(Counter(e.record["service"] for e in events if e.record))
    inside, outside = split([e.record for e in events if e.record], "payment", generator.incident)
    assert counts["incident"] == {
        "records_in_window": len(inside), "server_errors_in_window": sum(r["status"] >= 500 for r in inside),
        "records_outside": len(outside), "server_errors_outside": sum(r["status"] >= 500 for r in outside)}
    assert counts["sent"] == 0 and loaded["complete"] is False  # nothing was sent in this test


def test_incident_window_is_relative_to_the_run_start_and_lists_touched_and_full_minutes():
    incident = PaymentOutage(start_min=2, duration_min=3).incident(START + timedelta(seconds=17.5))
    assert incident.start == START + timedelta(minutes=2, seconds=17.5)
    assert incident.end == START + timedelta(minutes=5, seconds=17.5)
    assert incident.minutes() == [START + timedelta(minutes=m) for m in (2, 3, 4, 5)]
    assert incident.full_minutes() == [START + timedelta(minutes=m) for m in (3, 4)]


@pytest.mark.parametrize(("name", "params", "message"), [
    ("flood", {}, "unknown scenario 'flood'"),
    ("payment-outage", {"colour": "red"}, "has no parameter 'colour'"),
    ("payment-outage", {"error_rate": "lots"}, "error_rate='lots' is not a float"),
    ("payment-outage", {"error_rate": "1.5"}, "error_rate must be within [0, 1]"),
    ("latency-creep", {"duration_min": "0"}, "duration_min must be > 0"),
    ("latency-creep", {"p95_factor": "0.5"}, "p95_factor must be >= 1"),
    ("host-failure", {"error_rate": "2"}, "error_rate must be within [0, 1]"),
    ("host-failure", {"host": "-1"}, "host must be >= 0"),
    ("low-traffic-errors", {"requests_per_min": "0"}, "requests_per_min must be > 0"),
    ("error-creep", {"added_error_rate": "1.5"}, "added_error_rate must be within [0, 1]"),
    ("new-error", {"status": "404"}, "status must be a 5xx code"),
    ("new-error", {"message_template": "boom in {module}"}, "unknown placeholders ['module']"),
    ("noisy-day", {"amplitude": "1"}, "amplitude must be within [0, 1)"),
    ("noisy-day", {"peak_hour": "24"}, "peak_hour must be within [0, 24)"),
])
def test_bad_scenario_parameters_are_refused_clearly(name, params, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make_scenario(name, params)


def window_minutes(records, service, incident):
    """The service's records inside the incident window, split into its quarters."""
    inside, _ = split(records, service, incident)
    quarter = (incident.end - incident.start) / 4
    return [[r for r in inside if incident.start + i * quarter <= datetime.fromisoformat(r["timestamp"])
             < incident.start + (i + 1) * quarter] for i in range(4)]


def test_host_failure_fails_one_host_of_the_service_and_lifts_its_5xx_by_a_host_share():
    generator = LogGenerator(backfill(count=40_000, minutes=40, seed=6,
                                      scenario=make_scenario("host-failure", {"start_min": "10"})))
    records = [e.record for e in generator]
    incident = generator.incident
    assert incident.service == "auth" and incident.end - incident.start == timedelta(minutes=10)
    inside, outside = split(records, "auth", incident)
    by_host = {host: server_error_rate([r for r in inside if r["host"] == host])
               for host in {r["host"] for r in inside}}
    assert len(by_host) == 3
    failing = max(by_host, key=by_host.get)
    assert by_host[failing] == 1.0 and generator.failing_host == failing  # the ground truth names it
    assert all(rate < 0.03 for host, rate in by_host.items() if host != failing)
    assert server_error_rate(inside) == pytest.approx(1 / 3, abs=0.05)  # one host of three
    assert server_error_rate(outside) < 0.02
    assert server_error_rate([r for r in outside if r["host"] == failing]) < 0.03  # only inside the window


def test_low_traffic_errors_makes_one_service_quiet_for_the_whole_run_then_fails_it():
    scenario = make_scenario("low-traffic-errors", {"start_min": "10", "requests_per_min": "5"})
    generator = LogGenerator(backfill(count=40_000, minutes=60, seed=3, scenario=scenario))
    records = [e.record for e in generator]
    counts = Counter(r["service"] for r in records)
    assert counts["payment"] / 60 == pytest.approx(5, rel=0.25)  # a few requests a minute, all run long
    others = sum(p.weight for p in DEFAULT_SERVICES if p.name != "payment")
    assert counts["gateway"] / (len(records) - counts["payment"]) == pytest.approx(30 / others, abs=0.01)
    inside, outside = split(records, "payment", generator.incident)
    assert server_error_rate(inside) == pytest.approx(0.6, abs=0.15)
    assert server_error_rate(outside) < 0.05
    with pytest.raises(ValueError, match="needs a run of more than"):
        list(LogGenerator(backfill(count=100, minutes=60, seed=3, scenario=scenario)))  # 100 events in an hour


def test_error_creep_grows_the_5xx_share_quarter_after_quarter_then_recovers():
    generator = LogGenerator(backfill(count=60_000, minutes=40, seed=8,
                                      scenario=make_scenario("error-creep", {"start_min": "10"})))
    records = [e.record for e in generator]
    quarters = [server_error_rate(q) for q in window_minutes(records, "inventory", generator.incident)]
    assert quarters == sorted(quarters)
    assert quarters[0] < 0.08 and quarters[-1] == pytest.approx(0.003 + 0.3 * 7 / 8, abs=0.06)
    after = [r for r in records if r["service"] == "inventory"
             and datetime.fromisoformat(r["timestamp"]) >= generator.incident.end]
    assert server_error_rate(after) < 0.02  # recovered at once


def test_new_error_brings_a_message_the_service_never_wrote_at_a_modest_rate():
    generator = LogGenerator(backfill(count=60_000, minutes=60, seed=4,
                                      scenario=make_scenario("new-error", {"start_min": "20"})))
    records = [e.record for e in generator]
    incident = generator.incident
    template = template_pattern(NEW_ERROR_TEMPLATE)
    known = [template_pattern(t) for t in MessageBook().templates()]
    new = [r for r in records if template.match(r["message"])]
    assert new and all(r["service"] == "checkout" and r["status"] == 500 and r["level"] == "ERROR" for r in new)
    assert all(incident.start <= datetime.fromisoformat(r["timestamp"]) < incident.end for r in new)
    assert not any(p.match(r["message"]) for r in new for p in known)  # never one of the usual messages
    inside, outside = split(records, "checkout", incident)
    assert len(new) / len(inside) == pytest.approx(0.04, abs=0.015)
    assert server_error_rate(inside) == pytest.approx(server_error_rate(outside) + 0.04, abs=0.02)  # no outage
    assert generator.config.scenario.parameters()["message_template"] == NEW_ERROR_TEMPLATE  # in the ground truth


def test_noisy_day_has_no_incident_a_daily_volume_curve_and_isolated_blips():
    scenario = make_scenario("noisy-day")
    day = datetime(2026, 11, 27, tzinfo=UTC)
    generator = LogGenerator(GeneratorConfig(count=48_000, start=day, end=day + timedelta(days=1), seed=2,
                                             scenario=scenario))
    records = [e.record for e in generator]
    assert generator.incident is None
    hours = Counter(int(r["timestamp"][11:13]) for r in records)
    assert hours[14] / hours[2] == pytest.approx(1.6 / 0.4, rel=0.15)  # busy at 14:00 UTC, quiet at night
    assert sum(hours.values()) == 48_000

    names = tuple(p.name for p in DEFAULT_SERVICES)
    first = int(day.timestamp() // 60)

    def day_of_blips() -> list:
        return [(m, b) for m in range(first, first + 1440) if (b := scenario.blip(2, m, names)) is not None]

    blips = day_of_blips()
    assert 30 <= len(blips) <= 60  # about two an hour
    for service in names:
        minutes = [m for m, b in blips if b.service == service]
        assert all(later - earlier >= 4 for earlier, later in itertools.pairwise(minutes))  # isolated
    assert day_of_blips() == blips  # the same every time
    minute, blip = blips[len(blips) // 2]
    in_blip = [r for r in records if r["service"] == blip.service and int(
        datetime.fromisoformat(r["timestamp"]).timestamp() // 60) == minute]
    if blip.effect.server_error_rate is not None:
        assert server_error_rate(in_blip) > 0.05
    else:
        assert statistics.median(r["latency_ms"] for r in in_blip) > 2 * next(
            p.latency_median_ms for p in DEFAULT_SERVICES if p.name == blip.service)


def test_a_live_noisy_day_paces_by_its_volume_curve():
    clock = {"now": datetime(2026, 11, 27, 2, 0, tzinfo=UTC).timestamp()}  # 02:00 UTC: volume about 0.48
    config = GeneratorConfig(count=400, rate=100.0, seed=1, scenario=make_scenario("noisy-day"))
    generator = LogGenerator(config, clock=lambda: clock["now"],
                             sleep=lambda s: clock.__setitem__("now", clock["now"] + s))
    began = clock["now"]
    list(generator)
    level = 1 + 0.6 * math.cos((2 / 24 - 14 / 24) * 2 * math.pi)
    assert clock["now"] - began == pytest.approx(399 / (100 * level), rel=0.02)


def test_every_scenario_is_described_and_made_from_its_defaults():
    text = describe_scenarios()
    for name in SCENARIOS:
        assert f"  {name}: " in text
        assert make_scenario(name).name == name


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"bad_fraction": 1.5, "rate": 1.0}, "bad_fraction must be within [0, 1]"),
    ({"start": START, "end": START, "count": 1}, "must be after start"),
    ({"start": START, "count": 1}, "needs both start and end"),
    ({"count": 5}, "live mode needs a rate"),
    ({"start": START, "end": START + timedelta(1), "count": 5, "rate": 3.0}, "rate and duration are for live mode"),
])
def test_bad_generator_configs_are_refused_clearly(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        GeneratorConfig(**kwargs)


# --- malformed records --------------------------------------------------------------------------

NOT_A_JSON_OBJECT = ("not UTF-8", "not JSON", "not a JSON object")
_ABSENT = object()


def _differs(a: object, b: object) -> bool:
    return type(a) is not type(b) or a != b  # 503.0 == 503 and True == 1 in Python, not in the contract


def test_every_bad_kind_is_made_and_the_lambda_refuses_each_for_the_one_rule_it_breaks():
    count = 4000
    events = list(generate(backfill(count=count, seed=10, bad_fraction=0.5)))
    originals = [e.record for e in generate(backfill(count=count, seed=10))]  # the valid records they were made of
    bad = [(e, originals[i]) for i, e in enumerate(events) if e.record is None]
    assert Counter(e.bad_kind for e, _ in bad).keys() == set(BAD_KINDS)
    assert all(lambda_refuses(e.data) is None for e in events if e.record is not None)
    broken_fields: Counter[tuple[str, str]] = Counter()
    for event, original in bad:
        reason = lambda_refuses(event.data)
        assert reason is not None, (event.bad_kind, event.data[:200])  # quarantined, never stored
        if event.bad_kind == "not_json":
            assert reason.startswith(NOT_A_JSON_OBJECT), reason
            continue
        record = json.loads(event.data)
        (field,) = [k for k in original if _differs(record.get(k, _ABSENT), original[k])]  # one field broken
        assert set(record) <= set(original) and field in REQUIRED_FIELDS
        broken_fields[event.bad_kind, field] += 1
        if event.bad_kind == "missing_field":
            assert record.get(field) is None  # absent or null
            assert reason == f"missing field(s): {field}"
        else:  # wrong_type: another JSON type than a valid record's; out_of_range: the same type
            assert (type(record[field]) is not type(original[field])) == (event.bad_kind == "wrong_type"), record
            assert reason.startswith(f"{field} is not "), (reason, record[field])
    assert set(broken_fields) == {("missing_field", f) for f in REQUIRED_FIELDS} | {
        ("wrong_type", f) for f in ("timestamp", "service", "status", "latency_ms")} | {
        ("out_of_range", f) for f in ("timestamp", "status", "latency_ms")}



# --- the producer: batching limits (pure) and the retry loop ------------------------------------

def make_events(sizes):
    return [LogEvent(b"x" * size, f"key-{i}", None, None) for i, size in enumerate(sizes)]


def test_batches_hold_at_most_500_records_and_5_mib_in_order():
    small = make_events([100] * 1234)
    grouped = list(batches(small))
    assert [len(b) for b in grouped] == [500, 500, 234]
    assert [e for b in grouped for e in b] == small

    big = make_events([900 * 1024] * 13)  # 5 fit in 5 MiB, the sixth would not
    grouped = list(batches(big))
    assert [len(b) for b in grouped] == [5, 5, 3]
    assert all(sum(record_size(e) for e in b) <= MAX_BYTES_PER_CALL for b in grouped)


def test_batches_of_real_events_with_malformed_records_respect_both_limits():
    events = list(generate(backfill(count=1500, seed=12, bad_fraction=0.3)))
    grouped = list(batches(events))
    assert [e for b in grouped for e in b] == events
    assert all(len(b) <= MAX_RECORDS_PER_CALL and sum(map(record_size, b)) <= MAX_BYTES_PER_CALL for b in grouped)


def test_a_record_kinesis_cannot_take_is_refused_before_sending():
    with pytest.raises(ValueError, match="over Kinesis' limit"):
        list(batches(make_events([KINESIS_MAX_RECORD_BYTES])))


def test_live_batches_close_after_the_linger_time():
    ticks = iter(range(100))
    grouped = list(batches(make_events([10] * 9), linger_s=2.5, clock=lambda: next(ticks)))
    assert [len(b) for b in grouped] == [3, 3, 3]


def test_ctrl_c_in_a_live_run_still_sends_what_was_generated():
    def interrupted_after_seven():
        yield from make_events([10] * 7)
        raise KeyboardInterrupt

    grouped = batches(interrupted_after_seven())
    assert len(next(grouped)) == 7
    with pytest.raises(KeyboardInterrupt):
        next(grouped)


class FlakyKinesis:
    """Stands in for the Kinesis client: fails chosen records (as PutRecords does under
    throttling) and records what was accepted."""

    def __init__(self, fail_first_attempts: int = 1, every: int = 3, call_errors: int = 0) -> None:
        self.fail_first_attempts = fail_first_attempts
        self.every = every
        self.call_errors = call_errors
        self.attempts: Counter[bytes] = Counter()
        self.accepted: list[bytes] = []
        self.calls: list[int] = []

    def unlucky(self, data: bytes) -> bool:
        """The same records fail on every attempt (until ``fail_first_attempts`` are used up)."""
        return zlib.crc32(data) % self.every == 0

    def put_records(self, StreamName, Records):  # boto3's argument names
        self.calls.append(len(Records))
        if self.call_errors:
            self.call_errors -= 1
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                              "PutRecords")
        results = []
        for entry in Records:
            self.attempts[entry["Data"]] += 1
            if self.attempts[entry["Data"]] <= self.fail_first_attempts and self.unlucky(entry["Data"]):
                results.append({"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded"})
            else:
                self.accepted.append(entry["Data"])
                results.append({"SequenceNumber": str(len(self.accepted)), "ShardId": "shardId-000000000000"})
        return {"FailedRecordCount": sum("ErrorCode" in r for r in results), "Records": results}


@pytest.mark.parametrize("concurrency", [1, 3])
def test_failed_records_are_resent_until_accepted_exactly_once(concurrency):
    events = list(generate(backfill(count=1200, seed=13)))
    client = FlakyKinesis(fail_first_attempts=2, every=4, call_errors=1)
    sleeps = []
    producer = KinesisProducer(client, "s", concurrency=concurrency, sleep=sleeps.append)

    stats = producer.send(events, total=len(events), progress=False)

    assert sorted(client.accepted) == sorted(e.data for e in events)  # all of them, none twice
    assert stats.sent == 1200 and stats.failed_retried > 0 and stats.calls == len(client.calls)
    assert max(client.calls) <= MAX_RECORDS_PER_CALL
    assert sleeps and all(s > 0 for s in sleeps)


def test_backoff_grows_exponentially_with_jitter():
    producer = KinesisProducer(FlakyKinesis(), "s", base_delay_s=0.1, max_delay_s=1.0)
    delays = [producer._backoff(retry) for retry in range(1, 7)]
    for retry, delay in enumerate(delays, start=1):
        step = min(1.0, 0.1 * 2 ** (retry - 1))
        assert step / 2 <= delay <= step


def test_the_producer_gives_up_after_max_attempts_and_says_how_many_were_not_sent():
    events = list(generate(backfill(count=100, seed=14)))
    client = FlakyKinesis(fail_first_attempts=99, every=10)
    producer = KinesisProducer(client, "log-stream", max_attempts=4, sleep=lambda _: None)

    unlucky = sum(client.unlucky(e.data) for e in events)
    assert 0 < unlucky < 100

    with pytest.raises(ProducerError, match=rf"^{unlucky} records were not sent to stream 'log-stream'.*"
                                            r"after 4 attempts") as err:
        producer.send(events, progress=False)
    assert err.value.unsent == unlucky and err.value.stats.sent == 100 - unlucky
    assert client.calls == [100, unlucky, unlucky, unlucky]


def test_errors_that_retrying_cannot_fix_are_raised_at_once():
    class Missing:
        def put_records(self, **_):
            raise ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "no stream"}}, "PutRecords")

    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        KinesisProducer(Missing(), "s").send(make_events([10]), progress=False)


# --- the command line: wrong arguments exit with 2 before anything is sent ----------------------

def run_cli(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    (["--start", "2026-11-27T11:00Z", "--end", "2026-11-27T10:00Z", "--count", "5"], "must be after --start"),
    (["--scenario", "flood"], "invalid choice: 'flood'"),
    (["--bad-fraction", "1.5"], "must be within [0, 1]"),
    (["--bad-fraction", "-0.1"], "must be >= 0"),
    (["--start", "2026-11-27T10:00Z"], "needs both --start and --end"),
    (["--start", "now-2h", "--end", "now"], "needs --count"),
    (["--start=-2h", "--end", "now", "--count", "5", "--rate", "3"], "are for live mode"),
    (["--start", "yesterday", "--end", "now"], "not an ISO-8601 time"),
    (["--count", "5", "--duration", "3"], "--count or --duration, not both"),
    (["--scenario", "payment-outage", "-p", "error_rate=2"], "error_rate must be within [0, 1]"),
    (["--scenario", "payment-outage", "-p", "speed"], "expected KEY=VALUE"),
    (["--scenario", "new-error", "-p", "status=404"], "status must be a 5xx code"),
    (["--scenario", "noisy-day", "-p", "blips_per_hour=many"], "blips_per_hour='many' is not a float"),
])
def test_wrong_arguments_give_a_clear_message_and_exit_code_2(argv, message, capsys):
    code, err = run_cli(["generate", *argv], capsys)
    assert code == 2
    assert message in err
