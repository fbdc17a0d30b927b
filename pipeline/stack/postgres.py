"""Amazon RDS for PostgreSQL, played by the machine's PostgreSQL 15 with a data folder of our own.

``initdb`` and ``postgres`` refuse to run as root, and sessions and CI run as root: then the server
runs as the ``postgres`` system user, which owns ``var/postgres``. Local socket connections are
trusted (the socket lives in a folder only that user can enter); TCP connections need a password.
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
            capture_output=True, text=True, check=False,
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
        """pg_ctl daemonizes the server itself; postmaster.pid is its pid file."""
        self.prepare()
        argv, _, cwd = self.command()
        result = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, check=False, timeout=120)
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
                       capture_output=True, check=False)
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
        """The application role (password from the settings) and its database; the tables come from
        the windows stage's migrations (``pipeline.windows.schema``), applied after the stack is up."""
        s = self.settings
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (s.postgres_user,))
                verb = "ALTER" if cur.fetchone() else "CREATE"
                # CREATEROLE: the schema's migrations (pipeline/windows/schema.py) create Trino's read-only role.
                cur.execute(sql.SQL(verb + " ROLE {} LOGIN CREATEROLE PASSWORD %s").format(
                    sql.Identifier(s.postgres_user)), (s.pg_password,))
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (s.postgres_database,))
                if not cur.fetchone():
                    cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(s.postgres_database), sql.Identifier(s.postgres_user)))
        finally:
            conn.close()
