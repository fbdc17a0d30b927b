"""The chart every stage's notebook draws: a value per minute, a line per service."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def per_minute_chart(frame: pd.DataFrame, value: str, title: str, time_column: str = "minute",
                     by: str = "service", ax: Axes | None = None) -> Axes:
    """A line per ``by`` group of ``value`` over ``time_column``: the shape of traffic at a glance."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.5))
    numeric = frame.assign(**{value: pd.to_numeric(frame[value], errors="coerce")})  # Decimal/None from SQL
    pivot = numeric.pivot_table(index=time_column, columns=by, values=value, aggfunc="sum").sort_index()
    pivot.plot(ax=ax, linewidth=1.4)
    ax.set_title(title)
    ax.set_xlabel("")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small", ncol=min(6, len(pivot.columns)))
    return ax
