"""Incident detection on per-minute figures: the injected incident of each scenario, and nothing else."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from pipeline.analysis.changepoints import Segment, binomial_llr, deviance_z, onset_rate, onset_z
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
@pytest.mark.parametrize("count", [20_000, 60_000])
def test_latency_creep_is_found_within_its_window(seed, count):
    minutes, truth = generated_minutes("latency-creep", seed, count)
    found = detect_incidents(minutes)
    assert list(found["service"]) == [truth.service]
    incident = found.iloc[0]
    # at a few hundred requests a minute the creep's first minutes hide in the p95's noise: it is
    # found from somewhere inside its window (or the minute before), and ends with it
    assert naive(truth.start) - pd.Timedelta(minutes=1) <= incident["start"] < naive(truth.end)
    assert abs(incident["end"] - naive(truth.end)) <= pd.Timedelta(minutes=1)
    assert incident["flagged_minutes"] >= 5
    assert incident["metrics"] == "p95_latency"  # no extra errors in a creep


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_latency_creep_is_dated_back_to_its_onset(seed):
    minutes, truth = generated_minutes("latency-creep", seed, 120_000)
    incident = detect_incidents(minutes).iloc[0]
    # flagged once it is plain (a third of the way up); the fitted rise dates it back to its start
    assert abs(incident["start"] - naive(truth.start)) <= pd.Timedelta(minutes=1)
    assert abs(incident["end"] - naive(truth.end)) <= pd.Timedelta(minutes=1)
    assert incident["flagged_minutes"] >= 19


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


# --- the count model for errors ---------------------------------------------------------------------

def _counts(requests, rates, seed=0):
    """Per-minute requests (an array or a Poisson mean) and 5xx drawn at the given per-minute rates."""
    rng = np.random.default_rng(seed)
    rates = np.asarray(rates, dtype=float)
    volume = rng.poisson(requests, len(rates)) if np.isscalar(requests) else np.asarray(requests)
    times = pd.date_range("2026-11-27 10:00", periods=len(rates), freq="min")
    p95 = 100.0 * np.exp(rng.normal(0, 0.05, len(rates)))
    return pd.DataFrame({"service": "api", "minute": times, "requests": volume,
                         "status_5xx": rng.binomial(volume, rates), "p95": p95})


def test_the_binomial_ratio_is_the_likelihood_of_the_raised_rate_against_the_baseline():
    errors, requests = np.array([6.0, 1.0, 0.0, 3.0]), np.array([100.0, 100.0, 0.0, 3.0])
    llr = binomial_llr(errors, requests, 0.01)
    assert llr[0] == pytest.approx(6 * np.log(0.06 / 0.01) + 94 * np.log(0.94 / 0.99))
    assert llr[1] == 0.0 and llr[2] == 0.0  # not raised; no requests
    assert llr[3] == pytest.approx(3 * np.log(1 / 0.01))  # every request failed
    z = deviance_z(np.array([0.0, 1.0, 6.0]), np.array([100.0, 100.0, 100.0]), 0.01)
    assert z[0] < 0 and z[1] == pytest.approx(0.0) and z[2] == pytest.approx(np.sqrt(2 * llr[0]))


def test_sparse_errors_of_a_quiet_service_are_found_from_their_counts():
    """Five requests a minute: no minute has the 20 requests a rate needs, but 15 minutes of errors
    add up to plain evidence."""
    rates = np.full(600, 0.004)
    rates[300:315] = 0.6
    frame = _counts(5, rates, seed=4)
    found = detect_incidents(frame)
    assert len(found) == 1
    incident = found.iloc[0]
    assert abs(incident["start"] - pd.Timestamp("2026-11-27 15:00")) <= pd.Timedelta(minutes=1)
    assert abs(incident["end"] - pd.Timestamp("2026-11-27 15:15")) <= pd.Timedelta(minutes=1)
    assert incident["metrics"] == "error_rate"
    assert detect_incidents(frame, DetectionParams(scan_threshold=1e6)).empty  # the count model found it


def test_a_modest_rise_of_errors_is_found_and_dated():
    """A deploy adds 4 % of 5xx to a service that fails 0.6 % of the time: no outage, an incident."""
    rates = np.full(240, 0.006)
    rates[100:130] += 0.04
    found = detect_incidents(_counts(300, rates, seed=2))
    assert len(found) == 1
    assert (found.iloc[0]["start"], found.iloc[0]["end"]) == (pd.Timestamp("2026-11-27 11:40"),
                                                                pd.Timestamp("2026-11-27 12:10"))


def test_spikes_with_normal_minutes_between_them_are_not_an_incident():
    rates = np.full(240, 0.005)
    rates[[100, 104]] = 0.25  # two one-minute blips, three normal minutes apart
    frame = _counts(300, rates, seed=7)
    assert detect_incidents(frame).empty
    assert not score_minutes(frame)["error_rate_flag"].any()
    rates[101:104] = 0.25  # the same minutes as one five-minute burst
    assert len(detect_incidents(_counts(300, rates, seed=7))) == 1


def test_an_error_creep_is_dated_back_to_where_it_began():
    rates = np.full(300, 0.003)
    rates[150:170] += 0.3 * (np.arange(20) + 0.5) / 20  # grows from nothing to 30 % over 20 minutes
    frame = _counts(250, rates, seed=1)
    incident = detect_incidents(frame).iloc[0]
    assert abs(incident["start"] - pd.Timestamp("2026-11-27 12:30")) <= pd.Timedelta(minutes=1)
    assert incident["end"] == pd.Timestamp("2026-11-27 12:50")


def test_a_growing_departure_is_dated_back_and_a_step_is_not():
    """Given the stretch a step fit finds (a third of the way up a creep), the fitted rise moves its
    start back to the creep's first minute; a step that really starts there stays."""
    rng = np.random.default_rng(5)
    requests = np.full(120, 250.0)
    creep = np.full(120, 0.003)
    creep[60:80] += 0.3 * (np.arange(20) + 0.5) / 20
    step = np.full(120, 0.003)
    step[67:80] = 0.2
    for rates, expected in ((creep, 60), (step, 67)):
        errors = rng.binomial(250, rates).astype(float)
        stretch = Segment(67, 80, float(binomial_llr(errors[67:80].sum(), requests[67:80].sum(), 0.003)))
        assert abs(onset_rate(errors, requests, 0.003, stretch, earliest=40, margin=2.0) - expected) <= 1
    z = np.where(np.arange(120) >= 60, 0.7 * (np.arange(120) - 59.5), 0.0) * (np.arange(120) < 80)
    z = z + rng.normal(0, 0.3, 120)
    assert abs(onset_z(z, Segment(67, 80, 0.0), earliest=40, margin=2.0) - 60) <= 1
    z[[70, 75]] = np.nan  # minutes not judged are left out of the fit
    assert abs(onset_z(z, Segment(67, 80, 0.0), earliest=40, margin=2.0) - 60) <= 1


def test_a_quiet_night_does_not_make_a_latency_incident():
    """p95 of few requests is noisier: its score is scaled by the square root of the volume."""
    minutes = 24 * 60
    volume = (300 * (1 + 0.8 * np.cos(np.arange(minutes) / minutes * 2 * np.pi))).astype(int) + 25
    rng = np.random.default_rng(3)
    frame = _counts(volume, np.full(minutes, 0.004), seed=3)
    frame["p95"] = 100.0 * np.exp(rng.normal(0, 2.5 / np.sqrt(volume)))  # noise shrinks with volume
    assert detect_incidents(frame).empty
