"""Shared helpers: moments as users type them, ${name} templates, atomic JSON files, errors, and the
settings passed on to another process as its environment."""

from __future__ import annotations

import datetime as dt
import json
import os

import pandas as pd
import pytest

from pipeline.common.errors import WorkbenchError
from pipeline.common.files import write_json_atomic
from pipeline.common.templates import NamedTemplate, render
from pipeline.common.times import iso_z, last_minutes, parse_moment, utc_naive
from pipeline.settings import Settings

NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)
IST = dt.timezone(dt.timedelta(hours=5, minutes=30))


# --- times ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "2026-11-27T10:00:00Z", "2026-11-27T10:00:00z", "2026-11-27T15:30:00+05:30", "2026-11-27T10:00:00",
    "  2026-11-27T10:00:00Z ", "now", "now-0s",
])
def test_parse_moment_means_the_same_moment_in_every_form(text):
    moment = parse_moment(text, now=NOW)
    assert moment == NOW
    assert moment.tzinfo is dt.UTC


@pytest.mark.parametrize(("text", "before"), [
    ("now-2h", dt.timedelta(hours=2)), ("-90m", dt.timedelta(minutes=90)), ("now-1d", dt.timedelta(days=1)),
    ("now-30s", dt.timedelta(seconds=30)), ("now-1.5h", dt.timedelta(minutes=90)),
])
def test_parse_moment_relative_to_now(text, before):
    assert parse_moment(text, now=NOW) == NOW - before


def test_parse_moment_converts_the_given_now_to_utc():
    assert parse_moment("now-1h", now=NOW.astimezone(IST)) == NOW - dt.timedelta(hours=1)
    assert parse_moment("now", now=NOW.replace(tzinfo=None)).tzinfo is dt.UTC


def test_parse_moment_without_now_uses_the_clock():
    before = dt.datetime.now(dt.UTC)
    assert before - dt.timedelta(hours=2) <= parse_moment("now-2h") <= dt.datetime.now(dt.UTC)


@pytest.mark.parametrize("text", ["yesterday", "", "now+2h", "now-2w", "2026-13-01T00:00:00Z", "10:00"])
def test_parse_moment_refuses_garbage_naming_the_accepted_forms(text):
    with pytest.raises(ValueError, match=r"^not an ISO-8601 time \(e\.g\. 2026-11-27T10:00:00Z\), 'now' or 'now-2h'"):
        parse_moment(text, now=NOW)


def test_parse_moment_without_relative_accepts_only_iso():
    assert parse_moment("2026-11-27T10:00:00Z", relative=False) == NOW
    for text in ("now-2h", "now", "-2h"):
        with pytest.raises(ValueError) as refused:
            parse_moment(text, relative=False, now=NOW)
        assert str(refused.value) == f"not an ISO-8601 time (e.g. 2026-11-27T10:00:00Z): {text!r}"


def test_iso_z_prints_utc_to_the_second():
    assert iso_z(NOW.replace(microsecond=999_999)) == "2026-11-27T10:00:00Z"
    assert iso_z(NOW.astimezone(IST)) == "2026-11-27T10:00:00Z"
    assert iso_z(dt.datetime(2026, 11, 27, 10, 0)) == "2026-11-27T10:00:00Z"
    assert parse_moment(iso_z(NOW)) == NOW


def test_last_minutes_are_whole_minutes_before_the_end():
    start, end = last_minutes(15, dt.datetime(2026, 11, 27, 15, 37, 42, 5, tzinfo=IST))
    assert end == dt.datetime(2026, 11, 27, 10, 7, tzinfo=dt.UTC)
    assert start == end - dt.timedelta(minutes=15)


def test_last_minutes_end_now_by_default():
    start, end = last_minutes(5)
    assert (end.second, end.microsecond, end.tzinfo) == (0, 0, dt.UTC)
    assert dt.datetime.now(dt.UTC) - end < dt.timedelta(minutes=1)
    assert end - start == dt.timedelta(minutes=5)


@pytest.mark.parametrize("moment", [
    NOW, NOW.astimezone(IST), dt.datetime(2026, 11, 27, 10, 0), "2026-11-27T10:00:00Z", "2026-11-27T15:30:00+05:30",
    "2026-11-27 10:00:00", pd.Timestamp("2026-11-27T10:00:00", tz="UTC"),
])
def test_utc_naive(moment):
    value = utc_naive(moment)
    assert value == dt.datetime(2026, 11, 27, 10, 0)
    assert type(value) is dt.datetime and value.tzinfo is None


# --- templates --------------------------------------------------------------------------------------
def test_render_fills_only_braced_names():
    text = "DO $$ BEGIN SELECT $1 FROM ${table_name} WHERE k = '${ENV:SECRET}' AND v = ${NAME_2}; END $$ $x"
    assert render(text, {"table_name": "logs", "NAME_2": 7}) == (
        "DO $$ BEGIN SELECT $1 FROM logs WHERE k = '${ENV:SECRET}' AND v = 7; END $$ $x")


def test_render_repeats_and_ignores_unused_values():
    assert render("${a}-${a}", {"a": "x", "unused": "y"}) == "x-x"


def test_missing_name_is_an_error_not_an_empty_string():
    with pytest.raises(KeyError, match="missing"):
        render("SELECT ${present}, ${missing}", {"present": 1})


def test_named_template_keeps_dollar_forms():
    assert NamedTemplate("$$ $1 $name ${ENV:X}").substitute({}) == "$$ $1 $name ${ENV:X}"
    assert NamedTemplate("${a}").safe_substitute({}) == "${a}"


# --- files ------------------------------------------------------------------------------------------
def test_write_json_atomic_writes_readable_json_and_no_temp_file(tmp_path):
    path = tmp_path / "nested" / "state.json"
    data = {"b": [1, 2.5, None], "a": "é"}

    assert write_json_atomic(path, data) == path
    assert json.loads(path.read_text(encoding="utf-8")) == data
    assert os.listdir(path.parent) == ["state.json"]

    write_json_atomic(path, {"z": 1, "a": 2}, indent=2, sort_keys=True)
    assert path.read_text(encoding="utf-8") == '{\n  "a": 2,\n  "z": 1\n}\n'
    assert os.listdir(path.parent) == ["state.json"]


def test_write_json_atomic_leaves_the_old_file_when_data_is_not_json(tmp_path):
    path = write_json_atomic(tmp_path / "state.json", {"v": 1})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"v": object()})
    assert json.loads(path.read_text(encoding="utf-8")) == {"v": 1}
    assert os.listdir(tmp_path) == ["state.json"]


# --- errors -----------------------------------------------------------------------------------------
def test_workbench_error_says_the_fix_only_when_there_is_one():
    with_fix = WorkbenchError("the stack is down", "run: python -m pipeline stack up")
    assert str(with_fix) == "the stack is down\n  fix: run: python -m pipeline stack up"
    assert (with_fix.problem, with_fix.fix) == ("the stack is down", "run: python -m pipeline stack up")

    without = WorkbenchError("the stack is down")
    assert str(without) == "the stack is down"
    assert "fix:" not in str(without) and without.fix == ""
    assert isinstance(without, RuntimeError)


# --- settings as an environment ----------------------------------------------------------------------
@pytest.fixture
def clean_environment(monkeypatch, tmp_path):
    """No WB_* variables of the shell, and no .env file: only what a test sets counts."""
    for name in [n for n in os.environ if n.startswith("WB_") or n == "MONGODB_URI"]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def test_environment_holds_overrides_and_secret_values(clean_environment):
    env = Settings(postgres_port=5433, mongodb_uri="mongodb://u:p@h/", studio_subnet_ids=["subnet-1"]).environment()

    assert env["WB_POSTGRES_PORT"] == "5433"
    assert env["MONGODB_URI"] == "mongodb://u:p@h/"
    assert "WB_MONGODB_URI" not in env
    assert env["WB_BISECT_BATCH_ON_ERROR"] == "true"
    assert env["WB_STUDIO_SUBNET_IDS"] == '["subnet-1"]'
    assert "WB_POSTGRES_PASSWORD" not in env  # None: left to the other process
    assert all(isinstance(value, str) for value in env.values())


def test_environment_rebuilds_equal_settings(clean_environment):
    original = Settings(postgres_port=5433, mongodb_uri="mongodb://u:p@h/", postgres_password="pw",
                        profile="aws", bisect_batch_on_error=False, studio_subnet_ids=["subnet-1", "subnet-2"],
                        startup_timeout_s=2.5)
    for name, value in original.environment().items():
        clean_environment.setenv(name, value)

    rebuilt = Settings()

    assert rebuilt.model_dump() == original.model_dump()
    assert rebuilt.mongo_uri == "mongodb://u:p@h/"
    assert rebuilt.pg_password == "pw"
