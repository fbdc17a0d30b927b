"""Trino's rendered configuration, without a server: private files, and access control that lets
everyone but the admin user only read."""

from __future__ import annotations

import json
import os
import re
import stat

import pytest

from pipeline.common.errors import WorkbenchError
from pipeline.settings import Settings
from pipeline.stack.trino import TrinoService

SECRET_URI = "mongodb://logs:do-not-leak@db.example.net:27017/?tls=true"


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask():
    """The most permissive umask: modes must come from the code, not from the caller's umask."""
    previous = os.umask(0)
    yield
    os.umask(previous)


@pytest.fixture
def service(tmp_path) -> TrinoService:
    return TrinoService(Settings(var_dir=tmp_path / "var", cache_dir=tmp_path / "cache", mongodb_uri=SECRET_URI))


def test_catalog_files_are_0600_in_a_0700_folder(service, open_umask):
    etc = service.state_dir / "etc"
    (etc / "catalog").mkdir(parents=True)  # left open by an older start
    (etc / "catalog").chmod(0o755)
    (etc / "catalog" / "old.properties").write_text("connector.name=memory\n")

    service.prepare()

    catalogs = sorted(p.name for p in (etc / "catalog").iterdir())
    assert catalogs == ["mongodb.properties", "postgresql.properties"]
    assert SECRET_URI in (etc / "catalog" / "mongodb.properties").read_text(encoding="utf-8")
    for name in catalogs:
        assert _mode(etc / "catalog" / name) == 0o600, name
    assert _mode(etc / "catalog") == 0o700
    assert _mode(etc) == 0o700
    assert {p.name: _mode(p) for p in etc.iterdir() if p.is_file()} == dict.fromkeys(
        ["access-control.properties", "config.properties", "jvm.config", "log.properties", "node.properties",
         "rules.json"], 0o600)


def _properties(path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_file_based_access_control_is_configured(service):
    service.prepare()
    etc = service.state_dir / "etc"

    config = _properties(etc / "config.properties")
    assert config["access-control.config-files"] == str(etc / "access-control.properties")
    access = _properties(etc / "access-control.properties")
    assert access == {"access-control.name": "file", "security.config-file": str(etc / "rules.json")}
    json.loads((etc / "rules.json").read_text(encoding="utf-8"))


def _rules(tmp_path, **settings) -> dict:
    settings = {"trino_user": "workbench", "trino_admin_user": "admin", **settings}
    service = TrinoService(Settings(var_dir=tmp_path / "var", cache_dir=tmp_path / "cache", **settings))
    service.prepare()
    return json.loads((service.state_dir / "etc" / "rules.json").read_text(encoding="utf-8"))


def test_everyone_but_the_admin_may_only_select_from_the_two_catalogs(tmp_path):
    rules = _rules(tmp_path)
    admin = "admin"

    def others(section: str) -> list[dict]:
        """The rules that can match a user other than the admin (no user given: every user)."""
        return [rule for rule in rules.get(section, []) if rule.get("user", ".*") != admin]

    assert others("catalogs") == [{"catalog": "mongodb|postgresql|system", "allow": "read-only"}]
    assert others("tables") == [{"catalog": "mongodb|postgresql|system", "privileges": ["SELECT"]}]
    assert others("schemas") == [{"owner": False}]
    assert others("queries") == [{"allow": ["execute"]}]  # their own queries only
    # present and admin-only: when a section is present, a user no rule matches is refused
    for section in ("functions", "procedures", "system_information"):
        assert rules[section] and not others(section), section
    assert [r["original_user"] for r in rules["authorization"]] == [admin]
    # the admin's rules come first (the first matching rule applies) and give everything
    assert rules["catalogs"][0] == {"user": admin, "allow": "all"}
    assert rules["schemas"][0] == {"user": admin, "owner": True}
    assert set(rules["tables"][0]["privileges"]) == {"SELECT", "INSERT", "DELETE", "UPDATE", "OWNERSHIP",
                                                     "GRANT_SELECT"}


def test_the_admin_name_is_matched_literally(tmp_path):
    rules = _rules(tmp_path, trino_admin_user="ops.admin+1")
    pattern = rules["catalogs"][0]["user"]

    assert re.fullmatch(pattern, "ops.admin+1")
    assert not re.fullmatch(pattern, "opsXadmin1")


def test_the_admin_cannot_be_the_analysis_user(tmp_path):
    service = TrinoService(Settings(var_dir=tmp_path, cache_dir=tmp_path, trino_user="ana", trino_admin_user="ana"))

    with pytest.raises(WorkbenchError) as caught:
        service.prepare()

    assert "WB_TRINO_ADMIN_USER" in caught.value.fix
