"""Reconciliation of the raw logs and the windows: numbers that disagree are reported by the tool itself.

Every record of the stream takes two paths. The Lambda stores each log raw in MongoDB (``stored``) or
quarantines a record that is no log; the Flink job reads the same logs (``received``, its
``minute_arrivals`` table) and counts each in the window of its minute (``counted``, the window's
``requests`` in ``service_minute_stats``), unless it read it after that window had closed (``late``
= received - counted). A log whose producer's clock ran ahead of the stream by the tolerance or
more counts at arrival + tolerance on both paths (``skewed``: the raw document's ``clock_skew``,
the tables' ``clock_skewed``). Per service and event-time minute, one Trino query over both catalogs
(``sql/reconcile.sql``) gives the counts of the three sides; ``flag_minutes`` says which minutes do
not add up and why. A minute adds up when

- stored == received: both paths saw the same logs;
- counted <= received: a window cannot count logs the job did not read;
- skewed_raw == skewed_received, and the window's skewed count is between skewed_received - late and
  skewed_received: both paths flagged the same logs, and a skewed log the window misses is a late one
  (without late logs: skewed_raw == skewed_windows).

A minute present on one side only has 0 on the others. Quarantined records have no trusted event
time: they are counted by their arrival in the stream (``arrival``) within the range, by rule (the
part of the reason before ':').
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd
from pymongo import MongoClient

from pipeline.analysis.db import PG_SCHEMA, load_sql, query, quote_ident, services_params
from pipeline.analysis.layout import prepare_raw
from pipeline.common.times import iso_z, utc_naive
from pipeline.settings import Settings

COUNT_COLUMNS = ("stored", "received", "counted", "skewed_raw", "skewed_received", "skewed_windows")
QUERY_COLUMNS = ("service", "minute", *COUNT_COLUMNS)
MINUTE_COLUMNS = ("service", "minute", "stored", "received", "counted", "late", "skewed_raw", "skewed_received",
                  "skewed_windows", "ok", "problem")
QUARANTINE_COLUMNS = ("reason", "records", "example")
EXAMPLE_BYTES = 80

# What ``--help`` and the notebook say about each column of ``Reconciliation.minutes``.
COLUMN_HELP = {
    "service, minute": "the service and the event-time minute (UTC) the counts are for",
    "stored": "raw logs the Lambda stored in MongoDB",
    "received": "logs the Flink job read (minute_arrivals), late or not",
    "counted": "logs the minute's window counted (service_minute_stats.requests)",
    "late": "received - counted: logs read after their window had closed",
    "skewed_raw": "stored logs counted at arrival + tolerance (the producer's clock ran ahead)",
    "skewed_received": "the same, as the Flink job read them",
    "skewed_windows": "the same, counted in the window",
    "ok": "whether the minute adds up: stored == received, counted <= received, the same skewed logs "
          "on both paths (a skewed log missing from the window is a late one)",
    "problem": "what does not add up",
}


@dataclass(frozen=True)
class Totals:
    """Records over the whole range (``late``: only minutes where the window counted fewer than read)."""

    received: int
    stored: int
    counted: int
    quarantined: int
    late: int
    skewed: int


@dataclass(frozen=True)
class Reconciliation:
    """The reconciliation of [start, end) (naive UTC, whole minutes)."""

    start: dt.datetime
    end: dt.datetime
    minutes: pd.DataFrame  # MINUTE_COLUMNS, one row per service and minute with a count on any side
    quarantined: pd.DataFrame  # QUARANTINE_COLUMNS, one row per rule, most records first
    totals: Totals
    ok: bool  # every minute adds up

    @property
    def problems(self) -> pd.DataFrame:
        """The minutes that do not add up."""
        return self.minutes[~self.minutes["ok"]].reset_index(drop=True)

    @property
    def summary(self) -> str:
        """One line: the totals and the verdict."""
        t = self.totals
        bad, total = int((~self.minutes["ok"]).sum()), len(self.minutes)
        verdict = (f"{bad} of {total} service-minutes do not add up" if bad
                   else f"all {total} service-minutes add up")
        if bad and t.received == 0:
            verdict += " (the Flink job read none of this range: has it run over it?)"
        return (f"{t.received:,} logs read by Flink, {t.stored:,} stored raw, {t.counted:,} counted in windows, "
                f"{t.late:,} late, {t.skewed:,} skewed, {t.quarantined:,} records quarantined; {verdict}")


def minute_range(start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The whole minutes whose start is in [start, end), as [first, end) in naive UTC."""
    lo, hi = (pd.Timestamp(utc_naive(moment)).ceil("min").to_pydatetime() for moment in (start, end))
    return lo, hi


def flag_minutes(counts: pd.DataFrame) -> pd.DataFrame:
    """``counts`` (service, minute and ``COUNT_COLUMNS``; missing or NULL counts are 0) with ``late``,
    ``ok`` and ``problem`` (what does not add up, '' when it does): ``MINUTE_COLUMNS``."""
    frame = counts.copy()
    for column in COUNT_COLUMNS:
        values = frame[column] if column in frame else pd.Series(0, index=frame.index)
        frame[column] = pd.to_numeric(values).fillna(0).astype("int64")
    frame["late"] = frame["received"] - frame["counted"]
    frame["problem"] = [_problem(row) for row in frame[list(COUNT_COLUMNS)].itertuples(index=False)]
    frame["ok"] = frame["problem"] == ""
    return frame[list(MINUTE_COLUMNS)].reset_index(drop=True)


def _problem(row: Any) -> str:
    stored, received, counted, skewed_raw, skewed_received, skewed_windows = (int(v) for v in row)
    late = max(received - counted, 0)
    problems = []
    if stored != received:
        problems.append(f"stored {stored}, Flink read {received}: the paths disagree")
    if counted > received:
        problems.append(f"window counts {counted - received} more than Flink read")
    if skewed_raw != skewed_received:
        problems.append(f"skewed: raw {skewed_raw}, Flink read {skewed_received}")
    if not skewed_received - late <= skewed_windows <= skewed_received:
        problems.append(f"skewed: raw {skewed_raw}, windows {skewed_windows}" + (f", {late} late" if late else ""))
    return "; ".join(problems)


def minute_counts(settings: Settings, start: dt.datetime, end: dt.datetime,
                  services: Iterable[str] | None = None) -> pd.DataFrame:
    """The three sides' counts per service and minute of [start, end) (whole minutes, see
    ``minute_range``), from one Trino query: ``QUERY_COLUMNS``, sorted by service, minute."""
    lo, hi = minute_range(start, end)
    sql = load_sql("reconcile", pg_schema=quote_ident(PG_SCHEMA), raw_logs=prepare_raw(settings, lo, hi))
    params = {"start_ts": lo, "end_ts": hi, **services_params(services)}
    return query(settings, sql, params, QUERY_COLUMNS)


def quarantine_by_reason(settings: Settings, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """Records quarantined with their arrival in the stream in [start, end) (a record the store
    refused has no ``arrival``: its ``received_at``), by rule: reason, records, example (the first
    80 bytes of one record, as text)."""
    lo, hi = utc_naive(start), utc_naive(end)
    within = {"$gte": lo, "$lt": hi}
    found = {"$or": [{"arrival": within}, {"arrival": {"$exists": False}, "received_at": within}]}
    rules: dict[str, list[Any]] = {}  # rule -> [records, _id of the first one]
    with MongoClient(settings.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        collection = client[settings.mongodb_database][settings.quarantine_collection]
        for doc in collection.find(found, {"reason": 1}).sort("_id", 1):
            rule = str(doc.get("reason") or "").split(":", 1)[0].strip() or "(no reason)"
            rules.setdefault(rule, [0, doc["_id"]])[0] += 1
        # the examples' bytes only (a quarantined record may be large)
        raw = {doc["_id"]: bytes(doc.get("raw") or b"")
               for doc in collection.find({"_id": {"$in": [first for _, first in rules.values()]}}, {"raw": 1})}
    frame = pd.DataFrame(
        [(rule, count, raw.get(first, b"")[:EXAMPLE_BYTES].decode("utf-8", "replace"))
         for rule, (count, first) in rules.items()], columns=list(QUARANTINE_COLUMNS))
    frame = frame.astype({"records": "int64"})
    return frame.sort_values(["records", "reason"], ascending=[False, True]).reset_index(drop=True)


def reconcile(settings: Settings, start: dt.datetime, end: dt.datetime,
              services: Iterable[str] | None = None) -> Reconciliation:
    """Reconcile the raw logs, what the Flink job read and its windows, per service and minute in
    [start, end), and the quarantine of that range (see the module's doc for what adds up)."""
    lo, hi = minute_range(start, end)
    if hi <= lo:
        raise ValueError(f"no whole minute starts in [{start.isoformat()}, {end.isoformat()})")
    services = None if services is None else list(services)
    return build(lo, hi, minute_counts(settings, lo, hi, services), quarantine_by_reason(settings, lo, hi))


def build(start: dt.datetime, end: dt.datetime, counts: pd.DataFrame, quarantined: pd.DataFrame) -> Reconciliation:
    """The reconciliation of the counts per minute (see ``flag_minutes``) and the quarantine by reason."""
    minutes = flag_minutes(counts)
    totals = Totals(received=int(minutes["received"].sum()), stored=int(minutes["stored"].sum()),
                    counted=int(minutes["counted"].sum()), quarantined=int(quarantined["records"].sum()),
                    late=int(minutes["late"].clip(lower=0).sum()), skewed=int(minutes["skewed_raw"].sum()))
    return Reconciliation(start, end, minutes, quarantined, totals, bool(minutes["ok"].all()))


# --- output for the command line ---------------------------------------------------------------------

def _printable(value: object) -> str:
    """Text for a terminal: control characters (a log's newlines, escape sequences) as escapes."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(value))


def _text_table(frame: pd.DataFrame) -> str:
    """Columns separated by two spaces: numbers right-aligned, text left-aligned, the last column unpadded."""
    columns = [[_printable(name), *(_printable(v) for v in frame[name])] for name in frame.columns]
    numeric = [pd.api.types.is_numeric_dtype(frame[name]) and not pd.api.types.is_bool_dtype(frame[name])
               for name in frame.columns]
    widths = [max(len(cell) for cell in cells) for cells in columns]
    rows = []
    for i in range(len(frame) + 1):
        cells = [(c[i].rjust(w) if num else c[i].ljust(w)) for c, w, num in zip(columns, widths, numeric, strict=True)]
        rows.append("  ".join(cells).rstrip())
    return "\n".join(rows)


def format_table(result: Reconciliation, minutes: bool = True) -> str:
    """The reconciliation as text: every service and minute (those that do not add up marked ``NO``
    with the problem; left out without ``minutes``), the quarantine by reason, the totals and the verdict."""
    lines = []
    if minutes:
        lines += [f"Reconciliation of {iso_z(result.start)} to {iso_z(result.end)} (event-time minutes, UTC)", ""]
        if result.minutes.empty:
            lines.append("no raw log, no log read by Flink and no window in this range")
        else:
            shown = result.minutes.assign(
                minute=pd.to_datetime(result.minutes["minute"]).dt.strftime("%Y-%m-%d %H:%M"),
                ok=result.minutes["ok"].map({True: "yes", False: "NO"}))
            lines.append(_text_table(shown))
        lines.append("")
    lines.append("Quarantined by reason (by arrival in the stream):")
    lines.append(_text_table(result.quarantined) if len(result.quarantined) else "none")
    lines += ["", result.summary]
    return "\n".join(lines)


def to_json(result: Reconciliation) -> str:
    """The reconciliation as JSON: range, ok, totals, minutes (ISO minutes) and quarantined."""
    minutes = result.minutes.assign(minute=pd.to_datetime(result.minutes["minute"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    document = {"start": iso_z(result.start), "end": iso_z(result.end), "ok": result.ok,
                "totals": asdict(result.totals), "minutes": minutes.to_dict(orient="records"),
                "quarantined": result.quarantined.to_dict(orient="records")}
    return json.dumps(document, indent=2, default=int)
