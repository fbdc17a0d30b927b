"""Least privilege of the running stack: PostgreSQL roles that cannot reach the server's programs,
private folders, and servers that do not inherit their caller's secrets.

The checks on the shared stack read what ``stack up`` left (roles, folder modes); the servers started
here (moto, a PostgreSQL cluster) run on free ports with their own var folders.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import stat
import time

import psycopg2
import pytest

from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.stack.moto import MotoService
from pipeline.stack.postgres import SERVER_ACCESS_ROLES, PostgresService
from pipeline.windows import schema

pytestmark = pytest.mark.stack

SECRET = "leak-canary-5f1e0c9a"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _environ(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/environ", "rb") as handle:
        entries = handle.read().split(b"\0")
    return dict(entry.decode("utf-8", "replace").split("=", 1) for entry in entries if b"=" in entry)


def _wait(service, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if service.ready():
                return
        except Exception:  # noqa: BLE001 - not answering yet
            pass
        assert service.running(), f"{service.name} exited; see {service.log_path}"
        time.sleep(0.25)
    pytest.fail(f"{service.name} did not answer within {timeout_s} s")


@pytest.fixture
def canary(monkeypatch):
    """Secrets in the environment of whoever starts the stack."""
    monkeypatch.setenv("WB_TEST_CANARY_SECRET", SECRET)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SECRET)


def _assert_no_canary(pid: int) -> None:
    env = _environ(pid)
    leaked = sorted(name for name, value in env.items() if SECRET in value)
    assert not leaked, f"pid {pid} got the caller's secrets in {leaked}"
    assert "WB_TEST_CANARY_SECRET" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    assert "PATH" in env


# --- the application role of the shared stack ------------------------------------------------------------
def _app(settings: Settings) -> contextlib.closing:
    """The application role, each statement its own transaction (``with conn`` would open one)."""
    conn = psycopg2.connect(**settings.psycopg2_kwargs())
    conn.autocommit = True
    return contextlib.closing(conn)


def test_the_application_role_has_no_role_privilege(stack):
    with _app(stack) as conn, conn.cursor() as cur:
        cur.execute("SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls FROM pg_roles "
                    "WHERE rolname = current_user")
        assert cur.fetchone() == (False, False, False, False, False)
        cur.execute("SELECT r FROM unnest(%s::text[]) AS r WHERE pg_has_role(current_user, r, 'MEMBER')",
                    (list(SERVER_ACCESS_ROLES),))
        assert cur.fetchall() == []


def test_the_application_role_cannot_grant_itself_server_programs(stack):
    with _app(stack) as conn, conn.cursor() as cur:
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute(f'GRANT pg_execute_server_program TO "{stack.postgres_user}"')
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute("CREATE TEMP TABLE shell_out (line text); COPY shell_out FROM PROGRAM 'id'")


def test_the_reader_role_is_a_read_only_login_with_the_settings_password(stack):
    kwargs = {**stack.psycopg2_kwargs(), "user": stack.trino_reader_user, "password": stack.reader_password}
    with psycopg2.connect(**kwargs) as conn, conn.cursor() as cur:
        cur.execute("SELECT rolsuper, rolcreaterole, rolcreatedb, current_setting('default_transaction_read_only') "
                    "FROM pg_roles WHERE rolname = current_user")
        assert cur.fetchone() == (False, False, False, "on")
        cur.execute("SELECT count(*) >= 0 FROM error_summary")
        assert cur.fetchone() == (True,)
        with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
            cur.execute("DELETE FROM error_summary WHERE false")
    conn.close()


# --- private folders of the shared stack ------------------------------------------------------------------
def test_the_stack_folders_are_private(stack):
    for folder in (stack.var_dir / "ferretdb", stack.secrets_dir, stack.run_dir):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, f"{folder} is open to other users"
    data = PostgresService(stack).data_dir
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    if os.geteuid() == 0:
        assert data.stat().st_uid == pwd.getpwnam("postgres").pw_uid


# --- servers started without the caller's environment ------------------------------------------------------
def test_a_server_does_not_inherit_the_callers_secrets(tmp_path, canary):
    service = MotoService(Settings(var_dir=tmp_path, kinesis_port=_free_port()))
    service.start()
    try:
        pid = service.pid()
        assert pid is not None
        _wait(service)
        _assert_no_canary(pid)
    finally:
        service.stop()
    assert service.pid() is None


@pytest.fixture
def cluster(unique_name, canary):
    """A PostgreSQL cluster of its own on a free port, in a var folder the postgres user can reach
    (pytest's tmp dirs are 0700), started with the caller's secrets in the environment."""
    folder = PROJECT_ROOT / "var" / "tests" / unique_name
    folder.mkdir(parents=True)
    service = PostgresService(Settings(var_dir=folder, postgres_port=_free_port()))
    service.check_prerequisites()
    service.install()
    service.start()
    try:
        _wait(service)
        yield service
    finally:
        service.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_a_new_cluster_is_provisioned_and_migrated_without_role_privileges(cluster):
    s = cluster.settings
    _assert_no_canary(cluster.pid())  # pg_ctl, through runuser, got the minimal environment too
    # A role left by an older stack up: CREATEROLE, and a grant it could have given itself.
    with contextlib.closing(cluster._admin()) as admin, admin.cursor() as cur:
        cur.execute(f'CREATE ROLE "{s.postgres_user}" LOGIN CREATEROLE')
        cur.execute(f'GRANT pg_execute_server_program TO "{s.postgres_user}"')

    cluster.provision()
    cluster.provision()  # idempotent

    assert schema.apply(s) == [m.path.name for m in schema.migrations()]  # 002 included, as the app role
    assert schema.apply(s) == []
    with _app(s) as conn, conn.cursor() as cur:
        cur.execute("SELECT rolcreaterole, pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER') "
                    "FROM pg_roles WHERE rolname = current_user")
        assert cur.fetchone() == (False, False)
        with pytest.raises(psycopg2.errors.InsufficientPrivilege):
            cur.execute(f'GRANT pg_execute_server_program TO "{s.postgres_user}"')
        cur.execute("INSERT INTO error_summary VALUES ('svc', '2026-01-01 00:00', 3, 10.0)")
    reader = {**s.psycopg2_kwargs(), "user": s.trino_reader_user, "password": s.reader_password}
    with psycopg2.connect(**reader) as conn, conn.cursor() as cur:
        cur.execute("SELECT service, total_errors FROM error_summary")
        assert cur.fetchall() == [("svc", 3)]
        with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction):
            cur.execute("DELETE FROM error_summary")
    conn.close()


def test_a_missing_role_setting_stops_the_migration_with_the_sql_to_run(cluster):
    s = cluster.settings
    cluster.provision()
    with contextlib.closing(cluster._admin()) as admin, admin.cursor() as cur:
        cur.execute(f'ALTER ROLE "{s.trino_reader_user}" RESET default_transaction_read_only')

    with pytest.raises(schema.SchemaError) as caught:
        schema.apply(s)

    assert "002_trino_reader_role.sql" in caught.value.problem
    assert "default_transaction_read_only = on" in caught.value.problem
    assert "superuser" in caught.value.fix and "flink_studio/README.md" in caught.value.fix
