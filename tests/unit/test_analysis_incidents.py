"""Incident detection on per-minute figures: the injected incident of each scenario, and nothing else."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pipeline.analysis.incidents import INCIDENT_COLUMNS, DetectionParams, detect_incidents, score_minutes
from pipeline.generate.generator import GeneratorConfig, LogGenerator
from pipeline.generate.scenarios import make_scenario

START = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)


def generated_minutes(scenario: str, seed: int, count: int, minutes: int = 60):
    """Per service and minute: requests, 5xx and p95 of a generator run (what Trino computes)."""
    generator = LogGenerator(GeneratorConfig(count=count, start=START, end=START + dt.timedelta(minutes=minutes),
                                             seed=seed, scenario=make_scenario(scenario)))
    frame = pd.DataFrame([event.record for event in generator])
    frame["minute"] = pd.to_datetime(frame["timestamp"]).dt.tz_localize(None).dt.floor("min")
    frame["is_5xx"] = frame["status"] >= 500
    grouped = frame.groupby(["service", "minute"])
    out = grouped.agg(requests=("status", "size"), status_5xx=("is_5xx", "sum"),
                      p95=("latency_ms", lambda s: float(np.percentile(s, 95)))).reset_index()
    return out, generator.incident


def naive(moment: dt.datetime) -> pd.Timestamp:
    return pd.Timestamp(moment).tz_convert("UTC").tz_localize(None)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("count", [20_000, 120_000])
def test_payment_outage_is_found_exactly(seed, count):
    minutes, truth = generated_minutes("payment-outage", seed, count)
    found = detect_incidents(minutes)
    assert list(found["service"]) == [truth.service]
    incident = found.iloc[0]
    # every minute of the outage is bad enough to be flagged; allow one edge minute of noise
    assert abs(incident["start"] - naive(truth.start)) <= pd.Timedelta(minutes=1)
    assert abs(incident["end"] - naive(truth.end)) <= pd.Timedelta(minutes=1)
    assert incident["metrics"] == "error_rate+p95_latency"
    assert incident["error_rate_peak"] > 0.25 and incident["error_rate_baseline"] < 0.02
    assert incident["p95_peak"] > 3 * incident["p95_baseline"]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("count", [20_000, 120_000])
def test_latency_creep_is_found_within_its_window(seed, count):
    minutes, truth = generated_minutes("latency-creep", seed, count)
    found = detect_incidents(minutes)
    assert list(found["service"]) == [truth.service]
    incident = found.iloc[0]
    # a creep is visible once it has grown: found inside the window, ending with it
    assert naive(truth.start) <= incident["start"] < naive(truth.end)
    assert abs(incident["end"] - naive(truth.end)) <= pd.Timedelta(minutes=1)
    assert incident["flagged_minutes"] >= 5
    assert incident["metrics"] == "p95_latency"  # no extra errors in a creep


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_normal_traffic_has_no_incident(seed):
    minutes, truth = generated_minutes("none", seed, 30_000)
    assert truth is None
    found = detect_incidents(minutes)
    assert found.empty
    assert list(found.columns) == list(INCIDENT_COLUMNS)


def _synthetic(service="api", minutes=60, requests=200, rate=0.01, p95=100.0, seed=0):
    rng = np.random.default_rng(seed)
    times = pd.date_range("2026-11-27 10:00", periods=minutes, freq="min")
    return pd.DataFrame({
        "service": service, "minute": times, "requests": requests,
        "status_5xx": rng.binomial(requests, rate, minutes),
        "p95": p95 * np.exp(rng.normal(0, 0.08, minutes)),
    })


def test_a_quiet_minute_with_one_error_is_not_an_incident():
    frame = _synthetic()
    quiet = frame.index[30:33]
    frame.loc[quiet, ["requests", "status_5xx", "p95"]] = [2, 1, 900.0]  # 50 % errors, 9x latency, 2 requests
    assert detect_incidents(frame).empty
    scored = score_minutes(frame)
    assert not scored.loc[quiet, "flagged"].any()


def test_error_jump_without_latency_change_is_found_with_its_evidence():
    frame = _synthetic(seed=3)
    frame.loc[20:27, "status_5xx"] = 60  # 30 % of 200
    found = detect_incidents(frame)
    assert len(found) == 1
    incident = found.iloc[0]
    assert (incident["start"], incident["end"]) == (pd.Timestamp("2026-11-27 10:20"), pd.Timestamp("2026-11-27 10:28"))
    assert incident["metrics"] == "error_rate"
    assert incident["error_rate_peak"] == pytest.approx(0.3)
    assert "5xx rate up to 30.0%" in incident["evidence"]


def test_a_slow_creep_filling_most_of_the_range_against_an_earlier_baseline():
    """A creep over 40 of 60 minutes drags the median; baseline_until takes the baseline from before."""
    frame = _synthetic(seed=5)
    growth = np.linspace(1.0, 4.0, 40)
    frame.loc[20:, "p95"] = frame.loc[20:, "p95"].to_numpy() * growth
    found = detect_incidents(frame, baseline_until=dt.datetime(2026, 11, 27, 10, 20))
    assert len(found) == 1
    assert found.iloc[0]["end"] == pd.Timestamp("2026-11-27 11:00")
    assert found.iloc[0]["start"] < pd.Timestamp("2026-11-27 10:40")


def test_services_are_judged_against_their_own_baseline():
    slow = _synthetic("slow", p95=2000.0, rate=0.05, seed=1)  # always slow and failing: its normal
    fast = _synthetic("fast", p95=20.0, rate=0.001, seed=2)
    assert detect_incidents(pd.concat([slow, fast], ignore_index=True)).empty


def test_empty_input():
    empty = pd.DataFrame(columns=["service", "minute", "requests", "status_5xx", "p95"])
    assert detect_incidents(empty).empty
    assert detect_incidents(_synthetic(minutes=3)).empty  # too few minutes for a baseline
    assert DetectionParams().z_threshold == 3.5
