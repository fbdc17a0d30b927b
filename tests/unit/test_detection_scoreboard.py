"""Detection scored against the ground truth: the simulation the scoreboard runs on (it must draw what
the per-event generator draws), the scoring of detected incidents, and the targets on short runs (of
the incident detector and of the pattern answers)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from pipeline.analysis.pattern_scoreboard import PatternPlan, pattern_board, pattern_scores
from pipeline.analysis.scoreboard import (
    BOARD_COLUMNS,
    TARGET_EDGE_MIN,
    TARGET_FALSE_PER_DAY,
    ScoreboardPlan,
    place_incident,
    run_scores,
    score_incidents,
    scoreboard,
)
from pipeline.generate.generator import GeneratorConfig, LogGenerator
from pipeline.generate.scenarios import SCENARIOS, Incident, NoisyDay, make_scenario
from pipeline.generate.simulate import latency_quantiles, simulate, simulate_config
from pipeline.generate.volume import VolumeWarp

START = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def generated(config: GeneratorConfig) -> pd.DataFrame:
    """The per-event generator's records, reduced to what the windows keep."""
    frame = pd.DataFrame([event.record for event in LogGenerator(config) if event.record is not None])
    frame["minute"] = pd.to_datetime(frame["timestamp"]).dt.tz_localize(None).dt.floor("min")
    frame["failed"] = frame["status"] >= 500
    return frame


def config_for(name: str, count: int, minutes: int, seed: int, **params: str) -> GeneratorConfig:
    return GeneratorConfig(count=count, start=START, end=START + timedelta(minutes=minutes), seed=seed,
                           scenario=make_scenario(name, params or None))


# --- the simulation draws what the generator draws -------------------------------------------------

@pytest.mark.parametrize("name", ["none", "noisy-day"])
def test_the_simulation_puts_as_many_events_in_each_minute_as_the_generator(name):
    """Both place event i in its slot (or the volume curve's): a minute's total differs by at most the
    events whose slot straddles its edges."""
    config = config_for(name, 30_000, 90, seed=3)
    events = generated(config).groupby("minute").size()
    simulated = simulate_config(config).minutes.groupby("minute")["requests"].sum()
    assert simulated.sum() == events.sum() == 30_000
    assert (simulated - events).abs().max() <= 2
    if name == "noisy-day":  # 10:00-11:30 UTC is on the rising side of a 14:00 peak
        assert events.iloc[-10:].mean() > 1.1 * events.iloc[:10].mean()


@pytest.mark.parametrize(("name", "params", "bent_quantile"), [
    ("payment-outage", {}, 0.50),  # 5x slower; its p95 sits among the 504s' timeouts
    ("host-failure", {}, None),
    ("new-error", {}, None),
    ("error-creep", {}, None),
    ("low-traffic-errors", {}, None),
    ("latency-creep", {}, 0.95),
])
def test_the_simulation_matches_the_generator_statistically(name, params, bent_quantile):
    """Requests, 5xx inside and outside the incident, and latency agree within their noise: a missed
    effect (a host ignored, a rate not added, a traffic share or a latency factor lost) is far
    outside it."""
    config = config_for(name, 60_000, 40, seed=5, start_min="10", duration_min="20", **params)
    events = generated(config)
    run = simulate_config(config)
    simulated, truth = run.minutes, run.incident
    start, end = pd.Timestamp(truth.start).tz_localize(None), pd.Timestamp(truth.end).tz_localize(None)
    requests = events.groupby("service").size()
    for service, count in simulated.groupby("service")["requests"].sum().items():
        assert abs(count - requests[service]) <= 5 * math.sqrt(requests[service]) + 2, service
    for inside in (True, False):
        window = (events["minute"] >= start) & (events["minute"] < end)
        mask = (events["service"] == truth.service) & (window if inside else ~window)
        sim_window = (simulated["minute"] >= start) & (simulated["minute"] < end)
        sim_mask = (simulated["service"] == truth.service) & (sim_window if inside else ~sim_window)
        expected, got = int(events.loc[mask, "failed"].sum()), int(simulated.loc[sim_mask, "status_5xx"].sum())
        assert abs(got - expected) <= 4 * math.sqrt(expected + got + 1) + 2, (inside, expected, got)

    minutes = events.groupby(["service", "minute"])["latency_ms"]
    theirs = pd.concat({"their_p50": minutes.quantile(0.50), "their_p95": minutes.quantile(0.95)}, axis=1)
    both = simulated.set_index(["service", "minute"]).join(theirs, how="inner").reset_index()
    normal = ((both["minute"] < start) | (both["minute"] >= end)) & (both["requests"] >= 20)  # a handful is noise
    log_ratio = np.log(both["p95"] / both["their_p95"])[normal].groupby(both["service"]).mean()
    assert (log_ratio.abs() < 0.15).all(), log_ratio
    if bent_quantile is not None:  # the second half of the window, mean log per minute
        ours, their = ("p50", "their_p50") if bent_quantile == 0.50 else ("p95", "their_p95")
        late = both[(both["service"] == truth.service) & (both["minute"] >= start + (end - start) / 2)
                    & (both["minute"] < end)]
        usual = both.loc[normal & (both["service"] == truth.service), ours]
        assert np.log(late[ours]).mean() == pytest.approx(np.log(late[their]).mean(), abs=0.2)
        assert np.log(late[ours]).mean() > np.log(usual).mean() + 0.7  # the effect is there at all


def test_latency_quantiles_are_numpys_percentiles_per_group():
    rng = np.random.default_rng(1)
    groups = rng.integers(0, 50, 20_000)
    cents = rng.integers(1, 10**7, 20_000)
    ours = latency_quantiles(groups, cents, 52)
    for group in range(50):
        values = cents[groups == group] / 100.0
        assert ours[group] == pytest.approx(np.percentile(values, [50, 95, 99]), rel=1e-12)
    assert np.isnan(ours[50:]).all()  # empty groups


def test_a_volume_curve_spreads_events_in_proportion_and_both_mappings_agree():
    curve = NoisyDay().volume_curve()
    start_ms = START.timestamp() * 1000
    warp = VolumeWarp(start_ms, start_ms + 86_400_000, curve)
    fractions = (np.arange(100_000) + 0.5) / 100_000
    many = warp.at_array(fractions)
    assert [warp.at(f) for f in fractions[::997]] == pytest.approx(many[::997].tolist(), abs=1e-6)
    assert np.all(np.diff(many) > 0)
    hours = np.bincount(((many - start_ms) // 3_600_000).astype(int), minlength=24)
    peak, trough = hours.max(), hours.min()
    assert peak / trough == pytest.approx(1.6 / 0.4, rel=0.1)  # amplitude 0.6: 1 +/- 0.6
    assert abs(int(np.argmax(hours)) - 4) <= 1  # 14:00 UTC is hour 4 of a run starting at 10:00


def test_a_simulated_day_takes_seconds():
    began = datetime.now(UTC)
    run = simulate(make_scenario("noisy-day"), seed=0, start=START, hours=24, rate=30)
    assert (datetime.now(UTC) - began).total_seconds() < 20  # the per-event generator takes about a minute
    assert run.minutes["requests"].sum() == 30 * 86_400
    assert list(run.minutes.columns) == ["service", "minute", "requests", "status_5xx", "p50", "p95", "p99"]


# --- scoring ------------------------------------------------------------------------------------

def _found(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame([{"service": s, "start": pd.Timestamp(a), "end": pd.Timestamp(b)} for s, a, b in rows],
                        columns=["service", "start", "end"])


def test_incidents_are_scored_against_the_ground_truth():
    truth = Incident("payment", START + timedelta(minutes=5), START + timedelta(minutes=15))
    exact = score_incidents(_found(("payment", "2026-11-27 10:05", "2026-11-27 10:15")), truth)
    assert exact == {"injected": 1, "found": 1, "false_incidents": 0, "onset_error_min": 0.0, "end_error_min": 0.0}
    late_and_split = score_incidents(_found(("payment", "2026-11-27 10:07", "2026-11-27 10:10"),
                                            ("payment", "2026-11-27 10:11", "2026-11-27 10:14"),
                                            ("search", "2026-11-27 10:06", "2026-11-27 10:09"),
                                            ("payment", "2026-11-27 10:15", "2026-11-27 10:20")), truth)
    assert late_and_split == {"injected": 1, "found": 1, "false_incidents": 2, "onset_error_min": 2.0,
                              "end_error_min": -1.0}
    missed = score_incidents(_found(("search", "2026-11-27 10:05", "2026-11-27 10:15")), truth)
    assert (missed["found"], missed["false_incidents"]) == (0, 1)
    assert score_incidents(_found(("a", "2026-11-27 10:05", "2026-11-27 10:07")), None)["false_incidents"] == 1


def test_the_board_sums_runs_per_scenario_and_judges_the_targets():
    runs = pd.DataFrame([
        {"scenario": "x", "seed": 0, "hours": 12.0, "injected": 1, "found": 1, "false_incidents": 0,
         "onset_error_min": -1.0, "end_error_min": 0.0},
        {"scenario": "x", "seed": 1, "hours": 12.0, "injected": 1, "found": 1, "false_incidents": 1,
         "onset_error_min": 1.0, "end_error_min": 2.0},
        {"scenario": "quiet", "seed": 0, "hours": 24.0, "injected": 0, "found": 0, "false_incidents": 1,
         "onset_error_min": np.nan, "end_error_min": np.nan},
    ])
    board = scoreboard(runs).set_index("scenario")
    assert list(board.reset_index().columns) == list(BOARD_COLUMNS)
    assert board.loc["x", ["injected", "found", "false_incidents"]].tolist() == [2, 2, 1]
    assert board.loc["x", "false_per_day"] == 1.0 and board.loc["x", "onset_error_max_min"] == 1.0
    assert board.loc["x", "onset_error_mean_min"] == 0.0 and board.loc["x", "end_error_max_min"] == 2.0
    assert not board.loc["x", "meets_target"]  # an end two minutes late
    assert board.loc["quiet", "meets_target"]  # one false incident in one day is within the target


def test_each_seed_places_the_incident_elsewhere_clear_of_the_run_edges():
    starts = {place_incident(make_scenario("payment-outage"), seed, 6).start_min for seed in range(5)}
    assert len(starts) == 5
    assert all(60 <= start <= 6 * 60 - 60 - 10 for start in starts)
    assert place_incident(make_scenario("noisy-day"), 3, 6) == make_scenario("noisy-day")


def test_the_scoreboard_meets_the_targets_on_short_runs():
    """Every scenario, three seeds, three hours each at 50 events/s: the targets hold (every incident
    found, onset and end within a minute, no more false incidents than one a day)."""
    runs = run_scores(ScoreboardPlan(seeds=(0, 1, 2), hours=3.0, rate=50.0))
    board = scoreboard(runs).set_index("scenario")
    assert list(board.index) == list(SCENARIOS)
    incidents = board[board["injected"] > 0]
    assert (incidents["found"] == incidents["injected"]).all(), board
    assert (incidents[["onset_error_max_min", "end_error_max_min"]] <= TARGET_EDGE_MIN).all().all(), board
    assert (board["false_per_day"] <= TARGET_FALSE_PER_DAY).all(), board
    assert board["meets_target"].all()


def test_the_pattern_answers_meet_their_targets_on_short_runs():
    """Host failure: the failing host is the top contributor; new error: flagged new and top
    contributor; a quiet second day: nothing new. One seed, short and slow runs (the full board is
    ``bench --only detection``)."""
    plan = PatternPlan(seeds=(5,), incident_hours=2, incident_rate=5, quiet_days=2, quiet_rate=0.5)
    runs = pattern_scores(plan)
    assert list(runs["scenario"]) == ["host-failure", "new-error", "none"]
    assert runs["passed"].all(), runs[["check", "detail"]].to_string()
    assert (runs["logs"] == [36_000, 36_000, 86_400]).all()
    board = pattern_board(runs)
    assert board["meets_target"].all() and list(board["passed"]) == [1, 1, 1]
    failed = pattern_board(runs.assign(passed=[True, False, True]))
    assert list(failed["meets_target"]) == [True, False, True]
