"""Placeholders of the Flink SQL files are filled from settings, and values cannot break out."""

from __future__ import annotations

from pipeline.settings import Settings
from pipeline.windows import stream_copy
from pipeline.windows.paragraphs import connector_values, local_values, source_paragraph, sql_literal


def test_sql_literal_doubles_quotes():
    assert sql_literal("it's") == "'it''s'"


def test_stream_copy_reads_through_the_window_jobs_source_paragraph(tmp_path, monkeypatch):
    monkeypatch.setenv("WB_POSTGRES_PASSWORD", "pa'ss")
    s = Settings(var_dir=tmp_path, flink_initpos="LATEST")
    copy = stream_copy.statements(s, "log-stream", "t1")
    source = source_paragraph().statements(local_values(s, "log-stream"))

    # The same DDL as the window job's, differing only in where it starts reading.
    assert len(copy) == len(source) + 2
    assert [c.replace("'TRIM_HORIZON'", "'LATEST'") for c in copy[:len(source)]] == source
    create = next(c for c in copy if c.startswith("CREATE TEMPORARY TABLE log_input"))
    for option in ("'connector' = 'kinesis'", "'stream' = 'log-stream'", "'aws.region' = 'us-east-1'",
                   "'scan.stream.initpos' = 'TRIM_HORIZON'", f"'aws.endpoint' = '{s.kinesis_endpoint}'",
                   "METADATA FROM 'shard-id'", "METADATA FROM 'sequence-number'"):
        assert option in create
    assert "'password' = 'pa''ss'" in copy[-2] and "'table-name' = 't1'" in copy[-2]
    assert copy[-1].startswith("INSERT INTO copy_sink")
    # The copy's own file declares no source of its own.
    assert "log_input (" not in stream_copy.SQL_FILE.read_text(encoding="utf-8")


def test_aws_profile_renders_no_endpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("WB_POSTGRES_PASSWORD", "x")
    values = connector_values(Settings(profile="aws", var_dir=tmp_path))
    assert values["endpoint_option"] == ""
    assert values["credentials_provider"] == "'AUTO'"
