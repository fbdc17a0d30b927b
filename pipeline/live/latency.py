"""How long an incident takes to reach the alert queue, and where the time goes.

From the incident's first failing record (its event time) to the "opened" message in the queue,
the time passes in stages, each set by a part of the pipeline:

1. the detector needs whole minutes: an error stretch of at least ``min_flagged_minutes`` (2), so
   the alert waits for the end of the last minute it judged (the message's ``end``);
2. Flink writes a window once the watermark (event time minus ``watermark_bound_s``) passes its
   end, and the JDBC sink flushes within a second: the row shows up in PostgreSQL;
3. the watcher judges the windows up to their closed time, ``watermark_bound_s +
   alerts_window_settle_s`` behind now;
4. the watcher evaluates every ``alerts_interval_s``, and each evaluation first mines the new raw
   logs and runs the detector (the alert row's transaction starts when that is done);
5. the evidence (top contributor, templates and sample lines through Trino), the publish to SNS
   and the delivery to the subscribed queue.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pymongo import MongoClient

from pipeline.common.times import utc_naive
from pipeline.ingest.buckets import raw_sources
from pipeline.settings import Settings


@dataclass(frozen=True)
class AlertLatency:
    """The moments of one alert (naive UTC) and the stages between them."""

    service: str
    first_failure: dt.datetime  # event time of the incident's first 5xx
    judged_until: dt.datetime  # end of the last minute the detector needed (the message's ``end``)
    window_written: dt.datetime | None  # when that minute's window row was first seen in PostgreSQL
    closed_at: dt.datetime  # when the windows' closed time reached ``judged_until`` (+ bound + settle)
    detected: dt.datetime  # mining and detection done: the alert row's transaction began
    received: dt.datetime  # the message taken from the queue

    @property
    def total_s(self) -> float:
        return (self.received - self.first_failure).total_seconds()

    def parts(self) -> list[tuple[str, float]]:
        """(stage, seconds) in order; they add up to ``total_s``."""
        marks = [("the minutes the detector needs", self.judged_until)]
        if self.window_written is not None:
            marks.append(("watermark bound, window firing and sink flush", self.window_written))
        marks += [("windows' closed time (bound + settle)", self.closed_at),
                  ("watcher interval, mining and detection", self.detected),
                  ("evidence, publish and delivery", self.received)]
        parts, previous = [], self.first_failure
        for label, moment in marks:
            parts.append((label, (moment - previous).total_seconds()))
            previous = moment
        return parts

    def line(self) -> str:
        stages = ", ".join(f"{label} {seconds:.0f} s" for label, seconds in self.parts())
        return (f"{self.service}: {self.total_s:.0f} s from the first failing record "
                f"({self.first_failure:%H:%M:%S}) to the queue: {stages}")


def alert_latency(settings: Settings, service: str, first_failure: dt.datetime, message_end: str | dt.datetime,
                  detected: dt.datetime, received: dt.datetime,
                  window_written: dt.datetime | None = None) -> AlertLatency:
    """The stages of one "opened" alert (any zone; naive means UTC)."""
    judged_until = utc_naive(message_end)
    lag = dt.timedelta(seconds=settings.watermark_bound_s + settings.alerts_window_settle_s)
    return AlertLatency(service, utc_naive(first_failure), judged_until,
                        None if window_written is None else utc_naive(window_written), judged_until + lag,
                        utc_naive(detected), utc_naive(received))


def first_failure(settings: Settings, service: str, since: dt.datetime,
                  until: dt.datetime | None = None) -> dt.datetime | None:
    """Event time (naive UTC) of the first 5xx raw log of ``service`` at or after ``since``."""
    start = utc_naive(since)
    end = utc_naive(until) if until is not None else start + dt.timedelta(hours=2)
    found: list[dt.datetime] = []
    with MongoClient(settings.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        database = client[settings.mongodb_database]
        for name in raw_sources(settings, start, end):
            first = database[name].find_one(
                {"service": service, "status": {"$gte": 500}, "timestamp": {"$gte": start, "$lt": end}},
                {"timestamp": 1}, sort=[("timestamp", 1)])
            if first is not None:
                found.append(utc_naive(first["timestamp"]))
    return min(found) if found else None
