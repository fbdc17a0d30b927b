"""Incident detection over a week of windows: ``incidents()`` from ``service_minute_stats`` and the
latency sketch, read through Trino, for 7 days of 6 services at 1,000,000 logs a day (``--scale``
multiplies the logs). Target: under 5 s, reading included.

The week's window rows are written as the Flink job writes them (one ``service_minute_stats`` row
and one ``latency_sketch`` row per service and minute, buckets of ``pipeline/windows/sketch.py``)
from the numpy simulation of the generator (``pipeline.generate.simulate``: the same traffic, a
payment outage placed inside the week), since pushing 7 million records through the stream would
measure the ingest, not the detection. Written once: a later run finds them and goes straight to
the measurement. The figure is split into the read (percentiles of every service-minute) and the
detection itself, and says whether the injected outage is among the incidents found.
"""

from __future__ import annotations

import datetime as dt
import statistics

import numpy as np
import psycopg2

from pipeline.analysis import latency_percentiles
from pipeline.analysis.incidents import detect_incidents
from pipeline.analysis.scoreboard import place_incident, score_incidents
from pipeline.bench.result import Result, timed
from pipeline.bench.window_rows import insert_minute_stats, insert_sketches, minute_stats
from pipeline.generate.scenarios import make_scenario
from pipeline.generate.simulate import SimulatedRun, simulate
from pipeline.settings import Settings
from pipeline.windows import schema

WEEK_START = dt.datetime(2031, 6, 2)  # a Monday, clear of the other benchmarks' and the tests' ranges
DAYS = 7
LOGS_PER_DAY = 1_000_000
TARGET_S = 5.0
RUNS = 3
SEED = 7


def _simulated(count: int) -> SimulatedRun:
    hours = DAYS * 24
    scenario = place_incident(make_scenario("payment-outage"), SEED, hours)
    return simulate(scenario, seed=SEED, start=WEEK_START.replace(tzinfo=dt.UTC), hours=hours,
                    rate=count / (hours * 3600), keep_events=True)


def _stored(settings: Settings, end: dt.datetime) -> tuple[int, int, int]:
    """(logs counted in service_minute_stats, its rows, latency_sketch rows) of the week."""
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute("SELECT coalesce(sum(requests), 0), count(*) FROM service_minute_stats "
                    "WHERE window_start >= %s AND window_start < %s", (WEEK_START, end))
        logs, stats_rows = cur.fetchone()
        cur.execute("SELECT count(*) FROM latency_sketch WHERE window_start >= %s AND window_start < %s",
                    (WEEK_START, end))
        sketch_rows = cur.fetchone()[0]
    conn.close()
    return int(logs), int(stats_rows), int(sketch_rows)


def _write_week(settings: Settings, run: SimulatedRun, end: dt.datetime) -> None:
    """The week's rows of both tables, replacing whatever the range held."""
    events = run.events
    assert events is not None
    # the simulation knows 5xx or not: a 5xx answer is a 500, anything else a 200
    logs = events.assign(status=np.where(events["failed"], 500, 200), skewed=False)
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        for table in ("service_minute_stats", "latency_sketch"):
            cur.execute(f"DELETE FROM {table} WHERE window_start >= %s AND window_start < %s", (WEEK_START, end))
        insert_minute_stats(cur, minute_stats(logs))
        insert_sketches(cur, logs)
    conn.close()


def run(settings: Settings, scale: float) -> list[Result]:
    schema.apply(settings)
    count = max(DAYS * 24 * 60, round(LOGS_PER_DAY * DAYS * scale))
    end = WEEK_START + dt.timedelta(days=DAYS)
    simulated = _simulated(count)
    logs, stats_rows, sketch_rows = _stored(settings, end)
    if logs != len(simulated.events) or sketch_rows != stats_rows:
        print(f"   writing the week's windows ({len(simulated.events):,} simulated logs)", flush=True)
        _write_week(settings, simulated, end)
    logs, stats_rows, sketch_rows = _stored(settings, end)

    reads, detections = [], []
    for _ in range(RUNS):
        minutes, read_s = timed(lambda: latency_percentiles(settings, WEEK_START, end))
        found, detect_s = timed(lambda minutes=minutes: detect_incidents(minutes))
        reads.append(read_s)
        detections.append(detect_s)
    totals = [r + d for r, d in zip(reads, detections, strict=True)]
    score = score_incidents(found, simulated.incident)
    truth = simulated.incident
    verdict = (f"the injected {truth.service} outage found (onset {score['onset_error_min']:+.0f} min, "
               f"end {score['end_error_min']:+.0f} min), {score['false_incidents']} other"
               if truth is not None and score["found"] else "the injected outage NOT found")
    services = int(minutes["service"].nunique())
    return [
        Result(f"detection: incidents over {DAYS} days of windows", statistics.median(totals), "s",
               f"target < {TARGET_S:g} s",
               f"median of {RUNS} (read {statistics.median(reads):.2f} s "
               f"+ detect {statistics.median(detections):.2f} s); "
               f"{services} services, {stats_rows:,} service-minutes and {sketch_rows:,} sketch rows of {logs:,} logs; "
               f"{len(found)} incidents, {verdict}"),
        Result("detection: p95 of every service-minute of the week", statistics.median(reads), "s", "",
               f"{len(minutes):,} rows through Trino; p95 median {np.nanmedian(minutes['p95']):,.1f} ms"),
    ]

