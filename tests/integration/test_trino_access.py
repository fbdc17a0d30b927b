"""Trino is read-only for everyone but the admin user (file-based access control, env/trino/rules.json).

Against a Trino started with that configuration (the shared one once it was restarted after the
change; or another one, pointed at with WB_TRINO_PORT).
"""

from __future__ import annotations

import psycopg2
import pytest
import trino
from pymongo import MongoClient

pytestmark = pytest.mark.stack

DATABASE = "stacktest"
DENIED = r"Access Denied: Cannot "


def _connect(settings, user: str) -> trino.dbapi.Connection:
    return trino.dbapi.connect(host=settings.trino_host or settings.host, port=settings.trino_port, user=user)


def _run(conn: trino.dbapi.Connection, sql: str) -> list:
    cursor = conn.cursor()
    cursor.execute(sql)
    return cursor.fetchall()


@pytest.fixture
def analyst(stack):
    conn = _connect(stack, stack.trino_user)
    yield conn
    conn.close()


@pytest.fixture
def admin(stack):
    assert stack.trino_admin_user != stack.trino_user
    conn = _connect(stack, stack.trino_admin_user)
    yield conn
    conn.close()


@pytest.fixture
def tables(stack, unique_name):
    """One MongoDB collection and one PostgreSQL table with two rows each; whatever a test created
    next to them (``<name>_copy``) is removed too."""
    copy = f"{unique_name}_copy"
    with MongoClient(stack.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        client[DATABASE][unique_name].insert_many([{"_id": "a", "n": 1}, {"_id": "b", "n": 2}])
    with psycopg2.connect(**stack.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {unique_name} (n integer)")
        cur.execute(f"INSERT INTO {unique_name} VALUES (1), (2)")
    yield {"mongodb": f"mongodb.{DATABASE}.{unique_name}", "postgresql": f"postgresql.public.{unique_name}"}, copy
    with MongoClient(stack.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        for name in (unique_name, copy):
            client[DATABASE].drop_collection(name)
        client[DATABASE]["_schema"].delete_many({"table": {"$in": [unique_name, copy]}})
    with psycopg2.connect(**stack.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {unique_name}")
        cur.execute(f"DROP TABLE IF EXISTS {copy}")


@pytest.mark.parametrize("catalog", ["mongodb", "postgresql"])
def test_the_analysis_user_may_select_and_nothing_else(analyst, tables, catalog):
    by_catalog, copy = tables
    table = by_catalog[catalog]
    schema = table.rsplit(".", 1)[0]
    assert _run(analyst, f"SELECT sum(n) FROM {table}") == [[3]]

    for statement in (f"CREATE TABLE {schema}.{copy} AS SELECT * FROM {table}",
                      f"CREATE TABLE {schema}.{copy} (n integer)",
                      f"INSERT INTO {table} VALUES (3)",
                      f"DELETE FROM {table}",
                      f"DROP TABLE {table}",
                      f"CREATE SCHEMA {catalog}.{copy}"):
        with pytest.raises(trino.exceptions.TrinoQueryError, match=DENIED):
            _run(analyst, statement)

    assert _run(analyst, f"SELECT sum(n) FROM {table}") == [[3]]  # nothing was changed on the way


@pytest.mark.parametrize("statement", [
    "SELECT * FROM TABLE(postgresql.system.query(query => 'SELECT 1'))",
    "CALL postgresql.system.execute(query => 'SELECT 1')",
    "SELECT * FROM TABLE(mongodb.system.query(database => 'stacktest', collection => 'x', filter => '{}'))",
])
def test_the_analysis_user_cannot_pass_raw_queries_through(analyst, statement):
    """The connectors' table functions and procedures hand a query to the store as it is."""
    with pytest.raises(trino.exceptions.TrinoQueryError, match=DENIED):
        _run(analyst, statement)


def test_the_analysis_user_sees_only_its_own_queries(analyst, admin):
    _run(admin, "SELECT 1")
    users = {row[0] for row in _run(analyst, 'SELECT DISTINCT "user" FROM system.runtime.queries')}
    assert users == {analyst.user}


def test_the_admin_may_create_and_drop_a_table(stack, admin, tables):
    by_catalog, copy = tables
    table = f"mongodb.{DATABASE}.{copy}"

    assert _run(admin, f"CREATE TABLE {table} AS SELECT n FROM {by_catalog['mongodb']}") == [[2]]
    assert _run(admin, f"SELECT sum(n) FROM {table}") == [[3]]
    _run(admin, f"DROP TABLE {table}")

    with MongoClient(stack.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        assert copy not in client[DATABASE].list_collection_names()


def test_the_admin_passes_access_control_on_postgresql_where_the_read_only_role_stops_it(admin, tables):
    """Trino lets the admin create a table in postgresql, but Trino logs in to PostgreSQL as the
    read-only role: PostgreSQL refuses (its message, not Trino's "Access Denied")."""
    _, copy = tables
    refused_by_postgresql = r"read-only transaction|permission denied for"
    with pytest.raises(trino.exceptions.TrinoQueryError, match=refused_by_postgresql) as caught:
        _run(admin, f"CREATE TABLE postgresql.public.{copy} (n integer)")
    assert "Access Denied" not in str(caught.value)
