"""The project's PostgreSQL schema: applying it again, as `stack up` and `flink run` do, changes nothing."""

from __future__ import annotations

import psycopg2
import pytest

from pipeline.windows import schema

pytestmark = pytest.mark.stack

CATALOG = {
    "columns": "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
               "WHERE table_schema = 'public' ORDER BY 1, 2",
    "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint "
                   "WHERE connamespace = 'public'::regnamespace ORDER BY 1, 2",
    "indexes": "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2",
    "grants": "SELECT grantee, table_name, privilege_type FROM information_schema.role_table_grants "
              "WHERE table_schema = 'public' ORDER BY 1, 2, 3",
    "migrations": "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY 1",
}


def _catalog(settings) -> dict[str, list[tuple]]:
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        snapshot = {}
        for name, query in CATALOG.items():
            cur.execute(query)
            snapshot[name] = cur.fetchall()
    conn.close()
    return snapshot


def test_applying_the_schema_again_changes_nothing(stack):
    schema.apply(stack)  # up to date whatever ran before
    before = _catalog(stack)
    assert [row[0] for row in before["migrations"]] == [m.version for m in schema.migrations()]
    assert {"error_summary", "service_minute_stats"} <= {row[0] for row in before["columns"]}
    assert (stack.trino_reader_user, "error_summary", "SELECT") in before["grants"]

    assert schema.apply(stack) == []
    assert _catalog(stack) == before
