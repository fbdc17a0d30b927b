"""Trino federates MongoDB (raw logs) and PostgreSQL (aggregates), over real connections."""

from __future__ import annotations

import datetime as dt

import psycopg2
import pytest
import trino
from pymongo import MongoClient

pytestmark = pytest.mark.stack

DATABASE = "stacktest"


@pytest.fixture
def trino_cursor(stack):
    conn = trino.dbapi.connect(host=stack.trino_host or stack.host, port=stack.trino_port, user=stack.trino_user)
    yield conn.cursor()
    conn.close()


@pytest.fixture
def raw_logs(stack, unique_name):
    """A MongoDB collection of raw logs with known content."""
    client = MongoClient(stack.mongo_uri, serverSelectionTimeoutMS=5000)
    coll = client[DATABASE][unique_name]
    base = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)
    coll.insert_many([
        {"_id": f"e{i}", "service": service, "status": status, "latency_ms": latency,
         "ts": base + dt.timedelta(seconds=20 * i)}
        for i, (service, status, latency) in enumerate([
            ("auth", 200, 12.5), ("auth", 503, 850.0), ("payment", 500, 1200.0),
            ("payment", 200, 40.0), ("payment", 502, 990.0), ("search", 200, 30.0),
        ])
    ])
    yield unique_name
    coll.drop()
    client[DATABASE]["_schema"].delete_many({"table": unique_name})
    client.close()


@pytest.fixture
def pg_table(stack, unique_name):
    """A PostgreSQL table of per-service owners, to join against."""
    with psycopg2.connect(**stack.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {unique_name} (service text PRIMARY KEY, team text)")
        cur.executemany(f"INSERT INTO {unique_name} VALUES (%s, %s)",
                        [("auth", "identity"), ("payment", "billing")])
    yield unique_name
    with psycopg2.connect(**stack.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {unique_name}")


def test_show_catalogs_lists_both_stores(trino_cursor):
    trino_cursor.execute("SHOW CATALOGS")
    catalogs = {row[0] for row in trino_cursor.fetchall()}
    assert {"mongodb", "postgresql"} <= catalogs


def test_select_from_a_mongodb_collection_with_a_filter(trino_cursor, raw_logs):
    trino_cursor.execute(
        f"SELECT _id, latency_ms FROM mongodb.{DATABASE}.{raw_logs} WHERE status >= ? ORDER BY _id", [500])
    assert trino_cursor.fetchall() == [["e1", 850.0], ["e2", 1200.0], ["e4", 990.0]]


def test_join_of_a_mongodb_collection_with_a_postgresql_table(trino_cursor, raw_logs, pg_table):
    trino_cursor.execute(
        f"""SELECT t.team, count(*) AS errors, max(r.latency_ms) AS worst
            FROM mongodb.{DATABASE}.{raw_logs} r
            JOIN postgresql.public.{pg_table} t ON r.service = t.service
            WHERE r.status >= 500
            GROUP BY t.team ORDER BY t.team""")
    assert trino_cursor.fetchall() == [["billing", 2, 1200.0], ["identity", 1, 850.0]]


def test_trino_reads_postgresql_as_a_read_only_role(stack, trino_cursor, pg_table):
    """Even the admin user, whom Trino's access control lets write, cannot write to PostgreSQL: Trino
    connects to it as the read-only role (the analysis user is stopped by Trino before, see
    test_trino_access.py)."""
    trino_cursor.execute(f"SELECT count(*) FROM postgresql.public.{pg_table}")
    assert trino_cursor.fetchall() == [[2]]
    conn = trino.dbapi.connect(host=stack.trino_host or stack.host, port=stack.trino_port, user=stack.trino_admin_user)
    try:
        with pytest.raises(trino.exceptions.TrinoQueryError, match=r"(?i)permission denied for|read-only transaction"):
            cursor = conn.cursor()
            cursor.execute(f"INSERT INTO postgresql.public.{pg_table} VALUES ('search', 'discovery')")
            cursor.fetchall()
    finally:
        conn.close()
