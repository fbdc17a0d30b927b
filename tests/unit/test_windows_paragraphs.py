"""The paragraphs render for both targets from the settings; the Studio note is clean."""

from __future__ import annotations

import json

import pytest

from pipeline.settings import Settings
from pipeline.windows.note import fill_secrets, render_note, unfilled_markers, write_note
from pipeline.windows.paragraphs import local_values, paragraphs, studio_values


@pytest.fixture
def settings(tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("WB_POSTGRES_PASSWORD", "s3cr'et-pw")
    return Settings(var_dir=tmp_path, watermark_bound_s=7)


def test_paragraphs_are_the_sql_files_in_order():
    names = [p.path.name for p in paragraphs()]
    assert names == sorted(names)
    assert [p.is_insert for p in paragraphs()] == [False, False, False, False, False, True]


def test_no_host_password_or_account_written_in_a_paragraph():
    for paragraph in paragraphs():
        text = paragraph.path.read_text(encoding="utf-8")
        for forbidden in ("127.0.0.1", "localhost", "jdbc:postgresql:", "amazonaws.com", "123456789012"):
            assert forbidden not in text, (paragraph.path.name, forbidden)


def test_local_values_fill_every_placeholder_with_the_local_endpoint(settings):
    values = local_values(settings, stream="other-stream")
    rendered = "\n".join(s for p in paragraphs() for s in p.statements(values))
    assert f"'aws.endpoint' = '{settings.kinesis_endpoint}'" in rendered
    assert "'stream' = 'other-stream'" in rendered
    assert "INTERVAL '0:00:07' HOUR TO SECOND" in rendered
    assert "'password' = 's3cr''et-pw'" in rendered  # quoted: the value cannot end the literal
    assert "TUMBLE(TABLE logs, DESCRIPTOR(ts), INTERVAL '1' MINUTE)" in rendered
    assert "PROCTIME" not in rendered


def test_studio_values_have_no_endpoint_and_no_secret(settings):
    values = studio_values(settings)
    assert values["endpoint_option"] == ""
    assert "s3cr" not in json.dumps(values)
    assert values["credentials_provider"] == "'AUTO'"


def test_note_parses_has_one_paragraph_per_file_in_order_and_no_local_endpoint_or_secret(settings, tmp_path):
    path = write_note(settings, tmp_path / "note.zpln")
    note = json.loads(path.read_text(encoding="utf-8"))
    files = paragraphs()
    assert len(note["paragraphs"]) == len(files)
    for paragraph, file in zip(note["paragraphs"], files, strict=True):
        assert paragraph["text"].startswith("%flink.ssql")
        assert paragraph["title"] == file.title
        first_statement = file.statements(studio_values(settings))[0]
        assert first_statement.split("\n")[0] in paragraph["text"]
    assert note["paragraphs"][-1]["text"].startswith("%flink.ssql(runAsOne=true)")
    assert note["version"].startswith("0.10") and note["defaultInterpreterGroup"] == "flink"
    assert len({p["id"] for p in note["paragraphs"]}) == len(files)
    raw = path.read_text(encoding="utf-8")
    for forbidden in ("127.0.0.1", "localhost", "aws.endpoint", "s3cr", settings.kinesis_endpoint):
        assert forbidden not in raw
    assert "'connector' = 'kinesis'" in raw and "'scan.stream.initpos' = 'TRIM_HORIZON'" in raw


def test_note_is_stable_and_markers_are_filled_only_in_memory(settings):
    note = render_note(settings)
    assert note == render_note(settings)
    assert unfilled_markers(note) == ["{{JDBC_PASSWORD}}", "{{RDS_ENDPOINT}}"]
    filled = fill_secrets(note, {"jdbc_password": "pw'1"})
    assert "'password' = 'pw''1'" in filled["paragraphs"][1]["text"]
    assert "{{JDBC_PASSWORD}}" in note["paragraphs"][1]["text"]  # the original is untouched


def test_studio_jdbc_url_comes_from_the_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("WB_POSTGRES_PASSWORD", "x")
    s = Settings(var_dir=tmp_path, studio_jdbc_url="jdbc:postgresql://db.example.internal:5432/analytics")
    note = render_note(s)
    assert unfilled_markers(note) == ["{{JDBC_PASSWORD}}"]
    assert "db.example.internal" in note["paragraphs"][1]["text"]
