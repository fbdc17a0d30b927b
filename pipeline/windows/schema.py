"""The PostgreSQL schema of the aggregates: versioned migrations in ``pipeline/windows/sql/migrations/``.

Each ``NNN_name.sql`` file is applied once, in order, in its own transaction, and recorded in
``schema_migrations`` with a checksum of its text; re-running ``apply`` changes nothing, and a
migration edited after it was applied is refused (write a new one instead). The files carry named
placeholders (``${reader_role}``) filled with quoted values, never with passwords: the read-only
role's password is set separately, from the settings.

Runs as the application user (``WB_POSTGRES_USER``), which owns the database; it needs CREATEROLE for
the reader role (``stack up`` grants it locally; RDS's master user has it). Applied by ``stack up``
and again, idempotently, by ``flink run``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg2
from psycopg2 import sql

from pipeline.common.errors import WorkbenchError
from pipeline.common.templates import NamedTemplate
from pipeline.settings import Settings

MIGRATIONS_DIR = Path(__file__).parent / "sql" / "migrations"
_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
# Any fixed number: serializes concurrent appliers (two `flink run`s, a test and `stack up`).
_LOCK_KEY = 4_004_004


class SchemaError(WorkbenchError):
    """The schema cannot be brought up to date (an edited migration, a missing privilege)."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def migrations(folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in version order; a file that does not follow NNN_name.sql is an error."""
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise SchemaError(f"migration file {path.name} is not named NNN_name.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise SchemaError(f"two migrations share a version in {folder}")
    return found


def _values(conn: psycopg2.extensions.connection, settings: Settings) -> dict[str, str]:
    def quoted(item: sql.Composable) -> str:
        return item.as_string(conn)

    return {
        "reader_role": quoted(sql.Literal(settings.trino_reader_user)),
        "reader_ident": quoted(sql.Identifier(settings.trino_reader_user)),
        "database": quoted(sql.Identifier(settings.postgres_database)),
    }


def apply(settings: Settings, folder: Path = MIGRATIONS_DIR) -> list[str]:
    """Bring the schema up to date; returns the migrations applied now (empty when up to date)."""
    applied_now: list[str] = []
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn:
        values = _values(conn, settings)
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            cur.execute("""CREATE TABLE IF NOT EXISTS schema_migrations (
                               version    integer PRIMARY KEY,
                               name       text NOT NULL,
                               checksum   text NOT NULL,
                               applied_at timestamptz NOT NULL DEFAULT now())""")
            cur.execute("SELECT version, name, checksum FROM schema_migrations")
            done = {row[0]: (row[1], row[2]) for row in cur.fetchall()}
        conn.commit()
        for migration in migrations(folder):
            if migration.version in done:
                name, checksum = done[migration.version]
                if checksum != migration.checksum:
                    raise SchemaError(
                        f"migration {migration.path.name} changed after it was applied (as {name}); "
                        "migrations are append-only: revert the edit and add a new NNN_*.sql file")
                continue
            with conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                cur.execute("SELECT 1 FROM schema_migrations WHERE version = %s", (migration.version,))
                if cur.fetchone():  # applied meanwhile by a concurrent caller
                    conn.commit()
                    continue
                try:
                    cur.execute(NamedTemplate(migration.text).substitute(values))
                except psycopg2.errors.InsufficientPrivilege as exc:
                    raise SchemaError(f"migration {migration.path.name} needs a privilege that "
                                      f"{settings.postgres_user} lacks: {exc.pgerror}") from exc
                cur.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                            (migration.version, migration.name, migration.checksum))
            conn.commit()
            applied_now.append(migration.path.name)
        _set_reader_password(conn, settings)
    conn.close()
    return applied_now


def _set_reader_password(conn: psycopg2.extensions.connection, settings: Settings) -> None:
    """Keep the reader's password equal to the settings' (it may have been rotated)."""
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (settings.trino_reader_user,))
        if cur.fetchone():
            cur.execute(sql.SQL("ALTER ROLE {} PASSWORD %s").format(sql.Identifier(settings.trino_reader_user)),
                        (settings.reader_password,))
    conn.commit()
