"""The stack's start phases, and how Superset is started: secrets in its environment, never its argv."""

from __future__ import annotations

from pipeline.settings import Settings
from pipeline.stack import manager
from pipeline.stack.superset import SupersetService


def test_superset_starts_in_a_phase_of_its_own_after_the_servers_it_needs(tmp_path):
    phases = manager.phases(Settings(var_dir=tmp_path))
    assert [[s.name for s in phase] for phase in phases] == [["kinesis", "postgres", "mongodb", "trino"], ["superset"]]


def test_a_setting_leaves_superset_out(tmp_path):
    names = [s.name for s in manager.services(Settings(var_dir=tmp_path, superset_enabled=False))]
    assert "superset" not in names and names[-1] == "trino"


def test_superset_gets_its_secrets_through_its_environment_only(tmp_path, monkeypatch):
    monkeypatch.setenv("WB_POSTGRES_PASSWORD", "caller-secret")
    service = SupersetService(Settings(var_dir=tmp_path, superset_port=18088, superset_trino_user="dash"))
    argv, extra, _ = service.command()
    env = service.process_environment(extra)
    key = (tmp_path / "secrets" / "superset_secret_key").read_text().strip()
    assert key and key == env["SUPERSET_SECRET_KEY"]
    assert not any(key in part or "password" in part.lower() for part in argv)
    assert "127.0.0.1:18088" in argv
    assert "caller-secret" not in " ".join(env.values())  # the caller's secrets stay with the caller
    assert service.trino_uri() == "trino://dash@127.0.0.1:8080/postgresql"
    assert (tmp_path / "secrets" / "superset_secret_key").stat().st_mode & 0o077 == 0
