"""Flink window job: throughput from Kinesis into all the window tables, and how soon a closed window is visible.

Throughput: ``300,000 * scale`` in-order records (about ten seconds of reading at the target) are
put on a fresh stream first, then a bounded job (``flink run --bounded``) reads them. Figures from
the job's state file: the source's steady read rate (first to last record read); records per second
from the first record read until every table is final (the target's figure: it includes the drain
detection's quiet polls, the drain that closes the last windows and the final flush); the same from
job submission (task deployment and shard discovery added); and the total including the JVM and
mini-cluster start. The rows' request counts must add up to every record put, or the bench fails.

Window delay: an unbounded job on a second stream while records with event time = now arrive at
about 200/s; for the first minute that closes, the time from (window end + watermark bound) until
its row is in ``service_minute_stats``, and until the live dashboard's "Requests per minute" chart
returns it through Superset's chart data API (as the viewer, over Trino; Superset serves chart data
uncached). Targets: 20,000 records/s; visible within 10 s after the watermark passes the window in
PostgreSQL, within 15 s on the dashboard.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg2

from pipeline.bench.result import Result
from pipeline.common import aws
from pipeline.live.dashboards import OVERVIEW_SLUG, DashboardsError, SupersetClient
from pipeline.settings import Settings
from pipeline.windows.job import POLL_S, QUIET_POLLS
from pipeline.windows.process import run_job, stop_jobs
from pipeline.windows.tables import delete_services

TARGET_RPS = 20_000
TARGET_DELAY_S = 10.0
TARGET_DASHBOARD_DELAY_S = 15.0
DASHBOARD_CHART = "Requests per minute"


def _stream(settings: Settings, shards: int) -> tuple[object, str]:
    kinesis = aws.client(settings, "kinesis")
    name = f"bench-flink-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.2})
    return kinesis, name


def _record(ts: datetime, i: int, prefix: str) -> bytes:
    return json.dumps({"timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z",
                       "service": f"{prefix}-{i % 5}", "status": (200, 404, 503, 200)[i % 4],
                       "message": f"bench {i}", "latency_ms": float(i % 997)}).encode()


def _put(client, stream: str, payloads: list[bytes]) -> None:  # noqa: ANN001
    for start in range(0, len(payloads), 500):
        chunk = payloads[start:start + 500]
        records = [{"Data": p, "PartitionKey": str(start + k)} for k, p in enumerate(chunk)]
        while records:
            response = client.put_records(StreamName=stream, Records=records)
            records = [r for r, res in zip(records, response["Records"], strict=True) if "ErrorCode" in res]


def _cleanup(settings: Settings, client, stream: str, prefix: str) -> None:  # noqa: ANN001
    client.delete_stream(StreamName=stream)
    delete_services(settings, prefix)


def _quiet(_line: str) -> None:
    """The job's progress lines are not part of the bench's table."""


def throughput(settings: Settings, scale: float) -> list[Result]:
    n = max(1000, int(300_000 * scale))
    client, stream = _stream(settings, settings.shard_count)
    prefix = stream
    t0 = datetime(2026, 1, 1, 0, 0, 0)
    payloads = [_record(t0 + timedelta(milliseconds=10 * i), i, prefix) for i in range(n)]
    try:
        began = time.monotonic()
        _put(client, stream, payloads)
        put_s = time.monotonic() - began
        job = run_job(settings, name=stream, stream=stream, bounded=True, say=_quiet)
        if not job.ok:
            raise RuntimeError(f"bounded bench job failed (exit code {job.exit_code}); see {job.log_path}")
        state = job.state
        with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
            cur.execute("SELECT coalesce(sum(requests), 0) FROM service_minute_stats WHERE service LIKE %s",
                        (prefix + "-%",))
            counted = int(cur.fetchone()[0])
            cur.execute("SELECT coalesce(sum(count), 0) FROM latency_sketch_buckets WHERE service LIKE %s",
                        (prefix + "-%",))
            sketched = int(cur.fetchone()[0])
        if counted != n or sketched != n:
            raise RuntimeError(f"the window rows count {counted:,} records and the latency sketch {sketched:,}, "
                               f"{n:,} were put: records were lost "
                               f"or late (see {settings.log_dir / 'flink'})")
    finally:
        _cleanup(settings, client, stream, prefix)
    # The job's metrics are polled every POLL_S: a read shorter than a poll gives only a lower bound.
    steady_s = state["last_change_at"] - state["first_record_at"]
    bound = "at least: all read within one poll; " if steady_s < POLL_S else ""
    steady_s = max(steady_s, POLL_S)
    flowing_s = state["finished"] - state["first_record_at"]
    final_s = state["finished"] - state["submitted"]
    total_s = state["finished"] - state["started"]
    note = f"{n:,} records, {settings.shard_count} shards; rows count {counted:,} records, the sketch {sketched:,}"
    return [
        Result("flink: put into Kinesis (setup)", n / put_s, "records/s", "", f"{n:,} records in {put_s:.1f} s"),
        Result("flink: steady read rate", n / steady_s, "records/s", f"target {TARGET_RPS:,}",
               f"{bound}first -> last record read, {steady_s:.1f} s ({POLL_S:g} s metric polls); {note}"),
        Result("flink: into all tables", n / flowing_s, "records/s", f"target {TARGET_RPS:,}",
               f"first record read -> all tables final, {flowing_s:.1f} s (incl. {QUIET_POLLS} quiet polls "
               "of drain detection, the drain and the last flush)"),
        Result("flink: into all tables from submission", n / final_s, "records/s", "",
               f"job submitted -> tables final, {final_s:.1f} s (adds task deployment and shard discovery, "
               f"{state['first_record_at'] - state['submitted']:.1f} s)"),
        Result("flink: total incl. JVM start", n / total_s, "records/s", "",
               f"process start -> finished, {total_s:.1f} s"),
    ]


def window_delay(settings: Settings) -> list[Result]:
    client, stream = _stream(settings, settings.shard_count)
    prefix = stream
    name = stream
    stop = threading.Event()

    def produce() -> None:
        i = 0
        while not stop.is_set():
            now = datetime.now(UTC).replace(tzinfo=None)
            _put(client, stream, [_record(now, i + k, prefix) for k in range(20)])
            i += 20
            time.sleep(0.1)

    try:
        run_job(settings, name=name, stream=stream, say=_quiet)
        producer = threading.Thread(target=produce, daemon=True)
        producer.start()
        first = datetime.now(UTC).replace(tzinfo=None)
        window_start = first.replace(second=0, microsecond=0) + timedelta(minutes=1)  # first full minute
        window_end = window_start + timedelta(minutes=1)
        watermark_passes = window_end + timedelta(seconds=settings.watermark_bound_s)
        deadline = time.monotonic() + (watermark_passes - first).total_seconds() + 90
        visible = None
        on_dashboard = None
        chart = _dashboard_chart(settings)
        chart_range = f"{window_start - timedelta(minutes=1):%Y-%m-%dT%H:%M:%S} : {window_end:%Y-%m-%dT%H:%M:%S}"
        service_filter = [{"col": "service", "op": "==", "val": f"{prefix}-0"}]
        with psycopg2.connect(**settings.psycopg2_kwargs()) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                while time.monotonic() < deadline and (visible is None or (chart and on_dashboard is None)):
                    if visible is None:
                        cur.execute("SELECT 1 FROM service_minute_stats WHERE service = %s AND window_start = %s",
                                    (f"{prefix}-0", window_start))
                        if cur.fetchone():
                            visible = datetime.now(UTC).replace(tzinfo=None)
                    if chart and on_dashboard is None and datetime.now(UTC).replace(tzinfo=None) > window_end:
                        viewer, chart_id = chart
                        with contextlib.suppress(DashboardsError):  # a failed ask is asked again next poll
                            rows = viewer.chart_data(chart_id, chart_range, service_filter)
                            if any(_minute_of(row["window_start"]) == window_start for row in rows):
                                on_dashboard = datetime.now(UTC).replace(tzinfo=None)
                    time.sleep(0.1)
    finally:
        stop.set()
        stop_jobs(settings, name)
        _cleanup(settings, client, stream, prefix)
    if visible is None:
        return [Result("flink: closed window visible after watermark", float("nan"), "s",
                       f"target <= {TARGET_DELAY_S:.0f} s", "the window's row never appeared")]
    after_wm = (visible - watermark_passes).total_seconds()
    results = [
        Result("flink: closed window visible after watermark", after_wm, "s", f"target <= {TARGET_DELAY_S:.0f} s",
               f"window end + {settings.watermark_bound_s} s bound + {after_wm:.1f} s"),
        Result("flink: closed window visible after window end", (visible - window_end).total_seconds(), "s", "",
               "event time = arrival time (records stamped when put)"),
    ]
    if chart is None:
        results.append(Result("dashboard: closed window in chart data after watermark", float("nan"), "s",
                              f"target <= {TARGET_DASHBOARD_DELAY_S:.0f} s",
                              "Superset is left out of the stack or does not answer"))
    elif on_dashboard is None:
        results.append(Result("dashboard: closed window in chart data after watermark", float("nan"), "s",
                              f"target <= {TARGET_DASHBOARD_DELAY_S:.0f} s", "the chart never returned the window"))
    else:
        results.append(Result(
            "dashboard: closed window in chart data after watermark", (on_dashboard - watermark_passes).total_seconds(),
            "s", f"target <= {TARGET_DASHBOARD_DELAY_S:.0f} s; in PostgreSQL after {after_wm:.1f} s",
            f"'{DASHBOARD_CHART}' via Superset's chart data API as the viewer"))
    return results


def _dashboard_chart(settings: Settings) -> tuple[SupersetClient, int] | None:
    """The live overview's requests chart, asked as the viewer; None when Superset is left out."""
    if not settings.superset_enabled:
        return None
    client = SupersetClient(settings)
    try:
        charts = {chart["slice_name"]: chart["id"] for chart in client.dashboard_charts(OVERVIEW_SLUG)}
    except DashboardsError:  # Superset down: the window figures still count; the dashboard one says why
        return None
    return client, charts[DASHBOARD_CHART]


def _minute_of(value: object) -> datetime:
    """A chart's temporal value (epoch milliseconds in Superset's JSON) as a naive UTC minute."""
    return datetime.fromtimestamp(float(value) / 1000, UTC).replace(tzinfo=None)


def run(settings: Settings, scale: float) -> list[Result]:
    return throughput(settings, scale) + window_delay(settings)
