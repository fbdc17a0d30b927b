"""Pattern questions answered from the mined templates in PostgreSQL (through Trino, as the
read-only user): top templates of a range, new and changed templates, "why this window", and, from
a sample of raw logs, the values behind a template's wildcards. Each reads the templates mined from
the settings' raw logs (``template_store.source_name``).

Ranges are in whole minutes (the mined counts are per minute): a range starting inside a minute
starts with the next one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from pipeline.analysis.db import PG_SCHEMA, load_sql, query, services_params
from pipeline.analysis.drain import WILDCARD, WildcardSummary, is_variable, wildcard_values
from pipeline.analysis.layout import prepare_raw
from pipeline.analysis.pattern_stats import ALPHA, contributors, flag_new, rises
from pipeline.analysis.template_store import source_name
from pipeline.common.errors import WorkbenchError
from pipeline.common.times import utc_naive
from pipeline.settings import Settings

MEASURES = ("errors", "logs")
DAY, WEEK = dt.timedelta(days=1), dt.timedelta(days=7)
DEFAULT_LOOKBACK = WEEK
DEFAULT_BASELINE = dt.timedelta(hours=3)
TOP_COLUMNS = ("service", "rank", "template_id", "template", "occurrences", "logs", "errors", "sample",
               "first_seen", "last_seen")
NEW_COLUMNS = ("service", "template_id", "template", "logs", "errors", "sample", "first_seen", "last_seen")
CHANGED_COLUMNS = ("service", "template_id", "template", "errors", "errors_day_before", "errors_week_before",
                   "logs", "logs_day_before", "logs_week_before", "rise_vs_day", "rise_vs_week", "sample")


class UnknownTemplate(WorkbenchError):
    """No mined template has the id asked for."""


def _check(start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    lo, hi = utc_naive(start), utc_naive(end)
    if hi <= lo:
        raise ValueError(f"the range is empty: end {hi} is not after start {lo}")
    return lo, hi


def _measure(measure: str) -> str:
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    return measure


def top_templates(settings: Settings, start: dt.datetime, end: dt.datetime, top: int = 10,
                  services: Iterable[str] | None = None, measure: str = "errors") -> pd.DataFrame:
    """Per service, the ``top`` mined templates of [start, end) by errors (status >= 500) or logs.

    Columns ``TOP_COLUMNS`` (``occurrences`` is the measure); sorted by service, rank."""
    lo, hi = _check(start, end)
    if int(top) < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    sql = load_sql("template_top", pg_schema=PG_SCHEMA, measure=_measure(measure))
    params = {"source": source_name(settings), "start_ts": lo, "end_ts": hi, "top": int(top),
              **services_params(services)}
    frame = query(settings, sql, params, TOP_COLUMNS)
    return frame.astype({"rank": "int64", "occurrences": "int64", "logs": "int64", "errors": "int64"})


def template_periods(settings: Settings, start: dt.datetime, end: dt.datetime,
                     services: Iterable[str] | None = None, lookback: dt.timedelta = DEFAULT_LOOKBACK) -> pd.DataFrame:
    """Per template seen in [start, end): its counts there, in the look-back period before it, and
    in the same span one day and one week earlier (the input of ``flag_new`` and ``rises``)."""
    lo, hi = _check(start, end)
    if lookback <= dt.timedelta(0):
        raise ValueError(f"the look-back period must be positive, got {lookback}")
    span = hi - lo
    params = {"source": source_name(settings), "start_ts": lo, "end_ts": hi, "lookback_ts": lo - lookback,
              "day_start_ts": lo - DAY, "day_end_ts": lo - DAY + span,
              "week_start_ts": lo - WEEK, "week_end_ts": lo - WEEK + span,
              "first_ts": min(lo - lookback, lo - WEEK), **services_params(services)}
    frame = query(settings, load_sql("template_periods", pg_schema=PG_SCHEMA), params)
    counts = [c for c in frame.columns if c.startswith(("logs", "errors", "lookback"))]
    return frame.astype(dict.fromkeys(counts, "int64"))


def new_templates(settings: Settings, start: dt.datetime, end: dt.datetime, services: Iterable[str] | None = None,
                  lookback: dt.timedelta = DEFAULT_LOOKBACK) -> pd.DataFrame:
    """The templates of [start, end) never seen in the ``lookback`` before ``start``, with their
    counts and first message (columns ``NEW_COLUMNS``), most errors first."""
    periods = template_periods(settings, start, end, services, lookback)
    return flag_new(periods)[list(NEW_COLUMNS)]


def changed_templates(settings: Settings, start: dt.datetime, end: dt.datetime,
                      services: Iterable[str] | None = None, top: int = 10, measure: str = "errors") -> pd.DataFrame:
    """Per service, the ``top`` templates whose ``measure`` in [start, end) rose most against the
    same span one day and one week earlier (columns ``CHANGED_COLUMNS``)."""
    periods = template_periods(settings, start, end, services)
    return rises(periods, _measure(measure), top)[list(CHANGED_COLUMNS)]


def why_counts(settings: Settings, service: str, start: dt.datetime, end: dt.datetime,
               baseline: dt.timedelta = DEFAULT_BASELINE) -> pd.DataFrame:
    """The service's server errors per field value in [start, end) and in the ``baseline`` before."""
    lo, hi = _check(start, end)
    if baseline <= dt.timedelta(0):
        raise ValueError(f"the baseline must be positive, got {baseline}")
    params = {"source": source_name(settings), "service": service, "start_ts": lo, "end_ts": hi,
              "baseline_ts": lo - baseline}
    return query(settings, load_sql("why_counts", pg_schema=PG_SCHEMA), params,
                 ("field", "value", "window_errors", "baseline_errors"))


def why(settings: Settings, service: str, start: dt.datetime, end: dt.datetime,
        baseline: dt.timedelta = DEFAULT_BASELINE, alpha: float = ALPHA) -> pd.DataFrame:
    """The field values over-represented among the service's errors of [start, end) against the
    ``baseline`` before it (``pattern_stats.contributors``), best first; a template id comes with
    its text."""
    ranked = contributors(why_counts(settings, service, start, end, baseline), alpha)
    ids = ranked.loc[ranked["field"] == "template_id", "value"].tolist()
    texts = _template_texts(settings, ids)
    return ranked.assign(template=ranked["value"].map(texts).where(ranked["field"] == "template_id", None))


def _template_texts(settings: Settings, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    params = {"source": source_name(settings), "ids": ids}
    frame = query(settings, load_sql("template_texts", pg_schema=PG_SCHEMA), params, expanding=("ids",))
    return dict(zip(frame["template_id"], frame["template"], strict=True))


@dataclass(frozen=True)
class Coverage:
    """Raw logs of a range stored, and counted by the template miner."""

    start: dt.datetime
    end: dt.datetime
    stored: int
    mined: int

    @property
    def complete(self) -> bool:
        return self.mined == self.stored

    @property
    def summary(self) -> str:
        if self.complete:
            return f"the templates count all {self.stored:,} raw logs of the range"
        return (f"the templates count {self.mined:,} of the {self.stored:,} raw logs of the range: the others "
                "are not mined yet (run 'python -m pipeline analysis mine') or were stored after their hour "
                "was mined ('python -m pipeline analysis mine --rebuild' mines every stored log again)")


def coverage(settings: Settings, start: dt.datetime, end: dt.datetime) -> Coverage:
    """Stored and mined raw logs of the whole minutes of [start, end)."""
    lo, hi = _check(start, end)
    floor = lo.replace(second=0, microsecond=0)
    lo, hi = (floor if floor == lo else floor + dt.timedelta(minutes=1)), hi.replace(second=0, microsecond=0)
    if hi <= lo:
        return Coverage(lo, hi, 0, 0)
    sql = load_sql("template_coverage", raw_logs=prepare_raw(settings, lo, hi), pg_schema=PG_SCHEMA)
    row = query(settings, sql, {"source": source_name(settings), "start_ts": lo, "end_ts": hi}).iloc[0]
    return Coverage(lo, hi, int(row["stored"]), int(row["mined"]))


@dataclass(frozen=True)
class TemplateValues:
    template_id: str
    service: str
    template: str
    summary: WildcardSummary


def like_pattern(template: str) -> str:
    """A SQL LIKE pattern every message of ``template`` matches: its constant words, in order."""
    words = [token for token in template.split() if token != WILDCARD and not is_variable(token)]
    escaped = [w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") for w in words]
    return "%" + "%".join(escaped) + "%" if escaped else "%"


def template_values(settings: Settings, template_id: str, start: dt.datetime, end: dt.datetime,
                    sample: int = 2000, top: int = 5) -> TemplateValues:
    """The most frequent values behind each ``<*>`` and masked part (``<num>``, ``<id>``...) of a
    template, from up to ``sample`` of its raw logs of [start, end), read through Trino."""
    lo, hi = _check(start, end)
    lookup = {"source": source_name(settings), "template_id": template_id}
    found = query(settings, load_sql("template_lookup", pg_schema=PG_SCHEMA), lookup)
    if found.empty:
        raise UnknownTemplate(f"no mined template has the id {template_id!r}",
                              "list templates with 'python -m pipeline analysis patterns', or mine first "
                              "with 'python -m pipeline analysis mine'")
    service, template = str(found.at[0, "service"]), str(found.at[0, "template"])
    sql = load_sql("template_sample", raw_logs=prepare_raw(settings, lo, hi))
    params = {"start_ts": lo, "end_ts": hi, "service": service, "like": like_pattern(template), "sample": int(sample)}
    messages = query(settings, sql, params)["message"].tolist()
    return TemplateValues(template_id, service, template, wildcard_values(template, messages, top, masked_parts=True))
