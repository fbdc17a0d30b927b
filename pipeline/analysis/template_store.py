"""Mined templates in PostgreSQL (tables of migration 006): each mining step is written in one
transaction together with the miner's cursor and state, so a step is stored whole or not at all.

Writes go straight to PostgreSQL as the application user (like the window job's sink); readers go
through Trino as the read-only user (``pattern_queries``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg2
from psycopg2.extras import execute_values

from pipeline.analysis.db import load_sql
from pipeline.analysis.mining import MiningStep, TemplateMiner, TemplateSeen
from pipeline.common.errors import WorkbenchError
from pipeline.settings import Settings

PAGE_SIZE = 5000


class MiningConflict(WorkbenchError):
    """Another miner moved the cursor while this one was mining the same logs."""


@dataclass(frozen=True)
class Cursor:
    """Where mining stands: everything before ``mined_until`` is mined (None: nothing yet)."""

    mined_until: dt.datetime | None
    logs_mined: int
    miner: TemplateMiner


def source_name(settings: Settings) -> str:
    """The source the miner reads, which keys every stored row: ``<database>.<raw collection>``."""
    return f"{settings.mongodb_database}.{settings.raw_collection}"


def _sql(name: str) -> str:
    return load_sql(f"store/{name}")


def load_cursor(settings: Settings) -> Cursor:
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(_sql("load_cursor"), {"source": source_name(settings)})
        row = cur.fetchone()
    conn.close()
    if row is None:
        return Cursor(None, 0, TemplateMiner())
    return Cursor(row[0], int(row[1]), TemplateMiner.from_state_json(row[2]))


def mined_until(settings: Settings) -> dt.datetime | None:
    """Where mining of the settings' raw logs stands (None: nothing mined yet)."""
    return load_cursor(settings).mined_until


def save_step(settings: Settings, step: MiningStep, miner: TemplateMiner, started_from: dt.datetime | None,
              mined_until: dt.datetime) -> None:
    """Store ``step`` (the logs of [started_from, mined_until)) and move the cursor, atomically.

    Refused (``MiningConflict``) when the stored cursor is not ``started_from`` any more: another
    miner stored these logs meanwhile, and storing them again would count them twice."""
    name = source_name(settings)
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(_sql("load_cursor"), {"source": name})
        row = cur.fetchone()
        stored_until = row[0] if row else None
        if stored_until != started_from:
            raise MiningConflict(
                f"the template miner's cursor is at {stored_until}, not {started_from} where this run began: "
                "another miner stored these logs meanwhile",
                "run one miner at a time ('python -m pipeline analysis mine'); this run stored nothing")
        merges = step.store_merges()
        if merges:
            cur.execute(_sql("seen_templates"), {"source": name, "ids": [old for old, _ in merges]})
            stored = {r[0]: TemplateSeen(r[1], r[2], r[3], r[4], r[5], r[6]) for r in cur.fetchall()}
            for old, new in merges:
                if old in stored and new in step.templates:
                    step.templates[new].fold(stored[old])
            for old, new in merges:
                cur.execute(_sql("merge_template"), {"source": name, "old": old, "new": new})
        for statement, rows in (("upsert_templates", step.template_rows()),
                                ("add_template_minutes", step.minute_rows()),
                                ("add_error_fields", step.field_rows())):
            if rows:
                execute_values(cur, _sql(statement), [(name, *row) for row in rows], page_size=PAGE_SIZE)
        cur.execute(_sql("save_cursor"), {"source": name, "mined_until": mined_until, "logs": step.logs,
                                          "state": miner.state_json()})
    conn.close()


def forget(settings: Settings) -> None:
    """Drop the source's mined templates, counts and cursor: the next run mines its raw logs again
    (for benchmarks, and for a store whose raw logs were replaced)."""
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn, conn.cursor() as cur:
        cur.execute(_sql("forget"), {"source": source_name(settings)})
    conn.close()
