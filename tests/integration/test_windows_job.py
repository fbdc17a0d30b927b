"""The window job over a known backfill: every row equals pandas' computation; a rerun changes nothing.

Determinism: which records are late depends on the order the watermark assigner sees them. With
one shard and parallelism 1 that order is the shard's order, and Flink emits the watermark eagerly
whenever it advances by more than the 200 ms auto-watermark interval, so the watermark a record
meets lies in [max_ts_before - bound - 0.2 s, max_ts_before - bound]. The backfill keeps every record
clear of that band: on time (its window ends after max_ts_before - bound) or clearly late (its window
ended at least 1 s before it), and the expectation drops exactly the clearly late ones.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import boto3
import pandas as pd
import psycopg2
import pytest

from pipeline.settings import PROJECT_ROOT
from pipeline.windows import sketch
from pipeline.windows.tables import delete_services

pytestmark = pytest.mark.stack

T0 = datetime(2026, 3, 1, 10, 0, 0)
MINUTES = 5


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def _window_end(ts: datetime) -> datetime:
    return ts.replace(second=0, microsecond=0) + timedelta(minutes=1)


def build_backfill(prefix: str, bound_s: int, seed: int = 7) -> tuple[list[object], list[dict]]:
    """(payloads in stream order, the records the job must count). Payloads include bad ones."""
    rng = random.Random(seed)
    services = [f"{prefix}-auth", f"{prefix}-payment", f"{prefix}-search"]
    payloads: list[object] = []
    kept: list[dict] = []
    max_ts: datetime | None = None
    clock = T0
    n_late = n_disorder = 0
    while clock < T0 + timedelta(minutes=MINUTES):
        clock += timedelta(milliseconds=rng.randint(150, 450))
        ts = clock
        kind = rng.random()
        if max_ts is not None and kind < 0.08:  # out of order, within the bound
            ts = max_ts - timedelta(milliseconds=rng.randint(0, (bound_s - 1) * 1000))
            n_disorder += 1
        elif max_ts is not None and kind < 0.095 and (max_ts - T0).total_seconds() > 75:  # beyond the bound
            ts = max_ts - timedelta(seconds=bound_s + 40 + rng.randint(0, 15))
            if _window_end(ts) > max_ts - timedelta(seconds=bound_s + 1):  # its window still open: older
                ts -= timedelta(minutes=1)
            n_late += 1
        record = {"timestamp": _iso(ts), "service": rng.choice(services),
                  "status": rng.choice([200, 200, 200, 201, 204, 301, 400, 404, 429, 500, 502, 503]),
                  "message": f"req {len(payloads)}", "latency_ms": round(rng.uniform(1, 900), 3)}
        payloads.append(record)
        if max_ts is None or _window_end(ts) > max_ts - timedelta(seconds=bound_s):
            kept.append(record | {"ts": ts})
        else:
            assert _window_end(ts) <= max_ts - timedelta(seconds=bound_s + 1), "record in the ambiguous band"
        max_ts = ts if max_ts is None else max(max_ts, ts)
        if rng.random() < 0.004:  # unparseable timestamp, a record without service, a non-JSON line
            payloads.append({"timestamp": "not a time", "service": services[0], "status": 500,
                             "message": "bad ts", "latency_ms": 1.0})
            payloads.append({"timestamp": _iso(max_ts), "status": 500, "message": "no service", "latency_ms": 2.0})
            payloads.append(b"\x00not json at all")
    assert n_late >= 3 and n_disorder >= 20, (n_late, n_disorder)
    return payloads, kept


def expected_frames(kept: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    df = pd.DataFrame(kept)
    df["window_start"] = df["ts"].dt.floor("min")
    stats = df.groupby(["service", "window_start"]).agg(
        requests=("status", "size"),
        status_4xx=("status", lambda s: int(((s >= 400) & (s < 500)).sum())),
        status_5xx=("status", lambda s: int((s >= 500).sum())),
        avg_latency=("latency_ms", "mean"),
        max_latency=("latency_ms", "max"),
    ).reset_index()
    stats["error_rate"] = stats["status_5xx"] / stats["requests"]
    errors = df[df["status"] >= 500].groupby(["service", "window_start"]).agg(
        total_errors=("status", "size"), avg_latency=("latency_ms", "mean")).reset_index()
    return stats, errors


def _tables(settings, prefix: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    queries = {
        "stats": "SELECT service, window_start, window_end, requests, status_4xx, status_5xx, error_rate, "
                 "avg_latency, max_latency FROM service_minute_stats WHERE service LIKE %s ORDER BY 1, 2",
        "errors": "SELECT service, window_start, total_errors, avg_latency FROM error_summary "
                  "WHERE service LIKE %s ORDER BY 1, 2",
    }
    frames = []
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        for query in queries.values():
            cur.execute(query, (prefix + "-%",))
            frames.append(pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description]))
    return frames[0], frames[1]


def _sketch(settings, prefix: str) -> pd.DataFrame:
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute("SELECT service, window_start, bucket, count FROM latency_sketch_buckets WHERE service LIKE %s "
                    "ORDER BY 1, 2, 3", (prefix + "-%",))
        return pd.DataFrame(cur.fetchall(), columns=["service", "window_start", "bucket", "count"])


def expected_sketch(kept: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(kept)
    df["window_start"] = df["ts"].dt.floor("min")
    df["bucket"] = sketch.bucket_of(df["latency_ms"].to_numpy())
    return (df.groupby(["service", "window_start", "bucket"]).size().rename("count").reset_index()
            .sort_values(["service", "window_start", "bucket"]).reset_index(drop=True))


def _flink(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", "flink", *args],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600, check=False)


def _run_bounded(stream: str, name: str) -> subprocess.CompletedProcess:
    return _flink("run", "--bounded", "--stream", stream, "--name", name, "--parallelism", "1")


@pytest.fixture
def one_shard_stream(stack, unique_name):
    client = boto3.client("kinesis", **stack.boto3_kwargs())
    client.create_stream(StreamName=unique_name, ShardCount=1)
    client.get_waiter("stream_exists").wait(StreamName=unique_name, WaiterConfig={"Delay": 0.2})
    yield client, unique_name
    client.delete_stream(StreamName=unique_name)
    delete_services(stack, unique_name)


def test_bounded_run_matches_pandas_and_a_rerun_changes_nothing(stack, one_shard_stream):
    client, stream = one_shard_stream
    payloads, kept = build_backfill(stream, stack.watermark_bound_s)
    for start in range(0, len(payloads), 500):
        chunk = payloads[start:start + 500]
        response = client.put_records(StreamName=stream, Records=[
            {"Data": p if isinstance(p, bytes) else json.dumps(p).encode(), "PartitionKey": "k"} for p in chunk])
        assert response["FailedRecordCount"] == 0

    first = _run_bounded(stream, f"{stream}-1")
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
    assert "state FINISHED" in first.stdout

    stats, errors = _tables(stack, stream)
    want_stats, want_errors = expected_frames(kept)
    assert len(stats) == len(want_stats)
    merged = want_stats.merge(stats, on=["service", "window_start"], how="outer", suffixes=("_want", "_got"),
                              indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"]
    for column in ("requests", "status_4xx", "status_5xx"):
        assert (merged[f"{column}_want"] == merged[f"{column}_got"]).all(), column
    for column in ("avg_latency", "error_rate", "max_latency"):
        assert (merged[f"{column}_want"] - merged[f"{column}_got"]).abs().max() <= 1e-9, column
    assert (merged["window_end"] == merged["window_start"] + pd.Timedelta(minutes=1)).all()

    merged_e = want_errors.merge(errors, on=["service", "window_start"], how="outer", suffixes=("_want", "_got"),
                                 indicator=True)
    assert (merged_e["_merge"] == "both").all(), merged_e[merged_e["_merge"] != "both"]
    assert (merged_e["total_errors_want"] == merged_e["total_errors_got"]).all()
    assert (merged_e["avg_latency_want"] - merged_e["avg_latency_got"]).abs().max() <= 1e-9

    # the latency sketch: every kept log in its service's minute and bucket, as pipeline/windows/sketch.py maps it
    sketch_rows = _sketch(stack, stream)
    want_sketch = expected_sketch(kept)
    pd.testing.assert_frame_equal(sketch_rows, want_sketch, check_dtype=False)

    second = _run_bounded(stream, f"{stream}-2")
    assert second.returncode == 0, second.stdout[-2000:] + second.stderr[-3000:]
    stats2, errors2 = _tables(stack, stream)
    pd.testing.assert_frame_equal(stats, stats2, check_exact=False, rtol=0, atol=1e-12)
    pd.testing.assert_frame_equal(errors, errors2, check_exact=False, rtol=0, atol=1e-12)
    pd.testing.assert_frame_equal(_sketch(stack, stream), sketch_rows)  # upserts: a replay changes nothing


def test_run_refuses_a_missing_stream(stack, unique_name):
    result = subprocess.run([sys.executable, "-m", "pipeline", "flink", "run", "--bounded", "--stream", unique_name,
                             "--name", unique_name], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 1
    assert f"Kinesis stream {unique_name!r} does not exist" in result.stderr


def test_a_live_job_shows_its_progress_in_status_and_stop_ends_it(stack, one_shard_stream):
    client, stream = one_shard_stream
    now = datetime.now(UTC).replace(tzinfo=None)
    records = [{"timestamp": _iso(now), "service": f"{stream}-live", "status": 200, "message": "ok",
                "latency_ms": 1.0} for _ in range(50)]
    response = client.put_records(StreamName=stream, Records=[
        {"Data": json.dumps(r).encode(), "PartitionKey": "k"} for r in records])
    assert response["FailedRecordCount"] == 0
    name = f"{stream}-live"

    started = _flink("run", "--stream", stream, "--name", name)
    assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-3000:]
    try:
        deadline = time.monotonic() + 120
        while True:
            status = _flink("status", "--name", name)
            if "records read 50;" in status.stdout or time.monotonic() > deadline:
                break
            time.sleep(1)
        assert status.returncode == 0 and f"{name}: RUNNING" in status.stdout, status.stdout + status.stderr
        assert "records read 50;" in status.stdout, status.stdout
    finally:
        stopped = _flink("stop", "--name", name)
    assert stopped.returncode == 0 and f"stopped {name}" in stopped.stdout, stopped.stdout + stopped.stderr

    after = _flink("status", "--name", name)
    assert after.returncode == 1 and f"{name}: CANCELED" in after.stdout, after.stdout
