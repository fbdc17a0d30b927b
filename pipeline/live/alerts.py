"""Alerts: the incident detector over the closed windows, every few seconds, and one message on the
alert topic when an incident opens and one when it resolves.

Each evaluation (``evaluate``):

1. mines the raw logs' templates up to the miner's closed time (``mining_settle_s`` plus the
   watermark bound behind now: the raw logs of those minutes are all stored; the alerts' evidence
   reads the templates);
2. detects incidents in the windows of the last ``alerts_lookback_min`` minutes up to the windows'
   closed time (``windows_closed_until``: the watermark bound plus ``alerts_window_settle_s`` behind
   now): windows are final once the watermark passed them, so detection waits for nothing else;
3. matches them with the open incidents stored in PostgreSQL (same service, overlapping, or starting
   within ``alerts_quiet_min`` of the stored end): a match extends the stored one; an unmatched
   incident still going on (its last flagged minute within the quiet minutes of closed time) opens a
   new one; a stored incident whose end lies ``alerts_quiet_min`` or more behind closed time resolves;
4. sends the messages committed and not yet sent, oldest first, marking each sent after it left.

So a watcher restarted at any point sends nothing twice (at worst, once more a message it had
published but not marked when it died), and incidents that ended before it started are not
announced as news.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg2

from pipeline.analysis.incidents import incidents
from pipeline.analysis.mine_stored import NothingToMine, closed_until, mine_stored
from pipeline.analysis.template_store import source_name
from pipeline.common.errors import WorkbenchError
from pipeline.common.templates import sql_file
from pipeline.common.times import iso_z, utc_naive
from pipeline.live.channel import Channel, ensure_channel, publish
from pipeline.live.dashboards import dashboard_url
from pipeline.live.evidence import incident_evidence
from pipeline.settings import Settings

SQL_DIR = Path(__file__).parent / "sql"
REPORT_MARGIN = dt.timedelta(minutes=30)  # the report an alert names covers the incident and this around it
ALERT_COLUMNS = ("alert_id", "service", "start", "end", "state", "evidence", "opened_at", "resolved_at")


def _sql(name: str) -> str:
    return sql_file(SQL_DIR / f"{name}.sql")


@dataclass(frozen=True)
class AlertEvent:
    """A message that left for the topic."""

    kind: str  # "opened" or "resolved"
    alert_id: int
    message: dict[str, Any]

    def line(self) -> str:
        """One line for a terminal: kind, service, start, evidence."""
        m = self.message
        return f"{self.kind:<8} {m['service']} start {m['start']} {m.get('evidence', '')}"


def _message(settings: Settings, kind: str, service: str, start: dt.datetime, end: dt.datetime, evidence: str,
             details: dict[str, Any]) -> dict[str, Any]:
    message = {"kind": kind, "service": service, "start": iso_z(start), "end": iso_z(end), "evidence": evidence,
               **details,
               "report": f"python -m pipeline report --start {iso_z(start - REPORT_MARGIN)} "
                         f"--end {iso_z(end + REPORT_MARGIN)}"}
    if settings.superset_enabled or settings.superset_url:
        # The service's drill-down, filtered to the service and the incident's time (with a margin).
        message["dashboard"] = dashboard_url(settings, service, start - REPORT_MARGIN, end + REPORT_MARGIN)
    return message


def _overlaps(row: tuple[Any, ...], service: str, start: dt.datetime, end: dt.datetime, quiet: dt.timedelta) -> bool:
    _, stored_service, stored_start, stored_end, _ = row
    return stored_service == service and start <= stored_end + quiet and end >= stored_start


def windows_closed_until(settings: Settings, now: dt.datetime | None = None) -> dt.datetime:
    """The end of the windows the detector judges: the last whole minute at least the watermark bound and
    ``alerts_window_settle_s`` (the sink's flush) ago. By the clock, not by the windows written: when the
    traffic stops, its last minute is never written (nothing moves the watermark past it), and an
    incident running into it must still be judged and resolved."""
    moment = utc_naive(now or dt.datetime.now(dt.UTC)) - dt.timedelta(
        seconds=settings.watermark_bound_s + settings.alerts_window_settle_s)
    return moment.replace(second=0, microsecond=0)


def evaluate(settings: Settings, channel: Channel, now: dt.datetime | None = None,
             mine: bool = True, note: Callable[[str], None] | None = None) -> list[AlertEvent]:
    """One evaluation (see the module docstring); the messages sent. ``note`` hears what it judged:
    the windows' closed time and the incidents found (the watcher's log, once a minute)."""
    if mine:
        with contextlib.suppress(NothingToMine):  # no raw logs yet: nothing to mine, nothing to alert on
            mine_stored(settings, closed_until(settings, now), progress=False, now=now)
    closed = windows_closed_until(settings, now)
    found = incidents(settings, closed - dt.timedelta(minutes=settings.alerts_lookback_min), closed)
    if note is not None:
        seen = ", ".join(f"{i.service} {utc_naive(i.start):%H:%M}-{utc_naive(i.end):%H:%M}" for i in found.itertuples())
        note(f"windows closed until {closed:%H:%M}: {len(found)} incident(s) in the last "
             f"{settings.alerts_lookback_min} min{': ' + seen if seen else ''}")
    quiet = dt.timedelta(minutes=settings.alerts_quiet_min)
    source = source_name(settings)
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(_sql("open_alerts"), {"source": source})
        stored = cur.fetchall()
        reach: dict[int, dt.datetime] = {row[0]: row[3] for row in stored}
        for incident in found.itertuples():
            start, end = utc_naive(incident.start), utc_naive(incident.end)
            match = next((row for row in stored if _overlaps(row, incident.service, start, end, quiet)), None)
            if match is not None:
                reach[match[0]] = max(reach[match[0]], end)
                cur.execute(_sql("extend_alert"), {"alert_id": match[0], "end": end, "evidence": incident.evidence})
            elif end > closed - quiet:
                details = incident_evidence(settings, incident.service, start, end)
                message = _message(settings, "opened", incident.service, start, end, incident.evidence, details)
                cur.execute(_sql("insert_alert"), {"source": source, "service": incident.service, "start": start,
                                                    "end": end, "evidence": incident.evidence,
                                                    "message": json.dumps(message, default=str)})
                alert_id = cur.fetchone()[0]
                row = (alert_id, incident.service, start, end, incident.evidence)
                stored.append(row)
                reach[alert_id] = end
        for alert_id, service, start, _, evidence in stored:
            if reach[alert_id] <= closed - quiet:
                details = incident_evidence(settings, service, start, reach[alert_id])
                message = _message(settings, "resolved", service, start, reach[alert_id], evidence, details)
                cur.execute(_sql("resolve_alert"), {"alert_id": alert_id, "message": json.dumps(message, default=str)})
    conn.close()
    return send_pending(settings, channel)


def send_pending(settings: Settings, channel: Channel) -> list[AlertEvent]:
    """Publish the committed messages not sent yet, oldest first, marking each one sent."""
    sent = []
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn:
        conn.autocommit = True  # each mark is its own commit: a message marked is never sent again
        with conn.cursor() as cur:
            cur.execute(_sql("unsent"), {"source": source_name(settings)})
            for alert_id, kind, text in cur.fetchall():
                message = json.loads(text)
                publish(settings, channel, f"{kind}: {message['service']}", message)
                cur.execute(_sql("mark_sent"), {"alert_id": alert_id, "kind": kind})
                sent.append(AlertEvent(kind, alert_id, message))
    conn.close()
    return sent


def watch(settings: Settings, interval_s: float | None = None, cycles: int | None = None,
          say: Callable[[str], None] = print) -> int:
    """Evaluate every ``interval_s`` (default: the settings'), ``cycles`` times (default: until
    interrupted), printing each message sent; a failed evaluation is reported and retried at the
    next one. Returns the number of messages sent."""
    interval = interval_s or settings.alerts_interval_s
    channel = ensure_channel(settings)
    say(f"watching {source_name(settings)} every {interval:g} s; alerts go to {channel.topic_arn}")
    sent, done = 0, 0
    last_note = ""

    def note(line: str) -> None:  # a line when the judged minute (or what was found in it) changes
        nonlocal last_note
        if line != last_note:
            last_note = line
            say(line)

    while cycles is None or done < cycles:
        began = time.monotonic()
        try:
            for event in evaluate(settings, channel, note=note):
                say(event.line())
                sent += 1
        except (WorkbenchError, psycopg2.Error, OSError) as exc:
            say(f"evaluation failed, retried in {interval:g} s: {str(exc).strip()[:300]}")
        done += 1
        if cycles is None or done < cycles:
            time.sleep(max(0.0, interval - (time.monotonic() - began)))
    return sent


def recent_alerts(settings: Settings, limit: int = 50) -> pd.DataFrame:
    """The source's alerted incidents: open ones first, then the most recent (columns ``ALERT_COLUMNS``)."""
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(_sql("recent_alerts"), {"source": source_name(settings), "limit": int(limit)})
        frame = pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])
    conn.close()
    return frame[list(ALERT_COLUMNS)] if len(frame) else pd.DataFrame(columns=ALERT_COLUMNS)
