"""Live alert latency: from an incident's first failing record (its event time) to the "opened"
alert in the queue, at the settings given (the defaults under ``make bench``), and where the time
goes (``pipeline.live.latency``).

A live run of its own (``pipeline.live.run``, isolated: its own database, topic and service
names, removed afterwards): ``HISTORY_MIN`` minutes of normal traffic, then payment-outage traffic
at ``RATE`` events/s (times ``scale``) with the incident a minute in. It stops once the "opened"
alert is in the queue; the resolution is not timed. About 5 minutes at the defaults. One incident
is one sample: the first stage alone varies by up to a minute with where in its minute the
incident starts. Target: under 150 s.
"""

from __future__ import annotations

import uuid

from pipeline.bench.result import Result
from pipeline.live.run import LiveRun, feed_plan, forget, isolated
from pipeline.settings import Settings

TARGET_S = 150.0
RATE, HISTORY_MIN = 20.0, 10
START_MIN, INCIDENT_MIN, DURATION_S = 1, 3, 600.0


def _quiet(_line: str) -> None:
    """The run's progress lines are not part of the bench's table."""


def run(settings: Settings, scale: float) -> list[Result]:
    tag = f"bench-live-{uuid.uuid4().hex[:8]}"
    isolated_settings, prefix = isolated(settings, tag)
    plan = feed_plan("payment-outage", duration_s=DURATION_S, rate=max(1.0, RATE * scale), history_min=HISTORY_MIN,
                     incident_start_min=START_MIN, incident_min=INCIDENT_MIN, prefix=prefix)
    try:
        with LiveRun(isolated_settings, [plan], name=tag, say=_quiet) as live:
            live.start()
            live.watch(until=lambda alerts: any(alert.kind == "opened" for alert in alerts))
            latencies = live.latencies()
    finally:
        forget(isolated_settings, tag)
    if not latencies:
        raise RuntimeError("the opened alert could not be timed: no failing record or alert row found")
    latency = latencies[0]
    setup = (f"window settle {settings.alerts_window_settle_s} s, watermark bound {settings.watermark_bound_s} s, "
             f"watcher every {settings.alerts_interval_s:g} s")
    results = [Result("live: first failing record -> alert in queue", latency.total_s, "s", f"target {TARGET_S:g} s",
                      f"{plan.rate:g} events/s; {setup}")]
    results += [Result(f"live:   {label}", seconds, "s") for label, seconds in latency.parts()]
    return results
