"""Placeholders of the Flink SQL files are filled from settings, and values cannot break out."""

from __future__ import annotations

from pipeline.flink_runtime import connector_values, render_statements, sql_literal
from pipeline.settings import Settings
from pipeline.stream_copy import SQL_FILE


def test_sql_literal_doubles_quotes():
    assert sql_literal("it's") == "'it''s'"


def test_stream_copy_renders_three_statements_with_studio_options(tmp_path, monkeypatch):
    monkeypatch.setenv("WB_POSTGRES_PASSWORD", "pa'ss")
    s = Settings(var_dir=tmp_path)
    values = connector_values(s) | {"stream": sql_literal("log-stream"), "table": sql_literal("t1")}

    statements = render_statements(SQL_FILE, values)

    assert len(statements) == 3
    source = statements[0]
    for option in ("'connector' = 'kinesis'", "'stream' = 'log-stream'", "'aws.region' = 'us-east-1'",
                   "'scan.stream.initpos' = 'TRIM_HORIZON'", f"'aws.endpoint' = '{s.kinesis_endpoint}'"):
        assert option in source
    assert "'password' = 'pa''ss'" in statements[1]
    assert statements[2].startswith("INSERT INTO copy_sink")


def test_aws_profile_renders_no_endpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("WB_POSTGRES_PASSWORD", "x")
    values = connector_values(Settings(profile="aws", var_dir=tmp_path))
    assert values["endpoint_option"] == ""
    assert values["credentials_provider"] == "'AUTO'"
