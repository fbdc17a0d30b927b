"""How well the incident detector finds what the scenarios inject: a scoreboard over seeds.

A detector tuned on one demo run says little; this runs every scenario with several seeds through
the simulation (``pipeline.generate.simulate``: the generator's logic, reduced to the per-minute
figures the windows hold, no stack needed), gives the detector those figures, and compares its
incidents with the ground truth:

- found / injected: an injected incident is found when a detected incident of its service overlaps
  its window;
- false incidents: detected incidents that overlap no injected one (on a day without incident,
  every detection is false), also per simulated day;
- onset and end error: the detected start and end minus the true ones, in minutes (the earliest
  start and latest end of the detections that overlap the window).

Each seed places its incident at a different minute of the run (``place_incident``), so a
detector cannot rely on incidents sitting near the run's start. The targets: every incident found
with onset and end within ``TARGET_EDGE_MIN`` minute, at most ``TARGET_FALSE_PER_DAY`` false
incident per simulated day.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from pipeline.analysis.incidents import DetectionParams, detect_incidents
from pipeline.common.times import utc_naive
from pipeline.generate.scenarios import SCENARIOS, Incident, Scenario, make_scenario
from pipeline.generate.simulate import simulate

TARGET_EDGE_MIN = 1.0
TARGET_FALSE_PER_DAY = 1.0
SCORE_START = datetime(2026, 11, 27, tzinfo=UTC)  # midnight: a day-long run sees a whole UTC day
RUN_COLUMNS = ("scenario", "seed", "hours", "injected", "found", "false_incidents", "onset_error_min",
               "end_error_min", "simulate_s", "detect_s")
BOARD_COLUMNS = ("scenario", "runs", "injected", "found", "false_incidents", "simulated_days", "false_per_day",
                 "onset_error_max_min", "end_error_max_min", "onset_error_mean_min", "end_error_mean_min",
                 "meets_target")


@dataclass(frozen=True)
class ScoreboardPlan:
    """Which scenarios (default parameters), which seeds, how long each run, at how many events a
    second in total."""

    scenarios: tuple[str, ...] = tuple(SCENARIOS)
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    hours: float = 24.0
    rate: float = 30.0
    start: datetime = SCORE_START

    def __post_init__(self) -> None:
        unknown = [name for name in self.scenarios if name not in SCENARIOS]
        if unknown:
            raise ValueError(f"unknown scenarios {unknown}; choose from {', '.join(SCENARIOS)}")
        if not self.seeds:
            raise ValueError("at least one seed is needed")
        if self.hours <= 0 or self.rate <= 0:
            raise ValueError("hours and rate must be > 0")


def place_incident(scenario: Scenario, seed: int, hours: float) -> Scenario:
    """The scenario with its incident moved to a seed-dependent minute of a run of ``hours``, clear
    of the run's first and last stretch (a scenario without a ``start_min`` stays as it is)."""
    fields = {field.name for field in dataclasses.fields(scenario)} if dataclasses.is_dataclass(scenario) else set()
    if "start_min" not in fields:
        return scenario
    run_min = int(hours * 60)
    duration = int(getattr(scenario, "duration_min", 0))
    margin = min(60, run_min // 6)
    room = max(1, run_min - duration - 2 * margin)
    return dataclasses.replace(scenario, start_min=margin + (seed * 7919) % room)  # type: ignore[type-var]


def score_incidents(found: pd.DataFrame, truth: Incident | None) -> dict[str, Any]:
    """Detected incidents (``detect_incidents``'s frame) against the injected one."""
    if truth is None:
        return {"injected": 0, "found": 0, "false_incidents": len(found), "onset_error_min": np.nan,
                "end_error_min": np.nan}
    start, end = pd.Timestamp(utc_naive(truth.start)), pd.Timestamp(utc_naive(truth.end))
    overlapping = (found["service"] == truth.service) & (found["start"] < end) & (found["end"] > start)
    hits = found[overlapping]
    if hits.empty:
        return {"injected": 1, "found": 0, "false_incidents": len(found), "onset_error_min": np.nan,
                "end_error_min": np.nan}
    minute = pd.Timedelta(minutes=1)
    return {"injected": 1, "found": 1, "false_incidents": int((~overlapping).sum()),
            "onset_error_min": (hits["start"].min() - start) / minute,
            "end_error_min": (hits["end"].max() - end) / minute}


def score_run(name: str, seed: int, plan: ScoreboardPlan, params: DetectionParams | None = None) -> dict[str, Any]:
    """One scenario and seed: simulate, detect, compare (one row of ``run_scores``)."""
    scenario = place_incident(make_scenario(name), seed, plan.hours)
    began = time.perf_counter()
    run = simulate(scenario, seed=seed, start=plan.start, hours=plan.hours, rate=plan.rate)
    simulated = time.perf_counter()
    found = detect_incidents(run.minutes, params)
    detected = time.perf_counter()
    return {"scenario": name, "seed": seed, "hours": plan.hours, **score_incidents(found, run.incident),
            "simulate_s": simulated - began, "detect_s": detected - simulated}


def run_scores(plan: ScoreboardPlan | None = None, params: DetectionParams | None = None) -> pd.DataFrame:
    """One row per scenario and seed (columns ``RUN_COLUMNS``)."""
    plan = plan or ScoreboardPlan()
    rows = [score_run(name, seed, plan, params) for name in plan.scenarios for seed in plan.seeds]
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def scoreboard(runs: pd.DataFrame) -> pd.DataFrame:
    """Per scenario (columns ``BOARD_COLUMNS``): the runs' totals, false incidents per simulated day,
    the worst (largest absolute) and mean (signed) onset and end errors in minutes, and whether
    the targets are met."""
    rows = []
    for name, group in runs.groupby("scenario", sort=False):
        days = float(group["hours"].sum()) / 24.0
        onset, end = group["onset_error_min"].dropna(), group["end_error_min"].dropna()
        injected, found = int(group["injected"].sum()), int(group["found"].sum())
        false = int(group["false_incidents"].sum())
        onset_max = float(onset.abs().max()) if len(onset) else np.nan
        end_max = float(end.abs().max()) if len(end) else np.nan
        edges_ok = injected == 0 or (onset_max <= TARGET_EDGE_MIN and end_max <= TARGET_EDGE_MIN)
        rows.append({
            "scenario": name, "runs": len(group), "injected": injected, "found": found, "false_incidents": false,
            "simulated_days": days, "false_per_day": false / days,
            "onset_error_max_min": onset_max, "end_error_max_min": end_max,
            "onset_error_mean_min": float(onset.mean()) if len(onset) else np.nan,
            "end_error_mean_min": float(end.mean()) if len(end) else np.nan,
            "meets_target": bool(found == injected and edges_ok and false / days <= TARGET_FALSE_PER_DAY),
        })
    return pd.DataFrame(rows, columns=BOARD_COLUMNS)
