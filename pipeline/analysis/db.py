"""The Trino engine (SQLAlchemy's Trino dialect) and a runner for the ``.sql`` files of this package."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipeline.common.templates import sql_file
from pipeline.settings import Settings

SQL_DIR = Path(__file__).parent / "sql"
PG_SCHEMA = "public"  # where the Flink job's tables live in PostgreSQL
NO_SERVICE = ""  # bound when no service filter is given: the handler never stores an empty service


def trino_sqlalchemy_url(settings: Settings) -> str:
    """``trino://user@host:port/mongodb``: everything is taken from the settings."""
    host = settings.trino_host or settings.host
    return f"trino://{settings.trino_user}@{host}:{settings.trino_port}/mongodb"


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    return sa.create_engine(url, pool_pre_ping=False)


def engine(settings: Settings) -> Engine:
    """One engine per Trino address (cached: the notebooks call many functions in a row)."""
    return _engine(trino_sqlalchemy_url(settings))


def quote_ident(name: str) -> str:
    """A Trino identifier, double-quoted (Trino lower-cases names; quoting keeps odd characters safe)."""
    return '"' + name.replace('"', '""') + '"'


def load_sql(name: str, **fragments: str) -> str:
    """The text of ``sql/<name>.sql`` without its comment lines (a ``:name`` in a comment would be
    taken for a bind by SQLAlchemy), with ``${...}`` fragments filled in."""
    return sql_file(SQL_DIR / f"{name}.sql", fragments)


def services_params(services: Iterable[str] | None) -> dict[str, Any]:
    """Binds for ``(:all_services OR service IN :services)``; an expanding IN needs a non-empty list."""
    if services is None:
        return {"all_services": True, "services": [NO_SERVICE]}
    chosen = [str(s) for s in services]
    return {"all_services": False, "services": chosen or [NO_SERVICE]}


def statement(sql: str, expanding: Sequence[str] = ("services",)) -> sa.TextClause:
    clause = sa.text(sql)
    names = set(re.findall(r"(?<!:):([a-z_]+)\b", sql))
    binds = [sa.bindparam(name, expanding=True) for name in expanding if name in names]
    return clause.bindparams(*binds) if binds else clause


def query(settings: Settings, sql: str, params: Mapping[str, Any], columns: Sequence[str] | None = None,
          expanding: Sequence[str] = ("services",)) -> pd.DataFrame:
    """Run one statement with bound parameters; the rows as a DataFrame (columns kept when empty)."""
    with engine(settings).connect() as conn:
        result = conn.execute(statement(sql, expanding), dict(params))
        keys = list(result.keys())
        frame = pd.DataFrame(result.fetchall(), columns=keys)
    if columns is not None:
        frame = frame[list(columns)]
    return frame
