"""Superset's configuration in the workbench's stack (read by Superset through SUPERSET_CONFIG_PATH).

Nothing secret is written here or in any file: the secret key and the metadata database's URI reach the
Superset process through its environment, set by ``pipeline/stack/superset.py`` from ``var/secrets/``.
This file runs inside Superset's own environment, not the workbench's: it imports nothing of ``pipeline``.
"""

from __future__ import annotations

import datetime as dt
import os
import re

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = os.environ["SUPERSET_METADATA_URI"]

# Dataset SQL may use Jinja ({{ raw_logs(from_dttm, to_dttm) }} below, {{ from_dttm }}).
FEATURE_FLAGS = {"ENABLE_TEMPLATE_PROCESSING": True, "DASHBOARD_RBAC": False}

# Live dashboards: chart data is never served from a cache (the window tables change every minute);
# Superset's own metadata may be.
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 60}
FILTER_STATE_CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 86400}
EXPLORE_FORM_DATA_CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 86400}

# Served on loopback by gunicorn; no example data, no anonymous access.
PUBLIC_ROLE_LIKE = None
SUPERSET_WEBSERVER_TIMEOUT = 120
SQLLAB_TIMEOUT = 120
ROW_LIMIT = 10000
# Superset's Flask-Limiter keeps its counters in memory: one process, so that is enough.
RATELIMIT_STORAGE_URI = "memory://"
# A log line is data: the bundle's tables never render HTML (allow_render_html false), so a line that is
# markup shows as text (the table also runs it through an XSS filter that drops attributes such as
# onerror=..., so such a line shows shortened; the chart data API returns it verbatim).
HTML_SANITIZATION = True
# The dashboards are live: an auto-refresh of 10 s is allowed without a warning.
SUPERSET_DASHBOARD_PERIODICAL_REFRESH_LIMIT = 0
SUPERSET_DASHBOARD_PERIODICAL_REFRESH_WARNING_MESSAGE = None

# Where the raw logs are (one MongoDB collection per UTC hour, as the Lambda stores them): the
# workbench's settings, passed through the environment.
_RAW_SCHEMA = os.environ.get("WB_DASHBOARD_RAW_SCHEMA", "logs")
_RAW_COLLECTION = os.environ.get("WB_DASHBOARD_RAW_COLLECTION", "raw_logs")
_RAW_BUCKETED = os.environ.get("WB_DASHBOARD_RAW_BUCKET", "hour") == "hour"
_MAX_HOURS = 24
_NAME = re.compile(r"[A-Za-z0-9_]+")


def _quoted(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"unexpected collection or schema name {name!r}")
    return f'"{name}"'


def _existing_buckets() -> set[str]:
    """The hourly collections that exist, asked of Trino as the dashboards' read-only user: a UNION
    naming a collection that does not exist would fail the whole chart."""
    from superset.extensions import db
    from superset.models.core import Database

    _quoted(_RAW_SCHEMA), _quoted(_RAW_COLLECTION)  # plain names only: they are pasted into the SQL below
    database = db.session.query(Database).filter_by(database_name="Trino").one()
    with database.get_sqla_engine() as engine, engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT table_name FROM mongodb.information_schema.tables WHERE table_schema = "
            f"'{_RAW_SCHEMA}' AND table_name LIKE '{_RAW_COLLECTION}%'").fetchall()
    return {row[0] for row in rows}


def _moment(value: dt.datetime | str | None) -> dt.datetime | None:
    """Superset hands a template from_dttm/to_dttm as ISO strings (or None for an open end)."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))
    return moment.astimezone(dt.UTC).replace(tzinfo=None) if moment.tzinfo else moment


def raw_logs(from_dttm: dt.datetime | str | None = None, to_dttm: dt.datetime | str | None = None) -> str:
    """A FROM clause over the raw logs of [from_dttm, to_dttm) (default: the last two hours): a UNION of
    the hourly collections that overlap it, at most the last 24 of them. Only existing collections are
    named; with none, an empty relation of the same columns."""
    columns = '_id AS event_id, "timestamp" AS ts, service, status, message, latency_ms, host'
    schema = _quoted(_RAW_SCHEMA)
    if not _RAW_BUCKETED:
        return f"(SELECT {columns} FROM mongodb.{schema}.{_quoted(_RAW_COLLECTION)})"
    last = _moment(to_dttm) or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    end = (last - dt.timedelta(microseconds=1)).replace(minute=0, second=0, microsecond=0)
    start = _moment(from_dttm) or end - dt.timedelta(hours=1)
    start = max(start.replace(minute=0, second=0, microsecond=0), end - dt.timedelta(hours=_MAX_HOURS - 1))
    wanted = []
    hour = start
    while hour <= end:
        wanted.append(f"{_RAW_COLLECTION}_{hour:%Y%m%d%H}")
        hour += dt.timedelta(hours=1)
    existing = _existing_buckets()
    parts = [f"SELECT {columns} FROM mongodb.{schema}.{_quoted(name)}" for name in wanted if name in existing]
    if not parts:
        return ("(SELECT CAST(NULL AS varchar) AS event_id, CAST(NULL AS timestamp(3)) AS ts, "
                "CAST(NULL AS varchar) AS service, CAST(NULL AS bigint) AS status, "
                "CAST(NULL AS varchar) AS message, CAST(NULL AS double) AS latency_ms, "
                "CAST(NULL AS varchar) AS host WHERE false)")
    return "(" + " UNION ALL ".join(parts) + ")"


def log_source() -> str:
    """The name the template miner and the alert watcher file this store's rows under (its ``source``)."""
    return f"{_RAW_SCHEMA}.{_RAW_COLLECTION}"


JINJA_CONTEXT_ADDONS = {"raw_logs": raw_logs, "log_source": log_source}
