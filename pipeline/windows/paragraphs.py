"""The Flink SQL paragraphs of ``flink_studio/``: one source for the local job and the Studio note.

Each ``NN_name.sql`` file is one paragraph. Flink SQL cannot bind parameters in DDL, so the files
carry named placeholders (``${stream}``) filled only from the settings, each value quoted as a SQL
string literal. What differs between the local run and Studio (endpoint,
start position, JDBC URL and credentials, connector name) is a ``${name}`` placeholder, filled here
from the settings as a quoted SQL literal. Two sets of values exist:

- ``local_values``: the local stack (moto endpoint, local PostgreSQL, the generated password);
- ``studio_values``: what a Studio note may carry. No endpoint option, the RDS JDBC URL from the
  settings, and secrets as visible markers (``'{{JDBC_PASSWORD}}'``) that ``flink deploy`` fills in
  memory when it imports the note, so the rendered file never holds a password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pipeline.common.templates import render
from pipeline.settings import PROJECT_ROOT, Settings
from pipeline.windows import sketch

STUDIO_DIR = PROJECT_ROOT / "flink_studio"
# Secret markers of a Studio note; flink deploy replaces each (quotes included) with the value.
SECRET_MARKERS = {"jdbc_password": "{{JDBC_PASSWORD}}"}


def sql_literal(value: object) -> str:
    """A Flink SQL string literal: single quotes doubled, so a value cannot end the literal."""
    return "'" + str(value).replace("'", "''") + "'"


def connector_values(settings: Settings) -> dict[str, str]:
    """Placeholder values for the Kinesis and JDBC connector options, from the settings."""
    local = settings.is_local
    values = {
        "kinesis_connector": "kinesis",
        "stream": settings.stream_name,
        "region": settings.region,
        # Locally the job process carries dummy keys in its environment; on AWS the default chain.
        "credentials_provider": "ENV_VAR" if local else "AUTO",
        "jdbc_url": settings.jdbc_url,
        "jdbc_user": settings.postgres_user,
        "jdbc_password": settings.pg_password,
    }
    return {key: sql_literal(value) for key, value in values.items()} | {
        # Only the local endpoint gets an explicit option; on AWS the connector finds the region's.
        "endpoint_option": f"'aws.endpoint' = {sql_literal(settings.kinesis_endpoint)}," if local else "",
    }


def render_statements(path: Path, values: dict[str, str]) -> list[str]:
    """The statements of a ``.sql`` file, placeholders filled, split on ``;`` at line ends."""
    text = re.sub(r"^\s*--.*$", "", path.read_text(encoding="utf-8"), flags=re.MULTILINE)
    text = render(text, values)
    return [stmt.strip() for stmt in re.split(r";\s*$", text, flags=re.MULTILINE) if stmt.strip()]


@dataclass(frozen=True)
class Paragraph:
    path: Path

    @property
    def title(self) -> str:
        """'01_source_log_input.sql' -> 'source log input'."""
        return self.path.stem.split("_", 1)[-1].replace("_", " ")

    def statements(self, values: dict[str, str]) -> list[str]:
        return render_statements(self.path, values)

    @property
    def is_insert(self) -> bool:
        """True for the paragraph holding the INSERTs (they run together, as one job)."""
        return any(s.upper().startswith("INSERT") for s in self.statements(_DUMMY_VALUES))


def paragraphs(folder: Path = STUDIO_DIR) -> list[Paragraph]:
    """The paragraphs in file-name order (the order they must run in)."""
    found = [Paragraph(p) for p in sorted(folder.glob("*.sql"))]
    if not found:
        raise FileNotFoundError(f"no Flink SQL paragraphs (*.sql) in {folder}")
    return found


def source_paragraph(folder: Path = STUDIO_DIR) -> Paragraph:
    """The paragraph that declares the Kinesis source ``log_input``: every local job reads through it."""
    for paragraph in paragraphs(folder):
        if "log_input" in paragraph.path.read_text(encoding="utf-8") and "source" in paragraph.path.stem:
            return paragraph
    raise FileNotFoundError(f"no source paragraph (*source*.sql declaring log_input) in {folder}")


def interval_hms(seconds: int) -> str:
    """'H:MM:SS' for ``INTERVAL '...' HOUR TO SECOND``.

    ``INTERVAL 'n' SECOND`` holds at most 99 seconds (SECOND(2)), and Flink refuses a wider SECOND(p);
    HOUR TO SECOND takes up to 99 hours, enough for a backfill's watermark bound.
    """
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


# The event time of a record that is not a log: before any timestamp the contract accepts (1970 on,
# at most a day's offset earlier in UTC), so the view `logs` can tell them apart, and too early to
# ever move the watermark.
NOT_A_LOG = "TIMESTAMP '1969-01-01 00:00:00.000'"


def contract_values(settings: Settings) -> dict[str, str]:
    """The record contract's values the source paragraph needs beside the function ``log_time`` (whose
    jar carries the contract's patterns and limits, ``pipeline/windows/udf.py``)."""
    return {
        "clock_skew_tolerance": sql_literal(interval_hms(settings.clock_skew_tolerance_s)),
        "not_a_log": NOT_A_LOG,
    }


def _common_values(settings: Settings) -> dict[str, str]:
    return contract_values(settings) | sketch.sql_values() | {
        "watermark_bound": sql_literal(interval_hms(settings.watermark_bound_s)),
        "initpos": sql_literal(settings.flink_initpos),
        "jdbc_flush_rows": sql_literal(settings.flink_jdbc_flush_rows),
    }


def local_values(settings: Settings, stream: str | None = None) -> dict[str, str]:
    """Placeholder values for a run on this machine (or a job started against AWS from here)."""
    values = connector_values(settings) | _common_values(settings)
    if stream:
        values["stream"] = sql_literal(stream)
    return values


def studio_values(settings: Settings) -> dict[str, str]:
    """Placeholder values for a Studio note: Studio's own options, no local endpoint, no secret."""
    return _common_values(settings) | {
        "kinesis_connector": sql_literal("kinesis"),
        "stream": sql_literal(settings.stream_name),
        "region": sql_literal(settings.region),
        "endpoint_option": "",
        "credentials_provider": sql_literal("AUTO"),  # Studio's service role
        "jdbc_url": sql_literal(studio_jdbc_url(settings)),
        "jdbc_user": sql_literal(settings.postgres_user),
        "jdbc_password": sql_literal(SECRET_MARKERS["jdbc_password"]),
    }


def studio_jdbc_url(settings: Settings) -> str:
    """The JDBC URL Studio connects to: WB_STUDIO_JDBC_URL, else the URL of WB_POSTGRES_HOST.

    A loopback host is useless (and misleading) in a Studio note, so it becomes a marker.
    """
    if settings.studio_jdbc_url:
        return settings.studio_jdbc_url
    if settings.postgres_host and settings.postgres_host not in ("127.0.0.1", "localhost", "::1"):
        return settings.jdbc_url
    return f"jdbc:postgresql://{{{{RDS_ENDPOINT}}}}:5432/{settings.postgres_database}"


_DUMMY_VALUES = {name: "''" for name in (
    "kinesis_connector", "stream", "region", "endpoint_option", "credentials_provider", "initpos",
    "watermark_bound", "jdbc_url", "jdbc_user", "jdbc_password", "jdbc_flush_rows", "clock_skew_tolerance",
    "not_a_log", "sketch_ln_gamma", "sketch_min_ms", "sketch_zero_bucket")}
