"""What the window job wrote, read straight from PostgreSQL (notebook 4 shows it after a run), and
removed again by service name (a benchmark or a test cleaning up its own rows)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import psycopg2

from pipeline.common.templates import sql_file
from pipeline.common.times import utc_naive
from pipeline.settings import Settings

MINUTE_STATS_SQL = Path(__file__).parent / "sql" / "minute_stats.sql"
DELETE_SERVICES_SQL = Path(__file__).parent / "sql" / "delete_services.sql"


def minute_stats(settings: Settings, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """``service_minute_stats`` joined with ``error_summary`` for [start, end), window times in UTC."""
    sql = sql_file(MINUTE_STATS_SQL)
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(sql, {"start": utc_naive(start), "end": utc_naive(end)})
        columns = [c.name for c in cur.description]
        rows = cur.fetchall()
    conn.close()
    return pd.DataFrame(rows, columns=columns)


def delete_services(settings: Settings, containing: str) -> None:
    """Delete the window rows of every service whose name contains ``containing``."""
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(DELETE_SERVICES_SQL.read_text(encoding="utf-8"), {"containing": containing})
    conn.close()
