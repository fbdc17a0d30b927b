"""Bad situations get one clear message naming the cause and the fix, and leave nothing running.

Each test runs ``stack up`` on its own free ports and its own var folder, so the shared stack of the
other tests is not touched.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from pipeline.common.errors import WorkbenchError
from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.stack.ferretdb import FerretDBService
from pipeline.stack.install import maven_fetch

pytestmark = pytest.mark.stack


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _isolated_env(var_dir: Path, **extra: str) -> dict[str, str]:
    """Free ports and a var folder of its own; Superset, started last, is left out (its failures are the
    dashboards tests' business, and none of these situations reaches it)."""
    ports = {f"WB_{name}_PORT": str(_free_port()) for name in ("KINESIS", "MONGO", "POSTGRES", "TRINO", "SUPERSET")}
    return {**os.environ, **ports, "WB_VAR_DIR": str(var_dir), "WB_SUPERSET_ENABLED": "false", **extra}


def _up(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline", "stack", "up"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


def _processes_using(folder: Path) -> list[str]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(folder) in cmdline:
            found.append(cmdline[:150])
    return found


def test_up_refuses_a_taken_port_and_starts_nothing(tmp_path):
    env = _isolated_env(tmp_path)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(env["WB_POSTGRES_PORT"])))
        squatter.listen()
        result = _up(env)

    assert result.returncode == 1
    assert f"port {env['WB_POSTGRES_PORT']} for postgres is already in use" in result.stderr
    assert "WB_POSTGRES_PORT" in result.stderr
    assert _processes_using(tmp_path) == []
    for name in ("KINESIS", "MONGO", "TRINO"):
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", int(env[f"WB_{name}_PORT"]))) != 0, f"{name} was started"


def test_a_missing_jdk_is_named_with_its_fix_before_anything_starts(tmp_path):
    result = _up(_isolated_env(tmp_path, WB_TRINO_JAVA_HOME=str(tmp_path / "no-jdk")))

    assert result.returncode == 1
    assert "Trino 476 needs Java 24 or newer" in result.stderr
    assert "WB_TRINO_JAVA_HOME" in result.stderr
    assert _processes_using(tmp_path) == []


@pytest.fixture
def project_var_dir(unique_name):
    """A var folder inside the checkout: the postgres user can reach it (pytest's tmp dirs are 0700)."""
    folder = PROJECT_ROOT / "var" / "tests" / unique_name
    folder.mkdir(parents=True)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_a_server_that_dies_at_start_stops_the_others_and_shows_its_log(project_var_dir):
    # An impossible heap makes the Trino JVM exit at once, after the other servers were started.
    result = _up(_isolated_env(project_var_dir, WB_TRINO_HEAP="1Q"))

    assert result.returncode == 1, result.stdout
    assert "trino exited during start-up" in result.stderr
    assert "Invalid maximum heap size" in result.stderr  # the last lines of its log
    assert "starting postgres" in result.stdout  # the others had been started ...
    assert _processes_using(project_var_dir) == [], "... and are stopped again"


def test_a_checkout_the_postgres_user_cannot_enter_is_named(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("only root runs PostgreSQL as another user")
    tmp_path.chmod(0o700)
    result = _up(_isolated_env(tmp_path))

    assert result.returncode == 1
    assert "the postgres user cannot reach" in result.stderr and "WB_VAR_DIR" in result.stderr
    assert _processes_using(tmp_path) == []


def test_missing_go_is_named_when_ferretdb_must_be_built(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no Go here
    if shutil.which("go"):
        pytest.skip("go is installed in /usr/bin on this machine")
    service = FerretDBService(Settings(cache_dir=tmp_path, var_dir=tmp_path / "var"))

    with pytest.raises(WorkbenchError) as caught:
        service.check_prerequisites()

    assert "Go is needed to build FerretDB" in caught.value.problem
    assert "Go 1.24" in caught.value.fix


def test_a_failed_download_names_maven_central_and_the_log(tmp_path):
    log = tmp_path / "install.log"

    with pytest.raises(WorkbenchError) as caught:
        maven_fetch("io.trino.nonexistent:no-such-artifact:0.0.1:tar.gz", log)

    assert "Maven could not download io.trino.nonexistent:no-such-artifact" in caught.value.problem
    assert str(log) in caught.value.problem
    assert "Maven Central" in caught.value.fix
