"""Percentiles from the latency sketch (source="windows") against exact numpy percentiles.

The window job's bucket counts are checked against the records in tests/integration/test_windows_job.py;
here sketch rows of generated latencies (lognormal, a heavy tail, zeros, huge values) go into
PostgreSQL as the job writes them, and every quantile read back through Trino, per minute, per hour and
over the range, must be within the sketch's relative accuracy of the exact order statistic.
"""

from __future__ import annotations

import datetime as dt
import json
import random

import numpy as np
import pandas as pd
import psycopg2
import pytest

from pipeline.analysis import latency_percentiles
from pipeline.cli import main
from pipeline.windows import schema, sketch
from pipeline.windows.tables import delete_services

pytestmark = pytest.mark.stack
M = dt.timedelta(minutes=1)
QUANTILES = (0.5, 0.9, 0.95, 0.99, 0.999)


@pytest.fixture
def loaded(stack, unique_name):
    """Two hours of three services' latencies, as sketch rows and minute stats; the exact latencies."""
    rng = np.random.default_rng(20261130)
    base = dt.datetime(2032, 1, 1) + dt.timedelta(hours=random.randrange(24 * 300))
    rows, stats, exact = [], [], []
    for s, (service, median, sigma) in enumerate([("api", 20.0, 0.5), ("db", 3.0, 1.2), ("batch", 900.0, 2.0)]):
        name = f"{unique_name}-{service}"
        for m in range(120):
            n = int(rng.integers(20, 400)) if s < 2 else int(rng.integers(1, 40))
            latency = rng.lognormal(np.log(median), sigma, n)
            latency[rng.random(n) < 0.01] = 0.0  # zeros share one bucket
            if m % 17 == 0:
                latency[0] = 9.9e14  # near the contract's limit
            latency = np.round(latency, 3)
            minute = base + m * M
            status_5xx = int(rng.integers(0, 3))
            stats.append((name, minute, minute + M, n, 0, status_5xx, status_5xx / n, float(latency.mean()),
                          float(latency.max()), 0))
            buckets, counts = np.unique(sketch.bucket_of(latency), return_counts=True)
            rows.append((name, minute, sketch.encode(buckets, counts)))
            exact += [(name, minute, float(v)) for v in latency]
    schema.apply(stack)
    with psycopg2.connect(**stack.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.executemany("INSERT INTO latency_sketch VALUES (%s, %s, %s)", rows)
        cur.executemany("INSERT INTO service_minute_stats VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", stats)
    conn.close()
    yield stack, base, pd.DataFrame(exact, columns=["service", "minute", "latency"]), unique_name
    delete_services(stack, unique_name)


def _assert_within(got: pd.DataFrame, exact: pd.DataFrame, key: str, quantiles: tuple = QUANTILES) -> None:
    groups = exact.groupby(["service", key])["latency"]
    want = groups.apply(lambda v: pd.Series(
        {sketch_q: np.percentile(v.to_numpy(), sketch_q * 100, method="lower") for sketch_q in quantiles}))
    want = want.unstack().reset_index()
    counts = groups.size().rename("count").reset_index()
    merged = got.merge(want, on=["service", key], suffixes=("", "_exact")).merge(counts, on=["service", key])
    assert len(merged) == len(want) == len(got)
    assert (merged["requests"] == merged["count"]).all()
    judged = merged[merged["count"] >= 20]
    assert len(judged) > 0
    for q in quantiles:
        column = f"p{q * 100:.10g}"
        exact_q, sketch_q = judged[q].to_numpy(), judged[column].to_numpy()
        error = np.where(exact_q == 0, sketch_q, np.abs(sketch_q - exact_q) / np.where(exact_q == 0, 1, exact_q))
        assert error.max() <= sketch.RELATIVE_ACCURACY + 1e-9, (column, judged.loc[error.argmax()])


def test_sketch_percentiles_are_within_the_relative_accuracy_per_minute_hour_and_range(loaded):
    settings, base, exact, prefix = loaded
    services = sorted(exact["service"].unique())
    end = base + 120 * M

    per_minute = latency_percentiles(settings, base, end, services, quantiles=QUANTILES)
    assert list(per_minute.columns) == ["service", "minute", "requests", "status_5xx",
                                        "p50", "p90", "p95", "p99", "p99.9"]
    _assert_within(per_minute, exact, "minute")

    per_hour = latency_percentiles(settings, base, end, services, quantiles=QUANTILES, by="hour")
    assert per_hour["hour"].nunique() in (2, 3)  # base is on a whole hour: two
    _assert_within(per_hour, exact.assign(hour=exact["minute"].dt.floor("h")), "hour")

    whole = latency_percentiles(settings, base + 30 * M, end, services, quantiles=QUANTILES, by="range")
    assert (whole["start"] == pd.Timestamp(base + 30 * M)).all() and len(whole) == 3
    _assert_within(whole, exact[exact["minute"] >= base + 30 * M].assign(start=pd.Timestamp(base + 30 * M)), "start")

    only_db = latency_percentiles(settings, base, end, [f"{prefix}-db"])
    assert set(only_db["service"]) == {f"{prefix}-db"} and len(only_db) == 120


def test_postgresql_stores_the_same_p50_p95_p99_per_minute_as_the_merge_computes(loaded):
    """The default per-minute figures come from latency_sketch's generated columns (PostgreSQL's
    walk); asked with another quantile, the same minutes are merged in numpy: both agree."""
    settings, base, exact, _prefix = loaded
    services = sorted(exact["service"].unique())
    end = base + 120 * M
    stored = latency_percentiles(settings, base, end, services)
    merged = latency_percentiles(settings, base, end, services, quantiles=(0.5, 0.95, 0.99, 0.75))
    assert list(stored.columns) == ["service", "minute", "requests", "status_5xx", "p50", "p95", "p99"]
    assert len(stored) == len(merged) == 3 * 120
    for column in ("p50", "p95", "p99"):
        np.testing.assert_allclose(stored[column].to_numpy(), merged[column].to_numpy(), rtol=1e-9)
    _assert_within(stored, exact, "minute", quantiles=(0.5, 0.95, 0.99))


def test_the_cli_writes_csv_and_json_for_schedulers(loaded, capsys):
    settings, base, _exact, prefix = loaded
    services = [f"{prefix}-api", f"{prefix}-db"]
    start = (base + 60 * M).strftime("%Y-%m-%dT%H:%M:%S+02:00")  # an offset: two hours before, in UTC
    end = (base + 2 * 60 * M).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert main(["analysis", "percentiles", "--start", start, "--end", end, "--services", *services,
                 "--by", "hour", "--format", "csv"], settings=settings) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "service,hour,count,p50,p95,p99"
    rows = [line.split(",") for line in lines[1:]]
    # from base - 1 h (the offset) to base + 2 h: the data's two hours, per service
    assert [(r[0], r[1]) for r in rows] == [(s, (base + h * 60 * M).strftime("%Y-%m-%dT%H:%M:%SZ"))
                                            for s in services for h in (0, 1)]
    want = latency_percentiles(settings, base, base + 120 * M, services, by="hour")
    assert [int(r[2]) for r in rows] == want["requests"].tolist()
    assert [float(r[4]) for r in rows] == pytest.approx(want["p95"].tolist(), abs=1e-3)

    assert main(["analysis", "percentiles", "--start", base.isoformat() + "Z", "--end", end, "--services",
                 services[0], "--quantiles", "0.5", "0.999", "--format", "json"], settings=settings) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["source"] == "windows" and len(document["rows"]) == 120
    assert set(document["rows"][0]) == {"service", "minute", "count", "p50", "p99.9"}
