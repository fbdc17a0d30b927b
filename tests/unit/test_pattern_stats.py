"""The statistics of pattern questions (``pipeline.analysis.pattern_stats``): contributors ("why this
window": the smoothed log odds ratio, its one-sided z test and Bonferroni significance, the ranking,
id-like fields left out, ``template_id`` kept, argument checks), ``flag_new``, ``rises`` and
``period_sums`` on small hand-made frames with exact expected values."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pandas as pd
import pytest

from pipeline.analysis.pattern_stats import (
    ALPHA,
    CONTRIBUTOR_COLUMNS,
    MAX_FIELD_VALUES,
    contributors,
    flag_new,
    period_sums,
    rises,
)

T0 = datetime(2026, 1, 5)


def counts(rows: list[tuple[str, str, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["field", "value", "window_errors", "baseline_errors"])


def expected_log_odds(a: float, b: float, c: float, d: float) -> tuple[float, float, float]:
    """Log odds ratio, z and one-sided p-value of the 2x2 table (a: value in window, b: other values
    in window, c: value in baseline, d: other values in baseline), 0.5 added to every cell."""
    a, b, c, d = (x + 0.5 for x in (a, b, c, d))
    log_odds = math.log((a * d) / (b * c))
    z = log_odds / math.sqrt(1 / a + 1 / b + 1 / c + 1 / d)
    return log_odds, z, 0.5 * math.erfc(z / math.sqrt(2))


def row_of(frame: pd.DataFrame, field: str, value: str) -> pd.Series:
    [index] = frame.index[(frame["field"] == field) & (frame["value"] == value)]
    return frame.loc[index]


# --- contributors -------------------------------------------------------------------------------------

def test_the_failing_host_is_the_one_contributor():
    table = counts([("host", "h1", 3, 25), ("host", "h2", 3, 25), ("host", "h3", 90, 25), ("host", "h4", 3, 25)])
    out = contributors(table)
    assert list(out.columns) == list(CONTRIBUTOR_COLUMNS)
    assert out["value"].tolist() == ["h3"]  # h1, h2, h4 are under-represented (log odds <= 0): left out
    top = out.iloc[0]
    assert (top["field"], top["window_errors"], top["baseline_errors"]) == ("host", 90, 25)
    assert bool(top["significant"])
    assert top["window_share"] == pytest.approx(90 / 99, rel=1e-12)
    assert top["baseline_share"] == pytest.approx(0.25, rel=1e-12)
    log_odds, z, p = expected_log_odds(90, 9, 25, 75)
    assert log_odds > 0
    assert top["log_odds"] == pytest.approx(log_odds, rel=1e-9)
    assert top["log_odds"] == pytest.approx(math.log(90.5 * 75.5 / (9.5 * 25.5)), rel=1e-9)
    assert top["z"] == pytest.approx(z, rel=1e-9)
    assert top["p_value"] == pytest.approx(p, rel=1e-9)
    assert top["p_value"] < ALPHA


def test_fields_are_separate_tables():
    table = counts([("host", "h1", 50, 10), ("host", "h2", 50, 90),
                    ("level", "ERROR", 8, 1), ("level", "WARN", 2, 9)])
    out = contributors(table)
    assert set(zip(out["field"], out["value"], strict=True)) == {("host", "h1"), ("level", "ERROR")}
    level = row_of(out, "level", "ERROR")
    assert level["log_odds"] == pytest.approx(expected_log_odds(8, 2, 1, 9)[0], rel=1e-9)
    assert level["window_share"] == pytest.approx(0.8) and level["baseline_share"] == pytest.approx(0.1)
    host = row_of(out, "host", "h1")
    assert host["log_odds"] == pytest.approx(expected_log_odds(50, 50, 10, 90)[0], rel=1e-9)


def test_a_value_absent_from_the_baseline_ranks_above_a_common_value_that_moved_a_little():
    table = counts([
        ("status", "500", 600, 4000), ("status", "503", 400, 6000),  # 40% -> 60% of many errors
        ("template_id", "t-new", 30, 0), ("template_id", "t-old", 70, 1000),  # 0 -> 30 of 100
    ])
    out = contributors(table)
    assert list(zip(out["field"], out["value"], strict=True)) == [("template_id", "t-new"), ("status", "500")]
    new, common = out.iloc[0], out.iloc[1]
    assert bool(new["significant"]) and bool(common["significant"])
    assert math.isfinite(new["log_odds"]) and math.isfinite(new["z"])  # Haldane-Anscombe: no division by zero
    assert new["log_odds"] == pytest.approx(expected_log_odds(30, 70, 0, 1000)[0], rel=1e-9)
    assert new["baseline_share"] == 0.0
    assert common["z"] > new["z"]  # the z score alone would have put the common value first
    assert common["z"] == pytest.approx(expected_log_odds(600, 400, 4000, 6000)[1], rel=1e-9)


def test_significant_values_come_before_larger_log_odds_that_are_not():
    table = counts([("host", "h1", 300, 100), ("host", "h2", 700, 900),  # strong evidence, moderate odds
                    ("tenant", "rare", 2, 0), ("tenant", "common", 8, 10)])  # large odds, little evidence
    out = contributors(table)
    assert out["value"].tolist() == ["h1", "rare"]
    assert out["significant"].tolist() == [True, False]
    assert out.iloc[1]["log_odds"] > out.iloc[0]["log_odds"]


def test_id_like_fields_are_left_out_but_template_id_is_kept():
    # every error its own value: 40 in the window, 40 others in the baseline
    values = [(f"v{i:02d}", 1, 0) for i in range(40)] + [(f"old{i:02d}", 0, 1) for i in range(40)]
    request_ids = contributors(counts([("request_id", value, w, b) for value, w, b in values]))
    assert request_ids.empty
    assert list(request_ids.columns) == list(CONTRIBUTOR_COLUMNS)
    # the very same counts under template_id: every new value is over-represented and listed
    templates = contributors(counts([("template_id", value, w, b) for value, w, b in values]))
    assert sorted(templates["value"]) == [f"v{i:02d}" for i in range(40)]
    assert templates.iloc[0]["log_odds"] == pytest.approx(expected_log_odds(1, 39, 0, 40)[0], rel=1e-9)


def test_template_id_is_kept_with_many_values():
    rows = [("template_id", f"t{i}", 1, 0) for i in range(MAX_FIELD_VALUES + 10)] + [("template_id", "old", 0, 5000)]
    out = contributors(counts(rows))
    assert len(out) == MAX_FIELD_VALUES + 10
    assert set(out["field"]) == {"template_id"}


@pytest.mark.parametrize(("distinct", "kept"), [(MAX_FIELD_VALUES, True), (MAX_FIELD_VALUES + 1, False)])
def test_a_field_with_max_field_values_values_is_left_out(distinct, kept):
    # one hot value among evenly spread ones: far from an id by its share of errors, only its count
    # of values can leave it out
    rows = [("path", "/hot", 100, 10)] + [("path", f"/p{i}", 10, 10) for i in range(distinct - 1)]
    out = contributors(counts([*rows, ("host", "h1", 50, 10), ("host", "h2", 50, 90)]))
    found = set(zip(out["field"], out["value"], strict=True))
    assert (("path", "/hot") in found) is kept
    assert ("host", "h1") in found  # the other field is still there
    if kept:
        assert out.iloc[0]["value"] == "/hot"


def test_bonferroni_the_same_table_is_significant_alone_and_not_among_many_tests():
    target = [("db", "primary", 32, 15), ("db", "replica", 68, 85)]
    _, _, p = expected_log_odds(32, 68, 15, 85)
    others = 20
    # the construction: significant only when tested alone (2 values tested, against 2 * (others + 1))
    assert ALPHA / (2 * (others + 1)) < p < ALPHA / 2

    alone = contributors(counts(target))
    assert alone["value"].tolist() == ["primary"]
    assert bool(alone.iloc[0]["significant"])
    assert alone.iloc[0]["p_value"] == pytest.approx(p, rel=1e-9)

    # other fields, each with an over-represented value: tested too, none changes the target's table
    many = counts(target + [row for i in range(others) for row in ((f"f{i}", "up", 11, 10), (f"f{i}", "down", 89, 90))])
    out = contributors(many)
    assert len(out) == others + 1
    primary = row_of(out, "db", "primary")
    assert primary["p_value"] == pytest.approx(p, rel=1e-9)
    assert primary["log_odds"] == pytest.approx(alone.iloc[0]["log_odds"], rel=1e-12)
    assert not bool(primary["significant"])
    assert not out["significant"].any()


def test_a_stricter_alpha_makes_fewer_values_significant():
    table = counts([("db", "primary", 30, 15), ("db", "replica", 70, 85)])
    _, _, p = expected_log_odds(30, 70, 15, 85)
    tested = 2  # both values of the field, over-represented or not
    assert bool(contributors(table, alpha=tested * p * 1.01).iloc[0]["significant"])
    assert not bool(contributors(table, alpha=tested * p * 0.99).iloc[0]["significant"])


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.01, 1.5])
def test_alpha_outside_zero_one_is_refused(alpha):
    with pytest.raises(ValueError, match="alpha"):
        contributors(counts([("host", "h1", 1, 1)]), alpha=alpha)


def test_empty_input_gives_an_empty_frame_with_the_columns():
    out = contributors(counts([]))
    assert out.empty
    assert list(out.columns) == list(CONTRIBUTOR_COLUMNS)


def test_no_over_represented_value_gives_an_empty_frame_with_the_columns():
    out = contributors(counts([("host", "h1", 10, 10), ("host", "h2", 10, 10), ("level", "E", 0, 5)]))
    assert out.empty
    assert list(out.columns) == list(CONTRIBUTOR_COLUMNS)


# --- flag_new --------------------------------------------------------------------------------------

def test_flag_new_keeps_templates_unseen_in_the_lookback_most_errors_first():
    sums = pd.DataFrame({
        "template_id": ["old", "new-a", "new-b", "gone", "new-c", "new-d"],
        "logs": [100, 5, 9, 0, 9, 9],
        "errors": [50, 5, 1, 0, 1, 0],
        "logs_lookback": [40, 0, 0, 7, 0, 0],
    })
    out = flag_new(sums)
    assert out["template_id"].tolist() == ["new-a", "new-b", "new-c", "new-d"]  # ties by logs, then id
    assert out["errors"].tolist() == [5, 1, 1, 0]
    assert out.index.tolist() == [0, 1, 2, 3]


# --- rises -------------------------------------------------------------------------------------------

def test_rises_compare_with_the_larger_earlier_span_and_keep_the_top_per_service():
    sums = pd.DataFrame({
        "template_id": ["a1", "a2", "a3", "a4", "a5", "b1", "b2"],
        "service": ["api", "api", "api", "api", "api", "web", "web"],
        "errors": [9, 19, 0, 4, 3, 1, 5],
        "errors_day_before": [0, 1, 0, 4, 0, 0, 0],
        "errors_week_before": [4, 0, 3, 0, 0, 0, 0],
    })
    out = rises(sums, top=2)
    # api: a1 10/5 = 2, a2 20/2 = 10, a5 4/1 = 4; a3 (now 0) and a4 (5/5 = 1, no rise) dropped
    assert list(zip(out["service"], out["template_id"], strict=True)) == [
        ("api", "a2"), ("api", "a5"), ("web", "b2"), ("web", "b1")]
    assert out["rise"].tolist() == pytest.approx([10.0, 4.0, 6.0, 2.0])
    a2 = out.iloc[0]
    assert a2["rise_vs_day"] == pytest.approx(10.0) and a2["rise_vs_week"] == pytest.approx(20.0)
    assert len(rises(sums, top=10)) == 5  # a1 comes back with a larger top


def test_rises_can_use_another_measure():
    sums = pd.DataFrame({"template_id": ["x", "y"], "service": ["s", "s"], "logs": [99, 0],
                         "logs_day_before": [9, 0], "logs_week_before": [49, 0], "errors": [0, 0]})
    out = rises(sums, measure="logs")
    assert out["template_id"].tolist() == ["x"]
    assert out["rise"].tolist() == pytest.approx([2.0])
    assert out["rise_vs_day"].tolist() == pytest.approx([10.0])


# --- period_sums -------------------------------------------------------------------------------------

def test_period_sums_sum_each_named_period_exactly():
    minute = timedelta(minutes=1)
    minutes = pd.DataFrame([
        ("t1", "api", T0, 10, 1),
        ("t1", "api", T0 + minute, 20, 2),
        ("t1", "api", T0 + 60 * minute, 40, 4),  # the range's end: outside it
        ("t1", "api", T0 - timedelta(days=1), 7, 0),
        ("t2", "api", T0 + 30 * minute, 5, 5),
        ("t3", "web", T0 - timedelta(days=1) + minute, 3, 3),  # only seen the day before
    ], columns=["template_id", "service", "window_start", "logs", "errors"])
    periods = {"": (T0, T0 + 60 * minute),
               "day_before": (T0 - timedelta(days=1), T0 - timedelta(days=1) + 60 * minute),
               "later": (T0 + 60 * minute, T0 + 120 * minute)}
    out = period_sums(minutes, periods).sort_values("template_id").reset_index(drop=True)
    assert list(out.columns) == ["template_id", "service", "logs", "errors", "logs_day_before",
                                 "errors_day_before", "logs_later", "errors_later"]
    assert out.to_dict("records") == [
        {"template_id": "t1", "service": "api", "logs": 30, "errors": 3, "logs_day_before": 7,
         "errors_day_before": 0, "logs_later": 40, "errors_later": 4},
        {"template_id": "t2", "service": "api", "logs": 5, "errors": 5, "logs_day_before": 0,
         "errors_day_before": 0, "logs_later": 0, "errors_later": 0},
        {"template_id": "t3", "service": "web", "logs": 0, "errors": 0, "logs_day_before": 3,
         "errors_day_before": 3, "logs_later": 0, "errors_later": 0},
    ]
    assert all(str(dtype) == "int64" for dtype in out.dtypes.iloc[2:])


def test_period_sums_feed_flag_new_and_rises():
    minute = timedelta(minutes=1)
    minutes = pd.DataFrame([
        ("old", "api", T0 - timedelta(days=1), 10, 2),
        ("old", "api", T0, 10, 8),
        ("fresh", "api", T0 + minute, 4, 4),
    ], columns=["template_id", "service", "window_start", "logs", "errors"])
    sums = period_sums(minutes, {"": (T0, T0 + 60 * minute),
                                 "day_before": (T0 - timedelta(days=1), T0 - timedelta(days=1) + 60 * minute),
                                 "week_before": (T0 - timedelta(days=7), T0 - timedelta(days=7) + 60 * minute),
                                 "lookback": (T0 - timedelta(days=7), T0)}, columns=("logs", "errors"))
    assert flag_new(sums)["template_id"].tolist() == ["fresh"]
    risen = rises(sums)
    assert risen["template_id"].tolist() == ["fresh", "old"]  # 5/1 then 9/3
    assert risen["rise"].tolist() == pytest.approx([5.0, 3.0])
