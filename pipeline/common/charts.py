"""The charts the stages' notebooks draw: a value per minute, a line per service; shares side by side."""

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


def share_chart(frame: pd.DataFrame, label: str, title: str,
                shares: tuple[str, str] = ("window_share", "baseline_share"), ax: Axes | None = None) -> Axes:
    """Paired horizontal bars per row of ``frame``: its share in the window against its share in the
    baseline (what makes a contributor stand out). Labels are log content: drawn as plain text."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 0.5 + 0.45 * max(1, len(frame))))
    rows = frame.iloc[::-1]  # the first row on top
    names = [str(value)[:60].replace("$", r"\$") for value in rows[label]]  # "$...$" is text, not mathtext
    positions = range(len(rows))
    ax.barh([p + 0.2 for p in positions], rows[shares[0]], height=0.4, label=shares[0].replace("_", " "))
    ax.barh([p - 0.2 for p in positions], rows[shares[1]], height=0.4, label=shares[1].replace("_", " "), alpha=0.6)
    ax.set_yticks(list(positions), names, fontsize="small")
    ax.set_xlim(0, 1)
    ax.set_title(title.replace("$", r"\$"))
    ax.grid(alpha=0.3, axis="x")
    ax.legend(loc="lower right", fontsize="small")
    return ax
