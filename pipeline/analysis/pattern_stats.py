"""The statistics of pattern questions, on counts already summed per period (by SQL over the mined
tables, or by ``period_sums`` over a frame of them): which templates are new, which rose, and which
field values are over-represented among a window's errors ("why this window").

Contributors: for each value v of a field, the 2x2 table of the field's errors in the window and
in the baseline, with v and without. The score is the log odds ratio with 0.5 added to every cell
(Haldane-Anscombe: a value absent from the baseline gets a finite score), its standard error
sqrt(sum 1/cell), and the one-sided z test of over-representation; a value is significant when its
p-value is below ``alpha`` divided by the number of values tested, over-represented or not
(Bonferroni). Significant values
come first, by log odds ratio (how much more often the value is among the window's errors; a z
score alone would favour a common value whose share moved a little), then the others. Fields that
look like ids (``MAX_FIELD_VALUES``, ``ID_SHARE``) are left out: every value of an id is rare.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

SMOOTHING = 0.5
ALPHA = 0.01
# A field is an id, not a dimension, when it shows more values than the miner keeps of a field in one
# step, or when nearly every error carries a value of its own (a request id among a few hundred errors).
MAX_FIELD_VALUES = 500
ID_MIN_VALUES, ID_SHARE = 10, 0.8
ALWAYS_FIELDS = ("template_id",)  # there may be many templates, each still a candidate
CONTRIBUTOR_COLUMNS = ("field", "value", "window_errors", "window_share", "baseline_errors", "baseline_share",
                       "log_odds", "z", "p_value", "significant")


def contributors(counts: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """``counts``: field, value, window_errors, baseline_errors (errors carrying that value). One row
    per over-represented value (columns ``CONTRIBUTOR_COLUMNS``), best first."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be within (0, 1), got {alpha}")
    frame = counts[["field", "value", "window_errors", "baseline_errors"]].copy()
    frame[["window_errors", "baseline_errors"]] = frame[["window_errors", "baseline_errors"]].astype("int64")
    by_field = frame.groupby("field")
    distinct = by_field["value"].transform("size")
    total = by_field["window_errors"].transform("sum") + by_field["baseline_errors"].transform("sum")
    id_like = (distinct > MAX_FIELD_VALUES) | ((distinct >= ID_MIN_VALUES) & (distinct > ID_SHARE * total))
    frame = frame[~id_like | frame["field"].isin(ALWAYS_FIELDS)]
    if frame.empty:
        return pd.DataFrame(columns=CONTRIBUTOR_COLUMNS)
    window_total = frame.groupby("field")["window_errors"].transform("sum").astype(float)
    baseline_total = frame.groupby("field")["baseline_errors"].transform("sum").astype(float)
    a = frame["window_errors"].astype(float)
    c = frame["baseline_errors"].astype(float)
    b, d = window_total - a, baseline_total - c
    cells = [x + SMOOTHING for x in (a, b, c, d)]
    log_odds = np.log(cells[0] * cells[3] / (cells[1] * cells[2]))
    se = np.sqrt(sum(1.0 / x for x in cells))
    z = log_odds / se
    p = 0.5 * np.vectorize(math.erfc)(z.to_numpy() / math.sqrt(2.0))
    out = frame.assign(
        window_share=np.where(window_total > 0, a / window_total.where(window_total > 0, 1), 0.0),
        baseline_share=np.where(baseline_total > 0, c / baseline_total.where(baseline_total > 0, 1), 0.0),
        log_odds=log_odds, z=z, p_value=p)
    tested = max(1, len(out))
    # Over-represented: a larger share of the window's errors than of the baseline's. (The log odds
    # alone would not do: with 0.5 added to each cell, a value every error carries in both periods
    # scores log((a + 0.5) / (c + 0.5)), above 0 whenever the window simply has more errors.)
    out = out[(out["window_share"] > out["baseline_share"]) & (out["log_odds"] > 0)]
    out = out.assign(significant=out["p_value"] < alpha / tested)
    out = out.sort_values(["significant", "log_odds", "z", "field", "value"],
                          ascending=[False, False, False, True, True])
    return out[list(CONTRIBUTOR_COLUMNS)].reset_index(drop=True)


def flag_new(sums: pd.DataFrame) -> pd.DataFrame:
    """``sums``: per template, ``logs``/``errors`` in the range and ``logs_lookback`` before it. The
    templates of the range never seen in the look-back period, most errors first."""
    new = sums[(sums["logs"] > 0) & (sums["logs_lookback"] == 0)]
    return new.sort_values(["errors", "logs", "template_id"], ascending=[False, False, True]).reset_index(drop=True)


def rises(sums: pd.DataFrame, measure: str = "errors", top: int = 10) -> pd.DataFrame:
    """``sums``: per template, ``<measure>`` in the range, ``<measure>_day_before`` and
    ``<measure>_week_before`` (the same span one day and one week earlier). Adds ``rise_vs_day``
    and ``rise_vs_week`` ((now + 1) / (then + 1)) and keeps, per service, the ``top`` templates whose
    rise against the larger of the two earlier spans is greatest (and above 1)."""
    now = sums[measure].astype(float)
    day, week = sums[f"{measure}_day_before"].astype(float), sums[f"{measure}_week_before"].astype(float)
    out = sums.assign(rise_vs_day=(now + 1) / (day + 1), rise_vs_week=(now + 1) / (week + 1),
                      rise=(now + 1) / (np.maximum(day, week) + 1))
    out = out[(out["rise"] > 1) & (now > 0)]
    out = out.sort_values(["service", "rise", measure, "template_id"], ascending=[True, False, False, True])
    return out.groupby("service", sort=False).head(top).reset_index(drop=True)


def period_sums(minutes: pd.DataFrame, periods: dict[str, tuple[dt.datetime, dt.datetime]],
                columns: tuple[str, ...] = ("logs", "errors")) -> pd.DataFrame:
    """Per template (``template_id``, ``service``), the sums of ``columns`` of ``minutes``
    (template_id, service, window_start, logs, errors) over each named period: a column
    ``<column>`` for the period named "" and ``<column>_<name>`` for the others. What the SQL of
    ``pattern_queries`` computes in Trino, for frames already in memory."""
    keys = ["template_id", "service"]
    out = minutes[keys].drop_duplicates().set_index(keys)
    for name, (start, end) in periods.items():
        inside = minutes[(minutes["window_start"] >= start) & (minutes["window_start"] < end)]
        summed = inside.groupby(keys)[list(columns)].sum()
        summed.columns = [column if not name else f"{column}_{name}" for column in columns]
        out = out.join(summed)
    return out.fillna(0).astype("int64").reset_index()
