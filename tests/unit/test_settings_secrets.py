"""Generated local secrets: created whole in a private folder, and a damaged file is an error with its fix,
never an empty password."""

from __future__ import annotations

import os
import stat

import pytest

from pipeline.common.errors import WorkbenchError
from pipeline.settings import Settings, local_secret, private_dir


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch):
    """The secrets must come from the files here, not from WB_* variables of the shell that runs the tests."""
    for name in [n for n in os.environ if n.startswith("WB_") or n == "MONGODB_URI"]:
        monkeypatch.delenv(name)


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_secret_is_whole_and_private_in_a_private_folder(tmp_path):
    path = tmp_path / "secrets" / "postgres_password"

    value = local_secret(path, variable="WB_POSTGRES_PASSWORD")

    assert len(value) >= 24 and path.read_text(encoding="utf-8") == value + "\n"
    assert _mode(path) == 0o600
    assert _mode(path.parent) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["postgres_password"]  # no temporary file left
    assert local_secret(path) == value


def test_an_existing_secrets_folder_open_to_others_is_narrowed(tmp_path):
    folder = tmp_path / "secrets"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    (folder / "postgres_password").write_text("A" * 32 + "\n", encoding="utf-8")

    assert Settings(var_dir=tmp_path).pg_password == "A" * 32
    assert _mode(folder) == 0o700


@pytest.mark.parametrize(("content", "damage"), [
    (b"", "is empty"),
    (b"\n", "is empty"),
    (b"abc def ghi jkl mno pqr\n", "more than one word"),
    (b"\x00" * 32, "control characters"),
    (b"\xff\xfe\xfa" * 10, "is not text"),
    (b"tooShort\n", "shorter than 16"),
])
def test_a_damaged_secret_is_an_error_naming_the_file_and_the_fix(tmp_path, content, damage):
    folder = tmp_path / "secrets"
    folder.mkdir()
    path = folder / "postgres_password"
    path.write_bytes(content)  # as a crash between creating and writing the file left it

    with pytest.raises(WorkbenchError) as caught:
        _ = Settings(var_dir=tmp_path).pg_password

    assert str(path) in caught.value.problem and damage in caught.value.problem
    assert f"delete {path}" in caught.value.fix and "make up" in caught.value.fix
    assert "WB_POSTGRES_PASSWORD" in caught.value.fix


def test_the_reader_secret_names_its_own_variable(tmp_path):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "trino_reader_password").write_text("", encoding="utf-8")

    with pytest.raises(WorkbenchError, match="trino_reader_password is empty") as caught:
        _ = Settings(var_dir=tmp_path).reader_password
    assert "WB_TRINO_READER_PASSWORD" in caught.value.fix


def test_the_variable_wins_over_a_damaged_file(tmp_path, monkeypatch):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "postgres_password").write_text("", encoding="utf-8")
    monkeypatch.setenv("WB_POSTGRES_PASSWORD", "from-the-environment")

    assert Settings(var_dir=tmp_path).pg_password == "from-the-environment"


def test_a_secret_created_meanwhile_by_another_process_is_read_not_replaced(tmp_path, monkeypatch):
    path = tmp_path / "secrets" / "postgres_password"
    real_link = os.link

    def racing_link(source, target):  # another process wins the race just before our link
        path.write_text("B" * 32 + "\n", encoding="utf-8")
        return real_link(source, target)

    monkeypatch.setattr(os, "link", racing_link)

    assert local_secret(path) == "B" * 32
    assert [p.name for p in path.parent.iterdir()] == ["postgres_password"]


def test_private_dir_creates_and_narrows(tmp_path):
    created = private_dir(tmp_path / "a" / "b")
    assert _mode(created) == 0o700
    created.chmod(0o777)
    private_dir(created)
    assert _mode(created) == 0o700
