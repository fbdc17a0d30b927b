"""How well the pattern answers find what the scenarios inject: a scoreboard over seeds, next to the
incident scoreboard (``pipeline.analysis.scoreboard``).

Each run generates logs with the real generator (messages and hosts are what these answers are
about; the incident scoreboard's simulation has neither), mines them in memory with the miner the
store uses (``mining.TemplateMiner``) and asks the same questions ``pattern_queries`` asks the
store, through the same statistics (``pattern_stats``):

- host-failure: "why this window" over the incident against the ``DEFAULT_BASELINE`` before it:
  the failing host must be the top contributor (target: at least 95% of seeds);
- new-error: the deploy's new message must be flagged new in the incident window (look-back
  ``DEFAULT_LOOKBACK``) and be its top contributor (every seed);
- none, over several days: no template may be new after the first day of history (every seed):
  each template of a later day was seen on an earlier one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from pipeline.analysis.drain_quality import generator_labeller
from pipeline.analysis.mining import MiningStep, TemplateMiner
from pipeline.analysis.pattern_queries import DEFAULT_BASELINE, DEFAULT_LOOKBACK
from pipeline.analysis.pattern_stats import contributors, flag_new, period_sums
from pipeline.analysis.scoreboard import SCORE_START, place_incident
from pipeline.common.times import utc_naive
from pipeline.generate.generator import GeneratorConfig, LogGenerator
from pipeline.generate.scenarios import NewErrorMessage, make_scenario

TARGET_HOST_SHARE = 0.95
CHECKS = {  # check -> (scenario, target share of seeds)
    "host-failure: failing host is the top contributor": ("host-failure", TARGET_HOST_SHARE),
    "new-error: new template flagged new and top contributor": ("new-error", 1.0),
    "none: no template new after the first day": ("none", 1.0),
}
RUN_COLUMNS = ("check", "scenario", "seed", "passed", "detail", "logs", "seconds")
BOARD_COLUMNS = ("check", "runs", "passed", "share", "target", "meets_target")


@dataclass(frozen=True)
class PatternPlan:
    """Seeds; an incident run's hours and events a second; the quiet run's days and rate."""

    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    incident_hours: float = 6.0
    incident_rate: float = 10.0
    quiet_days: int = 2
    quiet_rate: float = 2.0
    start: datetime = SCORE_START

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ValueError("at least one seed is needed")
        if self.incident_hours <= 0 or self.incident_rate <= 0 or self.quiet_rate <= 0:
            raise ValueError("hours and rates must be > 0")
        if self.quiet_days < 2:
            raise ValueError(f"quiet_days must be >= 2 (the first day is history), got {self.quiet_days}")


def _mine(config: GeneratorConfig) -> tuple[LogGenerator, MiningStep, int]:
    generator = LogGenerator(config)
    records = [event.record for event in generator if event.record is not None]
    return generator, TemplateMiner().mine(records), len(records)


def _incident_run(name: str, seed: int, plan: PatternPlan) -> tuple[Any, LogGenerator, MiningStep, int]:
    scenario = place_incident(make_scenario(name), seed, plan.incident_hours)
    config = GeneratorConfig(count=int(plan.incident_rate * 3600 * plan.incident_hours), seed=seed,
                             start=plan.start, end=plan.start + timedelta(hours=plan.incident_hours), scenario=scenario)
    generator, step, logs = _mine(config)
    return scenario, generator, step, logs


def _why(step: MiningStep, service: str, start: datetime, end: datetime, run_start: datetime) -> pd.DataFrame:
    baseline_start = max(utc_naive(run_start), start - DEFAULT_BASELINE)
    return contributors(step.why_counts(service, start, end, baseline_start))


def score_host_failure(seed: int, plan: PatternPlan) -> dict[str, Any]:
    _, generator, step, logs = _incident_run("host-failure", seed, plan)
    incident, failing = generator.incident, generator.failing_host
    if incident is None or failing is None:
        raise ValueError("the host-failure scenario injected no incident on a host")
    ranked = _why(step, incident.service, utc_naive(incident.start), utc_naive(incident.end), plan.start)
    top = ranked.iloc[0] if len(ranked) else None
    passed = top is not None and top["field"] == "host" and top["value"] == failing and bool(top["significant"])
    detail = "no contributor" if top is None else (
        f"top {top['field']}={top['value']} (share {top['window_share']:.0%} vs {top['baseline_share']:.0%}); "
        f"failing host {failing}")
    return {"passed": passed, "detail": detail, "logs": logs}


def score_new_error(seed: int, plan: PatternPlan) -> dict[str, Any]:
    scenario, generator, step, logs = _incident_run("new-error", seed, plan)
    incident = generator.incident
    if not isinstance(scenario, NewErrorMessage) or incident is None:
        raise ValueError("the new-error scenario injected no incident")
    start, end = utc_naive(incident.start), utc_naive(incident.end)
    labeller = generator_labeller(generator.config)
    deploy_ids = {tid for tid, seen in step.templates.items()
                  if seen.service == incident.service and labeller.label(seen.sample) == scenario.message_template}
    sums = period_sums(step.minutes_frame(), {"": (start, end), "lookback": (start - DEFAULT_LOOKBACK, start)})
    new = flag_new(sums[sums["service"] == incident.service])
    ranked = _why(step, incident.service, start, end, plan.start)
    top = ranked.iloc[0] if len(ranked) else None
    flagged = bool(deploy_ids & set(new["template_id"]))
    top_is_it = (top is not None and top["field"] == "template_id" and top["value"] in deploy_ids
                 and bool(top["significant"]))
    detail = (f"{len(deploy_ids)} template(s) of the deploy's message; flagged new: {flagged} "
              f"({len(new)} new in the window); top contributor: "
              + ("none" if top is None else f"{top['field']}={str(top['value'])[:40]}"))
    return {"passed": flagged and top_is_it and len(deploy_ids) == 1, "detail": detail, "logs": logs}


def score_quiet(seed: int, plan: PatternPlan) -> dict[str, Any]:
    days = plan.quiet_days
    config = GeneratorConfig(count=int(plan.quiet_rate * 86_400 * days), seed=seed, start=plan.start,
                             end=plan.start + timedelta(days=days), scenario=make_scenario("none"))
    _, step, logs = _mine(config)
    minutes = step.minutes_frame()
    first = minutes.groupby("template_id")["window_start"].min()
    history_end = utc_naive(plan.start + timedelta(days=1))
    late = first[first >= history_end]
    texts = [step.templates[tid].template for tid in late.index]
    detail = f"{len(late)} template(s) new after day 1" + (f": {texts[:3]}" if texts else "")
    return {"passed": late.empty, "detail": detail, "logs": logs}


_SCORERS = {"host-failure": score_host_failure, "new-error": score_new_error, "none": score_quiet}


def pattern_scores(plan: PatternPlan | None = None) -> pd.DataFrame:
    """One row per check and seed (columns ``RUN_COLUMNS``)."""
    plan = plan or PatternPlan()
    rows = []
    for check, (scenario, _) in CHECKS.items():
        for seed in plan.seeds:
            began = time.perf_counter()
            result = _SCORERS[scenario](seed, plan)
            rows.append({"check": check, "scenario": scenario, "seed": seed, **result,
                         "seconds": time.perf_counter() - began})
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def pattern_board(runs: pd.DataFrame) -> pd.DataFrame:
    """Per check: runs, passed, the share of seeds passed, its target, whether it is met."""
    rows = []
    for check, group in runs.groupby("check", sort=False):
        target = CHECKS[str(check)][1]
        share = float(group["passed"].mean())
        rows.append({"check": check, "runs": len(group), "passed": int(group["passed"].sum()), "share": share,
                     "target": target, "meets_target": share >= target})
    return pd.DataFrame(rows, columns=BOARD_COLUMNS)

