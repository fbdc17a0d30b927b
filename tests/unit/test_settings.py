"""The one settings object: defaults, overrides, derived values, secrets kept out of the repo."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from pipeline.settings import Settings


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch):
    """These tests define their own settings: ignore WB_* variables of the shell that runs them."""
    import os

    for name in [n for n in os.environ if n.startswith("WB_") or n == "MONGODB_URI"]:
        monkeypatch.delenv(name)


def test_environment_variables_override_defaults_and_feed_every_derived_value(monkeypatch, tmp_path):
    monkeypatch.setenv("WB_POSTGRES_PORT", "6543")
    monkeypatch.setenv("WB_KINESIS_PORT", "4999")
    monkeypatch.setenv("WB_POSTGRES_PASSWORD", "from-env")

    s = Settings(var_dir=tmp_path)

    assert s.jdbc_url == f"jdbc:postgresql://127.0.0.1:6543/{s.postgres_database}"
    assert s.sqlalchemy_url.endswith(":from-env@127.0.0.1:6543/analytics")
    assert s.boto3_kwargs()["endpoint_url"] == "http://127.0.0.1:4999"


def test_dot_env_file_is_read(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("WB_TRINO_PORT=18081\nMONGODB_URI=mongodb://db.example:27017/\n")

    s = Settings()

    assert s.trino_url == "http://127.0.0.1:18081"
    assert s.mongo_uri == "mongodb://db.example:27017/"


def test_local_password_is_generated_once_and_kept_private(tmp_path, monkeypatch):
    monkeypatch.delenv("WB_POSTGRES_PASSWORD", raising=False)
    first = Settings(var_dir=tmp_path).pg_password
    second = Settings(var_dir=tmp_path).pg_password

    assert first == second and len(first) >= 24
    assert (tmp_path / "secrets" / "postgres_password").stat().st_mode & 0o077 == 0


def test_aws_profile_has_no_local_endpoint_and_demands_real_credentials(monkeypatch, tmp_path):
    monkeypatch.delenv("WB_POSTGRES_PASSWORD", raising=False)
    monkeypatch.delenv("MONGODB_URI", raising=False)
    s = Settings(profile="aws", var_dir=tmp_path)

    assert "endpoint_url" not in s.boto3_kwargs()
    with pytest.raises(RuntimeError, match="MONGODB_URI"):
        _ = s.mongo_uri
    with pytest.raises(RuntimeError, match="WB_POSTGRES_PASSWORD"):
        _ = s.pg_password


@pytest.mark.parametrize(("name", "value"), [("WB_PROFILE", "staging"), ("WB_TRINO_PORT", "99999"),
                                             ("WB_SHARD_COUNT", "0")])
def test_invalid_values_are_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        Settings()
