"""The stack and the settings at a glance: the tables notebook 1 shows."""

from __future__ import annotations

import pandas as pd

from pipeline.settings import Settings
from pipeline.stack import manager

# Settings a reader of the overview cares about; secrets are never shown.
_SHOWN = ("profile", "region", "stream_name", "shard_count", "kinesis_endpoint", "mongodb_database",
          "raw_collection", "quarantine_collection", "postgres_database", "postgres_user", "jdbc_url",
          "trino_url", "function_name", "batch_size", "watermark_bound_s")


def stack_table(settings: Settings) -> pd.DataFrame:
    """One row per server: what it stands in for, where it listens, whether it answers."""
    rows = manager.status(settings)
    return pd.DataFrame([{"service": r.name, "stands in for": r.stands_in_for, "address": r.address,
                          "state": r.state, "note": r.note} for r in rows]).set_index("service")


def settings_table(settings: Settings) -> pd.DataFrame:
    """The settings every step reads, secrets left out."""
    values = {name: getattr(settings, name, None) for name in _SHOWN}
    return pd.DataFrame({"value": [str(v) for v in values.values()]}, index=pd.Index(values, name="setting"))
