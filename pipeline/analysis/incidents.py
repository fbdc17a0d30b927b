"""Incident detection: stretches of minutes where a service departs from its own baseline.

Method (per service, on per-minute figures: requests, 5xx answers, p95 latency). Minutes missing
from the input (no requests) count as minutes with no requests.

Errors, a count model. The baseline 5xx rate ``p0`` is the service's pooled rate over its normal
minutes (all errors over all requests; with no error at all, half an error). Every stretch of up to
``max_stretch_min`` minutes is scored by the binomial log-likelihood ratio of its own rate against
``p0`` (``pipeline.analysis.changepoints``): a stretch of sparse errors in a quiet service adds up
its evidence minute by minute, where a per-minute rate of 1 in 5 says nothing. The best stretch is
kept when its ratio reaches ``scan_threshold`` nats, it lasts at least ``min_flagged_minutes``,
holds ``min_requests`` requests, raises the rate by ``min_rate_increase`` or more, is still
significant without its strongest minute (so a one-minute blip is refused, whatever its size),
and most of its minutes look raised on their own (two blips are not joined across the normal
minutes between them); then the scan repeats on the other minutes. Stretches at most
``merge_gap_min`` apart are joined. The per-minute score ``error_rate_z`` is the signed root of
twice the minute's own ratio.

Latency, a MAD z-score. Baseline = the median of log p95 over the service's judged minutes (at
least ``min_requests`` requests); spread = the MAD times 1.4826, taken on departures scaled by the
square root of each minute's requests and scaled back per minute, so a quiet night minute (whose
p95 is noisier) is not judged as strictly as a busy afternoon one; floor ``min_log_spread``. Latency
is judged on a log scale (a p95 twice as high is the same departure for a 20 ms and a 200 ms
service). A minute is flagged when its score exceeds ``z_threshold`` (3.5, Iglewicz and Hoaglin's
cut-off), or when the sum of the scores in a centred ``smooth_min``-minute window, divided by the
root of their number, does and its own score exceeds ``sustained_z`` (a creep is sustained), and
in both cases the p95 is at least ``min_latency_ratio`` times the baseline. A flagged minute with
no other within ``isolation_min`` minutes is dropped as noise; flagged minutes at most
``merge_gap_min`` apart form a stretch, which needs ``min_flagged_minutes`` flagged minutes.

Onsets of creeps. A steadily growing departure is flagged once it is plain, a third of the way up.
For every stretch, a departure of a jump plus a linear rise (a step, a creep from the baseline, or
both) that ends with the stretch is fitted from each onset up to ``ramp_lookback_min`` minutes
before the stretch; when the best onset explains the minutes better than the stretch's own start
by ``ramp_margin`` nats, the stretch starts there.

Baselines are re-estimated without the flagged minutes (and without refused blips) and everything
is judged again, until nothing changes (at most ``max_rounds``): an incident drags the baseline of
a short range, and removing it brings the baseline back to the service's normal. ``baseline_until``
instead takes the baselines from the minutes before a given moment; the range should in any case
hold more normal than abnormal minutes of each service. Only upward departures count. An incident
is a run of flagged minutes of one service (error or latency) at most ``merge_gap_min`` apart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from pipeline.analysis.changepoints import (
    Segment,
    binomial_llr,
    deviance_z,
    onset_rate,
    onset_z,
    scan_rate_segments,
)
from pipeline.common.times import utc_naive
from pipeline.settings import Settings

MAD_TO_SD = 1.4826
MINUTE = pd.Timedelta(minutes=1)
MINUTE_COLUMNS = ("service", "minute", "requests", "status_5xx", "error_rate", "p95",
                  "error_rate_baseline", "error_rate_z", "error_rate_flag",
                  "p95_baseline", "p95_z", "p95_flag", "flagged")
INCIDENT_COLUMNS = ("service", "start", "end", "flagged_minutes", "metrics", "error_rate_peak",
                    "error_rate_baseline", "p95_peak", "p95_baseline", "max_z", "evidence")


@dataclass(frozen=True)
class DetectionParams:
    z_threshold: float = 3.5
    min_requests: int = 20  # a latency minute needs this many requests; an error stretch in total
    scan_threshold: float = 15.0  # nats: an error stretch's likelihood ratio against the baseline
    max_stretch_min: int = 240  # longest error stretch scored at once (longer ones are found in parts)
    min_rate_increase: float = 0.02  # absolute: 2 percentage points of 5xx answers
    min_latency_ratio: float = 1.5
    min_log_spread: float = 0.05  # about 5 % of latency
    smooth_min: int = 5  # centred window of the sustained p95 score
    sustained_z: float = 2.0  # a minute's own p95 score needed when only the sustained score passes
    ramp_lookback_min: int = 30  # how much earlier than its step a creep's onset may be found
    ramp_margin: float = 2.0  # nats an earlier onset must explain better to move a stretch's start
    min_baseline_minutes: int = 5
    isolation_min: int = 2
    merge_gap_min: int = 5
    min_flagged_minutes: int = 2
    max_rounds: int = 5


def _robust(values: np.ndarray) -> tuple[float, float]:
    """(median, MAD * 1.4826) of the values, NaN when empty."""
    if len(values) == 0:
        return float("nan"), float("nan")
    median = float(np.median(values))
    return median, MAD_TO_SD * float(np.median(np.abs(values - median)))


def _join(segments: list[Segment], gap: int) -> list[tuple[int, int]]:
    """Segments at most ``gap`` minutes apart, joined; in time order."""
    joined: list[tuple[int, int]] = []
    for segment in sorted(segments, key=lambda s: s.start):
        if joined and segment.start - joined[-1][1] <= gap:
            joined[-1] = (joined[-1][0], max(joined[-1][1], segment.end))
        else:
            joined.append((segment.start, segment.end))
    return joined


def _flag(size: int, stretches: list[tuple[int, int]]) -> np.ndarray:
    flags = np.zeros(size, dtype=bool)
    for start, end in stretches:
        flags[start:end] = True
    return flags


class _ServiceJudge:
    """One service's minutes (a full minute grid, in order) judged against its own baselines."""

    def __init__(self, frame: pd.DataFrame, params: DetectionParams, reference: np.ndarray) -> None:
        self.params = params
        self.reference = reference
        self.requests = frame["requests"].to_numpy(dtype=float)
        self.errors = frame["status_5xx"].to_numpy(dtype=float)
        self.p95 = frame["p95"].to_numpy(dtype=float)
        self.judged = (self.requests >= params.min_requests) & ~np.isnan(self.p95)
        self.log_p95 = np.log(np.clip(np.nan_to_num(self.p95, nan=1.0), 1e-6, None))

    def judge(self) -> dict[str, np.ndarray | float]:
        """The output columns of the errors and the latency, from the last round."""
        size = len(self.requests)
        excluded = np.zeros(size, dtype=bool)
        columns: dict[str, np.ndarray | float] = {}
        for _ in range(self.params.max_rounds):
            normal = self.reference & ~excluded
            errors, error_flags, refused = self._errors(normal)
            latency, latency_flags = self._latency(normal)
            columns = {**errors, "error_rate_flag": error_flags, **latency, "p95_flag": latency_flags}
            now = error_flags | latency_flags | refused
            if np.array_equal(now, excluded):
                break
            excluded = now
        return columns

    def _errors(self, normal: np.ndarray) -> tuple[dict[str, np.ndarray | float], np.ndarray, np.ndarray]:
        """(baseline and score columns, flags, refused minutes: blips kept out of the baseline)."""
        params, size = self.params, len(self.requests)
        baseline = normal & (self.requests > 0)
        if baseline.sum() < params.min_baseline_minutes:
            nothing = np.zeros(size, dtype=bool)
            return {"error_rate_baseline": np.nan, "error_rate_z": np.full(size, np.nan)}, nothing, nothing
        total = float(self.requests[baseline].sum())
        p0 = min(max(float(self.errors[baseline].sum()), 0.5) / total, 0.5)
        segments, blocked = scan_rate_segments(
            self.errors, self.requests, p0, np.zeros(size, dtype=bool), threshold=params.scan_threshold,
            max_length=params.max_stretch_min, min_length=params.min_flagged_minutes,
            min_requests=params.min_requests, min_increase=params.min_rate_increase)
        stretches, previous_end = [], 0
        for start, end in _join(segments, params.merge_gap_min):
            llr = float(binomial_llr(np.array([self.errors[start:end].sum()]),
                                     np.array([self.requests[start:end].sum()]), p0)[0])
            earliest = max(previous_end, start - params.ramp_lookback_min)
            onset = onset_rate(self.errors, self.requests, p0, Segment(start, end, llr), earliest,
                               params.ramp_margin)
            stretches.append((onset, end))
            previous_end = end
        flags = _flag(size, stretches)
        return ({"error_rate_baseline": p0, "error_rate_z": deviance_z(self.errors, self.requests, p0)},
                flags, blocked & ~flags)

    def _latency(self, normal: np.ndarray) -> tuple[dict[str, np.ndarray | float], np.ndarray]:
        """(baseline and score columns, flags)."""
        params, size = self.params, len(self.requests)
        reference = self.judged & normal
        if reference.sum() < params.min_baseline_minutes:
            return {"p95_baseline": np.nan, "p95_z": np.full(size, np.nan)}, np.zeros(size, dtype=bool)
        median, _ = _robust(self.log_p95[reference])
        volume = np.sqrt(np.maximum(self.requests, 1.0))
        _, scaled_spread = _robust((self.log_p95[reference] - median) * volume[reference])
        spread = np.maximum(scaled_spread / volume, params.min_log_spread)
        z = np.where(self.judged, (self.log_p95 - median) / spread, np.nan)
        window = pd.Series(z).rolling(params.smooth_min, center=True, min_periods=3)
        sustained_z = (window.sum() / np.sqrt(window.count())).to_numpy()
        raised = self.p95 >= params.min_latency_ratio * np.exp(median)
        flagged = self.judged & raised & (
            (z > params.z_threshold) | ((sustained_z > params.z_threshold) & (z > params.sustained_z)))
        stretches, previous_end = [], 0
        for start, end in self._runs(np.flatnonzero(flagged)):
            earliest = max(previous_end, start - params.ramp_lookback_min)
            onset = onset_z(z, Segment(start, end, 0.0), earliest, params.ramp_margin)
            stretches.append((onset, end))
            previous_end = end
        return {"p95_baseline": float(np.exp(median)), "p95_z": z}, _flag(size, stretches)

    def _runs(self, positions: np.ndarray) -> list[tuple[int, int]]:
        """Flagged minutes without isolated ones, joined across gaps of ``merge_gap_min``, each run
        with ``min_flagged_minutes`` or more: (first, last + 1)."""
        params = self.params
        if len(positions) == 0:
            return []
        gaps = np.diff(positions)
        nearest = np.minimum(np.concatenate([[np.inf], gaps]), np.concatenate([gaps, [np.inf]]))
        positions = positions[nearest <= params.isolation_min]
        runs = []
        for run in np.split(positions, np.flatnonzero(np.diff(positions) > params.merge_gap_min) + 1):
            if len(run) >= params.min_flagged_minutes:
                runs.append((int(run[0]), int(run[-1]) + 1))
        return runs


def _full_minutes(group: pd.DataFrame) -> pd.DataFrame:
    """The service's rows on every minute from its first to its last (a missing one: no requests)."""
    grid = pd.date_range(group["minute"].min(), group["minute"].max(), freq="min")
    full = group.set_index("minute").reindex(grid)
    full.index.name = "minute"
    full["present"] = full["service"].notna()
    full["service"] = group["service"].iloc[0]
    full[["requests", "status_5xx"]] = full[["requests", "status_5xx"]].fillna(0)
    return full.reset_index()


def score_minutes(minutes: pd.DataFrame, params: DetectionParams | None = None,
                  baseline_until: dt.datetime | None = None) -> pd.DataFrame:
    """Every service-minute with its baselines, scores and flags (for charts and for ``detect_incidents``).

    Input columns: service, minute, requests, status_5xx, p95. Output columns: ``MINUTE_COLUMNS``;
    ``error_rate_flag``/``p95_flag``: the minute is inside a stretch of that departure.
    """
    params = params or DetectionParams()
    frame = minutes.loc[:, ["service", "minute", "requests", "status_5xx", "p95"]].copy()
    frame["minute"] = pd.to_datetime(frame["minute"])
    frame["requests"] = frame["requests"].astype("int64")
    frame["p95"] = frame["p95"].astype(float)
    frame = frame.sort_values(["service", "minute"]).reset_index(drop=True)
    until = None if baseline_until is None else pd.Timestamp(utc_naive(baseline_until))
    parts = []
    for _, group in frame.groupby("service", sort=True):
        full = _full_minutes(group)
        reference = np.ones(len(full), dtype=bool) if until is None else (full["minute"] < until).to_numpy()
        judged = _ServiceJudge(full, params, reference).judge()
        for column, values in judged.items():
            full[column] = values
        parts.append(full[full["present"]])
    if not parts:
        return pd.DataFrame(columns=MINUTE_COLUMNS)
    scored = pd.concat(parts, ignore_index=True)
    scored["requests"] = scored["requests"].astype("int64")
    scored["status_5xx"] = scored["status_5xx"].astype("int64")
    scored["error_rate"] = scored["status_5xx"] / scored["requests"].where(scored["requests"] > 0)
    scored["flagged"] = scored["error_rate_flag"] | scored["p95_flag"]
    return scored[list(MINUTE_COLUMNS)]


def _evidence(service: str, rows: pd.DataFrame) -> dict[str, object]:
    metrics, sentences = [], []
    rate_rows, p95_rows = rows[rows["error_rate_flag"]], rows[rows["p95_flag"]]
    if not rate_rows.empty:
        metrics.append("error_rate")
        peak = rate_rows["error_rate"].max()
        sentences.append(f"5xx rate up to {peak:.1%} vs baseline {rows['error_rate_baseline'].iloc[0]:.2%} "
                         f"in {len(rate_rows)} min")
    if not p95_rows.empty:
        metrics.append("p95_latency")
        sentences.append(f"p95 up to {p95_rows['p95'].max():,.0f} ms vs baseline "
                         f"{rows['p95_baseline'].iloc[0]:,.0f} ms in {len(p95_rows)} min")
    flagged = rows[rows["flagged"]]
    return {
        "service": service,
        "start": flagged["minute"].min(),
        "end": flagged["minute"].max() + MINUTE,
        "flagged_minutes": len(flagged),
        "metrics": "+".join(metrics),
        "error_rate_peak": float(flagged["error_rate"].max()),
        "error_rate_baseline": float(rows["error_rate_baseline"].iloc[0]),
        "p95_peak": float(flagged["p95"].max()),
        "p95_baseline": float(rows["p95_baseline"].iloc[0]),
        "max_z": float(np.nanmax(np.concatenate([
            rate_rows["error_rate_z"].to_numpy(dtype=float), p95_rows["p95_z"].to_numpy(dtype=float)]))),
        "evidence": f"{service}: " + "; ".join(sentences),
    }


def detect_incidents(minutes: pd.DataFrame, params: DetectionParams | None = None,
                     baseline_until: dt.datetime | None = None) -> pd.DataFrame:
    """Incidents in per-minute figures (columns service, minute, requests, status_5xx, p95).

    Columns: service, start, end (end exclusive: the minute after the last flagged one, naive UTC),
    flagged_minutes, metrics ("error_rate", "p95_latency" or both, joined by "+"), error_rate_peak,
    error_rate_baseline, p95_peak, p95_baseline (ms), max_z, evidence (one readable line).
    Sorted by start, service.
    """
    params = params or DetectionParams()
    scored = score_minutes(minutes, params, baseline_until)
    found = []
    for service, group in scored.groupby("service", sort=True):
        flagged_minutes = group.loc[group["flagged"], "minute"].sort_values()
        if flagged_minutes.empty:
            continue
        run_id = (flagged_minutes.diff() > params.merge_gap_min * MINUTE).cumsum()
        for _, run in flagged_minutes.groupby(run_id):
            if len(run) < params.min_flagged_minutes:
                continue
            rows = group[(group["minute"] >= run.min()) & (group["minute"] <= run.max())]
            found.append(_evidence(str(service), rows))
    frame = pd.DataFrame(found, columns=INCIDENT_COLUMNS)
    return frame.sort_values(["start", "service"]).reset_index(drop=True)


def incidents(settings: Settings, start: dt.datetime, end: dt.datetime, services: Iterable[str] | None = None,
              params: DetectionParams | None = None, baseline_until: dt.datetime | None = None,
              source: Literal["windows", "raw"] = "windows") -> pd.DataFrame:
    """Incidents in [start, end), from the per-minute requests, 5xx and p95 of the windows (the window
    tables and the latency sketch; ``source="raw"``: Trino over the raw logs, for logs the windows did
    not count). Columns: see ``detect_incidents``."""
    from pipeline.analysis.percentiles import latency_percentiles

    minutes = latency_percentiles(settings, start, end, services, source=source)
    return detect_incidents(minutes, params, baseline_until)
