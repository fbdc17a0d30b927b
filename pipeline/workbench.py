"""Small helpers the notebooks call: tables and charts, so a notebook cell stays one line."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
    numeric = frame.assign(**{value: pd.to_numeric(frame[value], errors="coerce")})  # Decimal/None from SQL
    pivot = numeric.pivot_table(index=time_column, columns=by, values=value, aggfunc="sum").sort_index()
    pivot.plot(ax=ax, linewidth=1.4)
    ax.set_title(title)
    ax.set_xlabel("")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize="small", ncol=min(6, len(pivot.columns)))
    return ax


# --- steps the notebooks and the demo run --------------------------------------------------------
def run_cli(*argv: str) -> str:
    """Run a ``python -m pipeline`` command in this process and return what it printed.

    The notebooks call the same commands a terminal user types, so there is one code path; a
    failing command raises with its own error message.
    """
    import contextlib
    import io

    from pipeline.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    print(out.getvalue(), end="")
    if code != 0:
        raise RuntimeError(f"'python -m pipeline {' '.join(argv)}' failed (exit {code}):\n{err.getvalue()}")
    return out.getvalue()


def backfill_range(minutes: int, end: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """The last ``minutes`` whole minutes before ``end`` (default: now), in UTC."""
    end = (end or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(second=0, microsecond=0)
    return end - dt.timedelta(minutes=minutes), end


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class GeneratedRun:
    run_id: str
    truth: dict[str, Any]
    sent: pd.DataFrame  # per minute and service: records, server_errors, p95_latency_ms


def generate_logs(settings: Settings, scenario: str = "payment-outage", count: int = 20_000, minutes: int = 60,
                  seed: int = 7, bad_fraction: float = 0.01, params: dict[str, Any] | None = None) -> GeneratedRun:
    """A backfill of the last ``minutes`` into Kinesis, with what was sent as a per-minute table."""
    from pipeline.generator import GeneratorConfig, generate
    from pipeline.ground_truth import read_ground_truth
    from pipeline.scenarios import make_scenario

    start, end = backfill_range(minutes)
    argv = ["generate", "--scenario", scenario, "--count", str(count), "--seed", str(seed),
            "--bad-fraction", str(bad_fraction), "--start", _iso(start), "--end", _iso(end), "--no-progress"]
    for key, value in (params or {}).items():
        argv += ["-p", f"{key}={value}"]
    output = run_cli(*argv)
    run_id = next(line.split("run_id: ", 1)[1] for line in output.splitlines() if line.startswith("run_id: "))
    # The generator is deterministic: the same arguments give the records that were sent.
    config = GeneratorConfig(count=count, seed=seed, bad_fraction=bad_fraction, start=start, end=end,
                             scenario=make_scenario(scenario, {k: str(v) for k, v in (params or {}).items()}))
    records = pd.DataFrame([e.record for e in generate(config) if e.record is not None])
    records["minute"] = pd.to_datetime(records["timestamp"]).dt.tz_localize(None).dt.floor("min")
    records["server_error"] = records["status"] >= 500
    sent = records.groupby(["minute", "service"]).agg(
        records=("status", "size"), server_errors=("server_error", "sum"),
        p95_latency_ms=("latency_ms", lambda s: s.quantile(0.95))).reset_index()
    return GeneratedRun(run_id, read_ground_truth(settings, run_id), sent)


def latest_run(settings: Settings) -> dict[str, Any] | None:
    """The ground truth of the newest generator run, or None."""
    from pipeline.ground_truth import runs_dir

    files = sorted(runs_dir(settings).glob("*/ground_truth.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(files[-1].read_text(encoding="utf-8")) if files else None


def analysis_range(settings: Settings, start: str | None, end: str | None) -> tuple[dt.datetime, dt.datetime]:
    """The range a notebook analyses: the given one, else the newest generator run's."""
    if start and end:
        parsed = [dt.datetime.fromisoformat(v.replace("Z", "+00:00")) for v in (start, end)]
        return tuple(p if p.tzinfo else p.replace(tzinfo=dt.UTC) for p in parsed)  # type: ignore[return-value]
    run = latest_run(settings)
    if run is None:
        raise ValueError("no time range given and no generator run found: pass start and end, "
                         "or run 'python -m pipeline generate' first")
    return analysis_range(settings, run["range"]["start"], run["range"]["end"])


def raw_sample(settings: Settings, start: dt.datetime, end: dt.datetime, limit: int = 8) -> pd.DataFrame:
    """A few raw logs as the Lambda stored them (newest first), straight from MongoDB."""
    from pymongo import DESCENDING, MongoClient

    from pipeline.analysis.layout import raw_sources

    rows: list[dict[str, Any]] = []
    with MongoClient(settings.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        database = client[settings.mongodb_database]
        for name in reversed(raw_sources(settings, start, end)):
            rows += list(database[name].find({}, {"kinesis": 0}).sort("timestamp", DESCENDING).limit(limit - len(rows)))
            if len(rows) >= limit:
                break
    return pd.DataFrame(rows)


def quarantine_summary(settings: Settings) -> pd.DataFrame:
    """Quarantined records by reason (the first words of it), with one example each."""
    from pymongo import MongoClient

    with MongoClient(settings.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        docs = list(client[settings.mongodb_database][settings.quarantine_collection].find({}, {"raw": 1, "reason": 1}))
    if not docs:
        return pd.DataFrame(columns=["reason", "records", "example"])
    frame = pd.DataFrame({"reason": [d["reason"].split(":")[0] for d in docs],
                          "example": [bytes(d["raw"])[:80].decode("utf-8", "replace") for d in docs]})
    return frame.groupby("reason").agg(records=("example", "size"), example=("example", "first")).reset_index()


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
    top.set_title(f"{service}: per minute (shaded: incident)")
    fig.tight_layout()
    return top
