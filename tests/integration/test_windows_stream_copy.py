"""PyFlink reads the local Kinesis stream with Studio's connector options and writes PostgreSQL via JDBC."""

from __future__ import annotations

import json
import subprocess
import sys

import boto3
import psycopg2
import pytest
from psycopg2 import sql

from pipeline.settings import PROJECT_ROOT
from pipeline.windows.stream_copy import create_target_table

pytestmark = pytest.mark.stack

N = 300


def _record(i: int) -> dict:
    return {"timestamp": f"2026-11-27T10:{i // 60:02d}:{i % 60:02d}.{i % 1000:03d}Z",
            "service": ["auth", "payment", "search"][i % 3], "status": [200, 404, 503][i % 3 if i % 7 else 2],
            "message": f"request {i} done", "latency_ms": round(5 + i * 1.25, 2)}


@pytest.fixture
def stream(stack, unique_name):
    client = boto3.client("kinesis", **stack.boto3_kwargs())
    client.create_stream(StreamName=unique_name, ShardCount=2)
    client.get_waiter("stream_exists").wait(StreamName=unique_name, WaiterConfig={"Delay": 0.2})
    yield client, unique_name
    client.delete_stream(StreamName=unique_name)


@pytest.fixture
def target_table(stack, unique_name):
    create_target_table(stack, unique_name)
    yield unique_name
    with psycopg2.connect(**stack.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(unique_name)))


def test_streaming_insert_copies_every_kinesis_record_into_postgresql(stack, stream, target_table):
    client, name = stream
    sent = [_record(i) for i in range(N)]
    for start in range(0, N, 100):
        chunk = sent[start:start + 100]
        response = client.put_records(StreamName=name, Records=[
            {"Data": json.dumps(r).encode(), "PartitionKey": str(start + k)} for k, r in enumerate(chunk)])
        assert response["FailedRecordCount"] == 0

    job = subprocess.run([sys.executable, "-m", "pipeline.windows.stream_copy", "--stream", name,
                          "--table", target_table, "--expect", str(N), "--timeout", "240"],
                         cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=400, check=False)

    assert job.returncode == 0, job.stdout[-2000:] + job.stderr[-3000:]
    with psycopg2.connect(**stack.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL('SELECT event_id, "timestamp", service, status, message, latency_ms FROM {}')
                    .format(sql.Identifier(target_table)))
        rows = cur.fetchall()
    assert len(rows) == N
    assert len({r[0] for r in rows}) == N  # one row per Kinesis record (shard:sequence)
    stored = sorted(({"timestamp": r[1], "service": r[2], "status": r[3], "message": r[4], "latency_ms": r[5]}
                     for r in rows), key=lambda r: r["message"])
    assert stored == sorted(sent, key=lambda r: r["message"])
