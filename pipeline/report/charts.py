"""The incident report's chart: one service's error rate and p95 latency, its incidents shaded."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def incident_chart(minutes: pd.DataFrame, found: pd.DataFrame, service: str) -> Axes:
    """Error rate and p95 latency of one service per minute, its incidents shaded."""
    import matplotlib.pyplot as plt

    rows = minutes[minutes["service"] == service].sort_values("minute")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 4.5), sharex=True)
    top.plot(rows["minute"], rows["status_5xx"] / rows["requests"], color="tab:red", linewidth=1.4)
    top.set_ylabel("5xx rate")
    bottom.plot(rows["minute"], rows["p95"], color="tab:blue", linewidth=1.4)
    bottom.set_ylabel("p95 latency (ms)")
    for _, incident in found[found["service"] == service].iterrows():
        for ax in (top, bottom):
            ax.axvspan(incident["start"], incident["end"], color="orange", alpha=0.25)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    title = service.replace("$", r"\$")  # a log's "$...$" is text, not mathtext (which may not even parse)
    top.set_title(f"{title}: per minute (shaded: incident)")
    fig.tight_layout()
    return top
