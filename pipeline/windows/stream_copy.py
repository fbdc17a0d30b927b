"""A streaming Flink SQL job that copies a Kinesis stream into a PostgreSQL table, then stops.

The smallest job that proves the Flink runtime end to end: the window job's Kinesis source
paragraph (Studio's options, read from the stream's start) and a JDBC upsert sink. The stream is
unbounded, so the job runs until the expected number of rows is in PostgreSQL (or a timeout), and
is then cancelled. Runs as its own process:

    python -m pipeline.windows.stream_copy --stream log-stream --table copy_test --expect 100

The target table must exist with columns (event_id text primary key, timestamp text, service text,
status int, message text, latency_ms double precision).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import psycopg2
from psycopg2 import sql

from pipeline.settings import Settings
from pipeline.windows.paragraphs import local_values, render_statements, source_paragraph, sql_literal
from pipeline.windows.runtime import create_table_env

SQL_FILE = Path(__file__).parent / "sql" / "stream_copy.sql"
TARGET_COLUMNS = ("event_id text PRIMARY KEY, \"timestamp\" text, service text, status int, "
                  "message text, latency_ms double precision")


def create_target_table(settings: Settings, table: str) -> None:
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (" + TARGET_COLUMNS + ")").format(sql.Identifier(table)))


def _row_count(settings: Settings, table: str) -> int:
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
        return int(cur.fetchone()[0])


def statements(settings: Settings, stream: str, table: str) -> list[str]:
    """The window job's source paragraph (from the stream's start), then the copy's sink and INSERT."""
    values = local_values(settings, stream) | {"initpos": sql_literal("TRIM_HORIZON"), "table": sql_literal(table)}
    return source_paragraph().statements(values) + render_statements(SQL_FILE, values)


def run(settings: Settings, stream: str, table: str, expect: int, timeout_s: float) -> int:
    """Run the job until ``expect`` rows are in ``table``; returns the row count reached."""
    t_env = create_table_env(settings, job_name=f"stream-copy {stream} -> {table}")
    *ddl, insert = statements(settings, stream, table)
    for statement in ddl:
        t_env.execute_sql(statement)
    job = t_env.execute_sql(insert).get_job_client()
    deadline = time.monotonic() + timeout_s
    count = 0
    try:
        while time.monotonic() < deadline:
            count = _row_count(settings, table)
            if count >= expect:
                break
            status = job.get_job_status().result().name
            if status in ("FAILED", "CANCELED", "FINISHED"):
                job.get_job_execution_result().result()  # raises the job's failure cause
                break
            time.sleep(0.25)
    finally:
        with contextlib.suppress(Exception):  # already ended: its cause was raised above
            job.cancel().result()
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stream", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--expect", type=int, required=True, help="stop once this many rows are in the table")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds (default 180)")
    args = parser.parse_args(argv)
    settings = Settings()
    began = time.monotonic()
    count = run(settings, args.stream, args.table, args.expect, args.timeout)
    print(f"stream-copy: {count} of {args.expect} rows in {args.table} after {time.monotonic() - began:.1f} s")
    if count < args.expect:
        print(f"error: only {count} rows arrived; see {settings.log_dir / 'flink'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
