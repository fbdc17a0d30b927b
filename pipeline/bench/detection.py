"""Incident detection scored against the ground truth: every scenario, five seeds, a simulated day
each at 50 events/s (``pipeline.analysis.scoreboard``; ``--scale`` multiplies the simulated hours,
at least one). Per scenario: incidents found of injected, the worst onset and end error in
minutes, false incidents per simulated day; each next to its target. Plus the time to simulate a
day, next to the per-event generator's (extrapolated from a sample). No stack needed.

50 events/s, the top of the usual range: a creep's first minutes raise p95 by a few percent, and a
minute's p95 needs a few hundred requests before that stands out of its noise.

Then the pattern answers' checks (``pipeline.analysis.pattern_scoreboard``: the failing host as top
contributor, the new error flagged new and top contributor, nothing new on a quiet second day), five
seeds each, on logs of the per-event generator mined in memory; and the mined templates against the
generator's own message templates.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pandas as pd

from pipeline.analysis.drain_quality import generator_quality
from pipeline.analysis.pattern_scoreboard import PatternPlan, pattern_board, pattern_scores
from pipeline.analysis.scoreboard import (
    SCORE_START,
    TARGET_EDGE_MIN,
    TARGET_FALSE_PER_DAY,
    ScoreboardPlan,
    run_scores,
    scoreboard,
)
from pipeline.bench.result import Result, timed
from pipeline.generate.generator import GeneratorConfig, generate
from pipeline.generate.scenarios import NoIncident, make_scenario
from pipeline.settings import Settings

SEEDS = (0, 1, 2, 3, 4)
HOURS = 24.0
RATE = 50.0  # events a second over all services: the p95 of a minute needs a few hundred requests
GENERATOR_SAMPLE = 50_000
QUALITY_EVENTS = 300_000
TARGET_ONE_TO_ONE, TARGET_TEMPLATES_PER_TRUE = 0.95, 1.2


def run(settings: Settings, scale: float) -> list[Result]:
    plan = ScoreboardPlan(seeds=SEEDS, hours=max(1.0, HOURS * scale), rate=RATE)
    runs = run_scores(plan)
    board = scoreboard(runs)
    results = [result for _, row in board.iterrows() for result in _scenario_results(row)]
    per_event_s = _generator_seconds(plan.rate * 3600 * plan.hours)
    simulate_s = float(runs["simulate_s"].mean())
    results.append(Result(f"detection: simulate {plan.hours:g} h at {plan.rate:g} events/s", simulate_s, "s",
                          f"per-event generator {per_event_s:,.0f} s",
                          f"mean of {len(runs)} runs; detection took {runs['detect_s'].mean():.2f} s a run; "
                          f"generator extrapolated from {GENERATOR_SAMPLE:,} events"))
    return results + _pattern_results(PatternPlan(seeds=SEEDS)) + _template_quality()


def _template_quality() -> list[Result]:
    """Mined templates against the generator's own (``drain_quality``): per service, the share of
    messages whose true template maps to exactly one mined template, and mined templates per true one."""
    config = GeneratorConfig(count=QUALITY_EVENTS, start=SCORE_START, end=SCORE_START + timedelta(hours=6), seed=0,
                             scenario=make_scenario("new-error"))
    quality, seconds = timed(lambda: generator_quality(config))
    for row in quality:
        print(f"   templates {row.service}: {row.one_to_one_share:.1%} of messages one-to-one, "
              f"{row.templates_per_true_template:.2f} mined per true template, purity {row.pure_share:.1%}", flush=True)
    worst_share = min(row.one_to_one_share for row in quality)
    worst_ratio = max(row.templates_per_true_template for row in quality)
    note = f"worst of {len(quality)} services, {QUALITY_EVENTS:,} generated messages, {seconds:.0f} s"
    return [Result("patterns templates: messages whose template maps to one mined template", 100 * worst_share, "%",
                   f"target >= {TARGET_ONE_TO_ONE:.0%}", note),
            Result("patterns templates: mined templates per generator template", worst_ratio, "",
                   f"target <= {TARGET_TEMPLATES_PER_TRUE:g}", note)]


def _pattern_results(plan: PatternPlan) -> list[Result]:
    """The pattern answers' checks (``pipeline.analysis.pattern_scoreboard``), each seed's detail."""
    runs = pattern_scores(plan)
    for _, run in runs.iterrows():
        print(f"   {run['check']} seed {run['seed']}: {'ok' if run['passed'] else 'FAILED'}: {run['detail']}",
              flush=True)
    results = []
    for _, row in pattern_board(runs).iterrows():
        group = runs[runs["check"] == row["check"]]
        verdict = "meets its target" if row["meets_target"] else "MISSES its target"
        results.append(Result(f"patterns {row['check']}", 100.0 * row["share"], "% of seeds",
                              f"target >= {row['target']:.0%}",
                              f"{row['passed']} of {row['runs']} seeds, {int(group['logs'].mean()):,} generated logs "
                              f"a run, {group['seconds'].mean():.1f} s a run; {verdict}"))
    return results


def _scenario_results(row: pd.Series) -> list[Result]:
    name, days = row["scenario"], row["simulated_days"]
    note = f"{row['runs']} seeds, {days:g} simulated days"
    results = []
    if row["injected"]:
        results += [
            Result(f"detection {name}: found", float(row["found"]), f"of {row['injected']}", "target: all", note),
            Result(f"detection {name}: onset error", float(row["onset_error_max_min"]), "min (worst)",
                   f"target <= {TARGET_EDGE_MIN:g} min", f"mean {row['onset_error_mean_min']:+.2f} min"),
            Result(f"detection {name}: end error", float(row["end_error_max_min"]), "min (worst)",
                   f"target <= {TARGET_EDGE_MIN:g} min", f"mean {row['end_error_mean_min']:+.2f} min"),
        ]
    verdict = "meets all its targets" if row["meets_target"] else "MISSES a target"
    results.append(Result(f"detection {name}: false incidents", float(row["false_per_day"]), "per day",
                          f"target <= {TARGET_FALSE_PER_DAY:g}",
                          f"{row['false_incidents']} in {days:g} days; the scenario {verdict}"))
    return results


def _generator_seconds(events: float) -> float:
    """How long the per-event generator would take for ``events`` (timed on a sample)."""
    config = GeneratorConfig(count=GENERATOR_SAMPLE, start=SCORE_START, end=SCORE_START + timedelta(hours=1),
                             seed=0, scenario=NoIncident())
    began = time.perf_counter()
    for _ in generate(config):
        pass
    return (time.perf_counter() - began) * events / GENERATOR_SAMPLE
