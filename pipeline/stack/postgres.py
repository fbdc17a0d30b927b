"""Amazon RDS for PostgreSQL, played by the machine's PostgreSQL 15 with a data folder of our own.

``initdb`` and ``postgres`` refuse to run as root, and sessions and CI run as root: then the server
runs as the ``postgres`` system user, which owns ``var/postgres``. Local socket connections are
trusted (the socket lives in a folder only that user can enter); TCP connections need a password.

Roles (least privilege): the superuser ``postgres`` is used only here, through the socket, to create
the application role (``WB_POSTGRES_USER``, owner of its database, nothing more: no CREATEROLE, which
on PostgreSQL 15 would let it grant itself ``pg_execute_server_program`` and run programs as the
``postgres`` system user) and Trino's read-only role (``WB_TRINO_READER_USER``), with their passwords.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import psycopg2
from psycopg2 import sql

from pipeline.common.errors import WorkbenchError
from pipeline.stack.base import Service

# Predefined roles that reach the server's files or programs: the roles provisioned here never keep one.
SERVER_ACCESS_ROLES = ("pg_execute_server_program", "pg_read_server_files", "pg_write_server_files")
# A plain login: what the application role and the reader role may do beyond their grants (nothing).
PLAIN_LOGIN = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"


class PostgresService(Service):
    name = "postgres"
    stands_in_for = "Amazon RDS for PostgreSQL"
    port_setting = "postgres_port"

    @property
    def data_dir(self) -> Path:
        return self.settings.var_dir / "postgres" / "data"

    @property
    def socket_dir(self) -> Path:
        return self.settings.var_dir / "postgres" / "socket"

    def note(self) -> str:
        return f"data in {self.data_dir}"

    def _bin(self, tool: str) -> str:
        return str(self.settings.postgres_bin_dir / tool)

    def _as_owner(self, argv: list[str]) -> list[str]:
        """Run as the postgres user when we are root; as ourselves otherwise."""
        if os.geteuid() != 0:
            return argv
        return ["runuser", "-u", "postgres", "--", *argv]

    def _chown(self, path: Path) -> None:
        if os.geteuid() == 0:
            entry = pwd.getpwnam("postgres")
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def check_prerequisites(self) -> None:
        if not Path(self._bin("postgres")).exists():
            raise WorkbenchError(
                f"PostgreSQL 15 server binaries not found in {self.settings.postgres_bin_dir}",
                "install them (Debian: apt-get install postgresql-15) or set WB_POSTGRES_BIN_DIR",
            )
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError as exc:
                raise WorkbenchError(
                    "running as root, PostgreSQL needs the 'postgres' system user, which does not exist",
                    "install Debian's postgresql package (it creates the user) or run as a normal user",
                ) from exc
            if shutil.which("runuser") is None:
                raise WorkbenchError("'runuser' (util-linux) is needed to start PostgreSQL as root",
                                 "apt-get install util-linux")

    def install(self) -> None:
        """Create the cluster once; its data stays in var/postgres across down/up."""
        if (self.data_dir / "PG_VERSION").exists():
            return
        for path in (self.data_dir.parent, self.data_dir, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
            self._chown(path)
        self.data_dir.chmod(0o700)
        if os.geteuid() == 0:
            self._check_traversable(self.data_dir)
        log = self.settings.log_dir / "install.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            self._as_owner([self._bin("initdb"), "-D", str(self.data_dir), "-U", "postgres",
                            "-E", "UTF8", "--locale=C.UTF-8", "--auth-local=trust",
                            "--auth-host=scram-sha-256"]),
            env=self.process_environment({}), capture_output=True, text=True, check=False,
        )
        with log.open("a", encoding="utf-8") as out:
            out.write(result.stdout + result.stderr)
        if result.returncode != 0:
            raise WorkbenchError(f"initdb failed: {result.stderr.strip()[-500:]}",
                             f"see {log}; remove {self.data_dir} to start over")

    def _check_traversable(self, path: Path) -> None:
        probe = subprocess.run(self._as_owner(["test", "-w", str(path)]), check=False)
        if probe.returncode != 0:
            raise WorkbenchError(
                f"the postgres user cannot reach {path} (a parent folder is not searchable by others)",
                "check out the project under a folder others can enter (chmod o+x on its parents), "
                "or set WB_VAR_DIR to such a folder",
            )

    def prepare(self) -> None:
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self._chown(self.socket_dir)
        self.socket_dir.chmod(0o700)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.touch()
        self._chown(self.log_path)

    def command(self) -> tuple[Sequence[str], Mapping[str, str], Path]:
        options = (f"-p {self.port} -c listen_addresses={self.settings.host} "
                   f"-c unix_socket_directories={self.socket_dir}")
        argv = self._as_owner([self._bin("pg_ctl"), "start", "-D", str(self.data_dir),
                               "-l", str(self.log_path), "-o", options])
        return argv, {}, self.data_dir.parent

    def start(self) -> None:
        """pg_ctl daemonizes the server itself; postmaster.pid is its pid file. Like every server, it
        gets the minimal environment (runuser passes it on to pg_ctl and the server)."""
        self.prepare()
        argv, extra_env, cwd = self.command()
        result = subprocess.run(list(argv), cwd=cwd, env=self.process_environment(extra_env),
                                capture_output=True, text=True, check=False, timeout=120)
        if result.returncode != 0:
            raise WorkbenchError(f"PostgreSQL did not start: {result.stderr.strip()[-500:]}",
                             f"see {self.log_path}")

    def pid(self) -> int | None:
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError, IndexError):
            return None

    def stop(self, timeout_s: float = 30.0) -> bool:
        if self.pid() is None:
            return False
        subprocess.run(self._as_owner([self._bin("pg_ctl"), "stop", "-D", str(self.data_dir),
                                       "-m", "fast", "-t", str(int(timeout_s))]),
                       env=self.process_environment({}), capture_output=True, check=False)
        return True

    def _admin(self) -> psycopg2.extensions.connection:
        conn = psycopg2.connect(host=str(self.socket_dir), port=self.port, user="postgres",
                                dbname="postgres", connect_timeout=3)
        conn.autocommit = True
        return conn

    def ready(self) -> bool:
        with psycopg2.connect(host=str(self.socket_dir), port=self.port, user="postgres",
                              dbname="postgres", connect_timeout=3) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
            return cur.fetchone() == (1,)

    def provision(self) -> None:
        """As the superuser: the application role and its database, and Trino's read-only role. Idempotent.

        Both roles are plain logins (``PLAIN_LOGIN``; an existing role is altered back to it, e.g. the
        CREATEROLE older versions gave the application role) with the settings' passwords (rotated here),
        and keep none of ``SERVER_ACCESS_ROLES``. The reader role exists before any migration runs, with
        its read-only default: migration 002 (``pipeline.windows.schema``, applied as the application
        role after the stack is up) then only grants it SELECT on the application's tables.
        """
        s = self.settings
        if "postgres" in (s.postgres_user, s.trino_reader_user) or s.postgres_user == s.trino_reader_user:
            raise WorkbenchError(
                f"WB_POSTGRES_USER ({s.postgres_user}) and WB_TRINO_READER_USER ({s.trino_reader_user}) must be "
                "two roles of their own, neither the superuser 'postgres'",
                "unset them (defaults: workbench, trino_reader) or choose two other names")
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                for role, password in ((s.postgres_user, s.pg_password), (s.trino_reader_user, s.reader_password)):
                    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
                    verb = "ALTER" if cur.fetchone() else "CREATE"
                    cur.execute(sql.SQL(verb + " ROLE {} " + PLAIN_LOGIN + " PASSWORD %s").format(
                        sql.Identifier(role)), (password,))
                    cur.execute("""SELECT g.rolname FROM pg_auth_members m
                                   JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
                                   WHERE u.rolname = %s AND g.rolname = ANY(%s)""", (role, list(SERVER_ACCESS_ROLES)))
                    for (granted,) in cur.fetchall():
                        cur.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(granted), sql.Identifier(role)))
                # Role settings need CREATEROLE: set here, migration 002 finds this one already in effect.
                cur.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(
                    sql.Identifier(s.trino_reader_user)))
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (s.postgres_database,))
                if not cur.fetchone():
                    cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(s.postgres_database), sql.Identifier(s.postgres_user)))
        finally:
            conn.close()

    def ensure_owned_database(self, role: str, password: str, database: str) -> None:
        """A plain login ``role`` (password rotated to ``password``) owning ``database``, for a server of
        the stack that keeps its own state here (Superset's metadata). It gets nothing of the
        workbench's database. Idempotent; as the superuser, through the socket."""
        s = self.settings
        if role in ("postgres", s.postgres_user, s.trino_reader_user) or database in ("postgres", s.postgres_database):
            raise WorkbenchError(f"role {role!r} / database {database!r} would share the workbench's own",
                                 "choose another name")
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
                verb = "ALTER" if cur.fetchone() else "CREATE"
                cur.execute(sql.SQL(verb + " ROLE {} " + PLAIN_LOGIN + " PASSWORD %s").format(sql.Identifier(role)),
                            (password,))
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
                if not cur.fetchone():
                    cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(database),
                                                                                sql.Identifier(role)))
                # Nobody else may connect to it (PUBLIC has CONNECT by default).
                cur.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)))
        finally:
            conn.close()

