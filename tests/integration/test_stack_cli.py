"""The stack command itself: status of a stopped server, and a port that is already taken."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pipeline.settings import PROJECT_ROOT
from pipeline.stack import manager
from pipeline.stack.moto import MotoService

pytestmark = pytest.mark.stack


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})}, check=False)


def test_status_of_the_running_stack_is_all_up(stack):
    result = _cli("stack", "status")
    assert result.returncode == 0, result.stdout + result.stderr
    names = ("kinesis", "mongodb", "postgres", "trino", "flink") + (("superset",) if stack.superset_enabled else ())
    for name in names:
        assert any(line.split()[:1] == [name] and " up " in line for line in result.stdout.splitlines()), name
    assert "in memory" in result.stdout  # the Kinesis endpoint says it keeps nothing


def test_status_reports_a_stopped_server_as_down_and_exits_non_zero(stack):
    kinesis = MotoService(stack)
    assert kinesis.stop(), "the stack's Kinesis endpoint was not running under the stack"
    try:
        result = _cli("stack", "status")
        assert result.returncode == 1
        row = next(line for line in result.stdout.splitlines() if line.startswith("kinesis"))
        assert " down " in row
        assert "kinesis" in result.stderr and "make up" in result.stderr
    finally:
        manager.up(stack)  # restarts it and re-creates the stream
    assert kinesis.status().ok


def test_data_survives_down_and_up(stack, unique_name):
    import psycopg2
    from pymongo import MongoClient

    with MongoClient(stack.mongo_uri) as client:
        client["stacktest"][unique_name].insert_one({"_id": "kept", "n": 1})
    with psycopg2.connect(**stack.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {unique_name} (n int)")
        cur.execute(f"INSERT INTO {unique_name} VALUES (42)")

    servers = {"kinesis", "postgres", "mongodb", "trino"} | ({"superset"} if stack.superset_enabled else set())
    assert set(manager.down(stack)) == servers
    assert _cli("stack", "status").returncode == 1
    manager.up(stack)

    with MongoClient(stack.mongo_uri) as client:
        assert client["stacktest"][unique_name].find_one({"_id": "kept"})["n"] == 1
        client["stacktest"][unique_name].drop()
    with psycopg2.connect(**stack.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT n FROM {unique_name}")
        assert cur.fetchall() == [(42,)]
        cur.execute(f"DROP TABLE {unique_name}")
