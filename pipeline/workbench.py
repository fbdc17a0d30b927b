"""Small helpers the notebooks call: tables and charts, so a notebook cell stays one line."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from pipeline.settings import Settings

if TYPE_CHECKING:
    from matplotlib.axes import Axes

# Settings a reader of the overview cares about; secrets are never shown.
_SHOWN = ("profile", "region", "stream_name", "shard_count", "kinesis_endpoint", "mongodb_database",
          "raw_collection", "quarantine_collection", "postgres_database", "postgres_user", "jdbc_url",
          "trino_url", "function_name", "batch_size", "watermark_bound_s")


def stack_table(settings: Settings) -> pd.DataFrame:
    """One row per server: what it stands in for, where it listens, whether it answers."""
    from pipeline.stack import manager

    rows = manager.status(settings)
    return pd.DataFrame([{"service": r.name, "stands in for": r.stands_in_for, "address": r.address,
                          "state": r.state, "note": r.note} for r in rows]).set_index("service")


def settings_table(settings: Settings) -> pd.DataFrame:
    """The settings every step reads, secrets left out."""
    values = {name: getattr(settings, name, None) for name in _SHOWN}
    return pd.DataFrame({"value": [str(v) for v in values.values()]}, index=pd.Index(values, name="setting"))


def per_minute_chart(frame: pd.DataFrame, value: str, title: str, time_column: str = "minute",
                     by: str = "service", ax: Axes | None = None) -> Axes:
    """A line per ``by`` group of ``value`` over ``time_column``: the shape of traffic at a glance."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.5))
    pivot = frame.pivot_table(index=time_column, columns=by, values=value, aggfunc="sum").sort_index()
    pivot.plot(ax=ax, linewidth=1.4)
    ax.set_title(title)
    ax.set_xlabel("")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small", ncol=min(6, len(pivot.columns)))
    return ax
