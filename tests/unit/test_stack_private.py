"""Least privilege of the stack's processes and folders, without servers: what environment each process
gets, and which folders are private (0700)."""

from __future__ import annotations

import stat

import pytest

from pipeline.settings import Settings
from pipeline.stack.base import server_environment
from pipeline.stack.ferretdb import FerretDBService
from pipeline.stack.moto import MotoService
from pipeline.stack.postgres import PostgresService
from pipeline.windows.process import FlinkJobProcess

SECRET = "do-not-leak-0123456789"


@pytest.fixture
def caller_environment(monkeypatch):
    """A shell with AWS keys and a password in its environment, beside the usual variables."""
    for name, value in {"AWS_SECRET_ACCESS_KEY": SECRET, "AWS_ACCESS_KEY_ID": "AKIAFAKE",
                        "WB_POSTGRES_PASSWORD": SECRET, "SOME_TOKEN": SECRET, "PATH": "/usr/bin:/bin",
                        "HOME": "/home/someone", "LANG": "C.UTF-8", "LC_TIME": "C", "TZ": "UTC", "TMPDIR": "/tmp",
                        "JAVA_HOME": "/opt/jdk"}.items():
        monkeypatch.setenv(name, value)


def test_a_server_gets_only_the_basic_variables_and_its_own(caller_environment):
    env = server_environment({"TRINO_PG_PASSWORD": "its-own"})

    assert env == {"PATH": "/usr/bin:/bin", "HOME": "/home/someone", "LANG": "C.UTF-8", "LC_TIME": "C", "TZ": "UTC",
                   "TMPDIR": "/tmp", "JAVA_HOME": "/opt/jdk", "TRINO_PG_PASSWORD": "its-own"}


@pytest.mark.parametrize("service_type", [MotoService, FerretDBService, PostgresService])
def test_no_server_inherits_the_callers_secrets(caller_environment, tmp_path, service_type):
    service = service_type(Settings(var_dir=tmp_path))

    env = service.process_environment({})

    assert SECRET not in env.values()
    assert not [name for name in env if name.startswith(("AWS_", "WB_"))]
    assert env["PATH"] == "/usr/bin:/bin"


def test_a_flink_job_keeps_the_callers_credentials_and_gets_its_settings(caller_environment, tmp_path):
    job = FlinkJobProcess(Settings(var_dir=tmp_path, postgres_password="pw"))
    _, extra, _ = job.command()

    env = job.process_environment(extra)

    assert env["AWS_SECRET_ACCESS_KEY"] == SECRET  # the AWS credential chain of the caller
    assert env["WB_VAR_DIR"] == str(tmp_path)  # its settings, overrides included
    assert env["WB_POSTGRES_PASSWORD"] == "pw"


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_ferretdb_data_and_the_pid_folder_are_created_private(tmp_path):
    service = FerretDBService(Settings(var_dir=tmp_path))

    service.secure_folders()  # the first thing start does

    assert _mode(tmp_path / "ferretdb") == 0o700
    assert _mode(tmp_path / "run") == 0o700


def test_folders_left_open_by_an_older_start_are_narrowed(tmp_path):
    for name in ("ferretdb", "run"):
        (tmp_path / name).mkdir()
        (tmp_path / name).chmod(0o755)
    service = FerretDBService(Settings(var_dir=tmp_path))

    service.provision()  # on every 'stack up', the server running or not

    assert _mode(tmp_path / "ferretdb") == 0o700
    assert _mode(tmp_path / "run") == 0o700
