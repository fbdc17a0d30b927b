"""The PostgreSQL schema of the aggregates: versioned migrations in ``pipeline/windows/sql/migrations/``.

Each ``NNN_name.sql`` file is applied once, in order, in its own transaction, and recorded in
``schema_migrations`` with a checksum of its text; re-running ``apply`` changes nothing, and a
migration edited after it was applied is refused (write a new one instead). The files carry named
placeholders (``${reader_role}``) filled with quoted values, never with passwords.

Runs as the application user (``WB_POSTGRES_USER``), which owns the database and needs no role
privilege (no CREATEROLE): roles are the administrator's. Trino's read-only role, its password and
its role setting are made by the superuser before any migration runs (locally ``stack up``,
``pipeline/stack/postgres.py``; on RDS the master user, see ``flink_studio/README.md``), so migration
002 finds the role and only grants it SELECT. A role setting in a migration
(``ALTER ROLE <role> SET <name> = <value>;`` on a line of its own), which only a role administrator
may make, is left out when the application user is none and the setting is already in effect; when
it is not, ``apply`` stops with the SQL the administrator must run. Applied by ``stack up`` and
again, idempotently, by ``flink run``.
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
from pipeline.windows import sketch

MIGRATIONS_DIR = Path(__file__).parent / "sql" / "migrations"
_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
# A role setting on a line of its own, after the placeholders are filled (the role is a quoted identifier).
_ROLE_SETTING = re.compile(r'^[ \t]*ALTER[ \t]+ROLE[ \t]+(?P<role>"(?:[^"]|"")+"|\w+)[ \t]+SET[ \t]+'
                           r"(?P<name>\w+)[ \t]*(?:=|TO)[ \t]*'?(?P<value>\w+)'?[ \t]*;[ \t]*$",
                           re.IGNORECASE | re.MULTILINE)
_BOOLEANS = {"on": "on", "true": "on", "yes": "on", "1": "on", "off": "off", "false": "off", "no": "off", "0": "off"}
ADMIN_FIX = ("locally, 'make up' creates the roles as the superuser; on AWS, the RDS master user creates "
             "Trino's read-only role (SQL in flink_studio/README.md, 'The PostgreSQL schema')")
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
        **sketch.sql_values(),
    }


def _may_administer_roles(cur: psycopg2.extensions.cursor) -> bool:
    cur.execute("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
    row = cur.fetchone()
    return bool(row and row[0])


def _setting(name: str, value: str) -> str:
    return f"{name.lower()}={_BOOLEANS.get(value.lower(), value)}"


def _without_admin_settings(cur: psycopg2.extensions.cursor, text: str, migration: Migration) -> str:
    """``text`` with its role settings left out, each checked to be in effect already (made by the
    administrator); a missing one is a SchemaError naming the SQL to run."""

    def left_out(match: re.Match[str]) -> str:
        role = match["role"]
        role = role[1:-1].replace('""', '"') if role.startswith('"') else role.lower()
        cur.execute("SELECT rolconfig FROM pg_roles WHERE rolname = %s", (role,))
        row = cur.fetchone()
        in_effect = {_setting(*item.split("=", 1)) for item in (row[0] or []) if "=" in item} if row else set()
        if _setting(match["name"], match["value"]) not in in_effect:
            state = "has not got it" if row else "does not exist"
            raise SchemaError(
                f"migration {migration.path.name} needs the role setting '{match.group(0).strip()}', which only "
                f"a role administrator may make, and the role {role!r} {state}",
                f"run that statement as the superuser (or RDS master user): {ADMIN_FIX}")
        return f"-- in effect, made by the administrator: {match.group(0).strip()}"

    return _ROLE_SETTING.sub(left_out, text)


def apply(settings: Settings, folder: Path = MIGRATIONS_DIR) -> list[str]:
    """Bring the schema up to date; returns the migrations applied now (empty when up to date)."""
    applied_now: list[str] = []
    with psycopg2.connect(**settings.psycopg2_kwargs()) as conn:
        values = _values(conn, settings)
        with conn.cursor() as cur:
            administrator = _may_administer_roles(cur)
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
                text = NamedTemplate(migration.text).substitute(values)
                if not administrator:
                    text = _without_admin_settings(cur, text, migration)
                try:
                    cur.execute(text)
                except psycopg2.errors.InsufficientPrivilege as exc:
                    raise SchemaError(f"migration {migration.path.name} needs a privilege that "
                                      f"{settings.postgres_user} lacks: {(exc.pgerror or '').strip()}",
                                      ADMIN_FIX) from exc
                cur.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                            (migration.version, migration.name, migration.checksum))
            conn.commit()
            applied_now.append(migration.path.name)
    conn.close()
    return applied_now

