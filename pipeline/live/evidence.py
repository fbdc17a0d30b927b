"""What an alert carries about its incident: the top contributor among its errors ("why this
window"), the templates new in it, its top error templates and five sample raw log lines. Each part
is read on its own: one that fails (a server down) is left out with the reason, the others stay."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd

from pipeline.analysis.drilldown import drilldown
from pipeline.analysis.pattern_queries import new_templates, top_templates, why
from pipeline.common.times import iso_z
from pipeline.settings import Settings

SAMPLE_LINES = 5
TOP_TEMPLATES = 3


def _part(name: str, read: Callable[[], Any], missing: list[str]) -> Any:
    try:
        return read()
    except Exception as exc:  # noqa: BLE001 - an alert goes out with what could be read, and says what not
        missing.append(f"{name}: {type(exc).__name__}: {str(exc)[:200]}")
        return None


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    return [{k: (iso_z(v) if isinstance(v, (pd.Timestamp, dt.datetime)) else v) for k, v in row.items()}
            for row in frame[columns].to_dict(orient="records")]


def incident_evidence(settings: Settings, service: str, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """The evidence of the incident of ``service`` over [start, end) (naive UTC), JSON-ready."""
    missing: list[str] = []
    ranked = _part("why", lambda: why(settings, service, start, end), missing)
    contributor = None
    if ranked is not None and len(ranked):
        top = ranked.iloc[0]
        contributor = {"field": top["field"], "value": top["value"], "template": top["template"],
                       "window_share": round(float(top["window_share"]), 4),
                       "baseline_share": round(float(top["baseline_share"]), 4),
                       "log_odds": round(float(top["log_odds"]), 3), "significant": bool(top["significant"])}
    new = _part("new templates", lambda: new_templates(settings, start, end, services=[service]), missing)
    templates = _part("top templates", lambda: top_templates(settings, start, end, TOP_TEMPLATES, [service]), missing)
    sample = _part("sample logs", lambda: drilldown(settings, start, end, top=1, per_window=SAMPLE_LINES,
                                                    services=[service], errors_only=True), missing)
    lines = [] if sample is None else [
        f"{iso_z(row.timestamp)} {row.status} {row.host} {row.message}"[:500] for row in sample.itertuples()]
    return {
        "top_contributor": contributor,
        "new_templates": [] if new is None else _records(new.head(5), ["template_id", "template", "errors", "sample"]),
        "top_templates": [] if templates is None else _records(templates, ["template_id", "template", "errors"]),
        "sample_logs": lines,
        "missing": missing,
    }
