"""Incident detection: minutes where a service departs from its own baseline, merged into incidents.

Method (per service, on per-minute figures: requests, 5xx answers, p95 latency):

1. Only minutes with at least ``min_requests`` requests are judged: a quiet minute with 1 error in 2
   requests says nothing.
2. Baseline = the median of the service's own minutes; spread = the MAD (median absolute deviation,
   times 1.4826 so it estimates a standard deviation). The score is a modified z-score,
   ``(observed - median) / spread``. Error rates are judged as they are; latency on a log scale
   (a p95 twice as high is the same departure for a 20 ms and a 200 ms service). The spread has a
   floor: for the error rate the binomial standard error of the baseline rate at that minute's
   volume (a service with no errors at all has MAD 0), for latency ``min_log_spread``.
3. A minute is flagged when the score exceeds ``z_threshold`` (3.5, Iglewicz and Hoaglin's cut-off)
   *and* the departure matters: error rate at least ``min_rate_increase`` above the baseline, p95 at
   least ``min_latency_ratio`` times the baseline. Only upward departures count.
4. The baseline is re-estimated without the flagged minutes, and minutes are judged again, until
   nothing changes (at most ``max_rounds``). A slow creep drags the median of a window it fills
   largely; removing what is already flagged brings the baseline back to the service's normal, so
   the less extreme minutes of the creep are caught too. ``baseline_until`` instead takes the
   baseline from the minutes before a given moment (e.g. yesterday, or the first part of a range);
   the range should in any case hold more normal than abnormal minutes of each service.
   A creep is sustained: besides each minute's own p95 score, a centred 5-minute rolling mean of
   log p95 is scored the same way (its noise is about 1/sqrt(5) of a single minute's); a minute
   whose smoothed score passes the threshold is flagged when its own score is above
   ``sustained_z`` (2) too, so the smoothing does not spill the flag onto normal neighbours.
5. A flagged minute with no other flagged minute of its service within ``isolation_min`` (2)
   minutes is dropped as noise (a p95 of 40 requests jumps now and then). Flagged minutes of one
   service at most ``merge_gap_min`` (5) minutes apart form one incident, which needs
   ``min_flagged_minutes`` (2) flagged minutes.

A slow creep is therefore found from the minute it has grown beyond the thresholds, not from its
first (still invisible) minute.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

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
    min_requests: int = 20
    min_rate_increase: float = 0.05  # absolute: 5 percentage points of 5xx answers
    min_latency_ratio: float = 1.5
    min_log_spread: float = 0.05  # about 5 % of latency
    smooth_min: int = 5  # centred window of the sustained p95 score
    sustained_z: float = 2.0  # a minute's own p95 score needed when only the smoothed score passes
    min_baseline_minutes: int = 5
    isolation_min: int = 2
    merge_gap_min: int = 5
    min_flagged_minutes: int = 2
    max_rounds: int = 5


def _robust(values: pd.Series) -> tuple[float, float]:
    """(median, MAD * 1.4826) of the values, NaN when empty."""
    if values.empty:
        return float("nan"), float("nan")
    median = float(values.median())
    return median, MAD_TO_SD * float((values - median).abs().median())


def _judge_service(frame: pd.DataFrame, params: DetectionParams, baseline_mask: pd.Series) -> pd.DataFrame:
    frame = frame.copy()
    judged = frame["requests"] >= params.min_requests
    log_p95 = np.log(frame["p95"].clip(lower=1e-6))
    reference = judged & baseline_mask
    # the sustained score: a centred rolling mean of log p95 over judged minutes (noise / sqrt(k))
    smoothed = log_p95.where(judged).rolling(params.smooth_min, center=True, min_periods=3).mean()
    flagged = pd.Series(False, index=frame.index)
    for _ in range(params.max_rounds):
        ref = reference & ~flagged
        if ref.sum() < params.min_baseline_minutes:
            frame["error_rate_baseline"] = frame["p95_baseline"] = np.nan
            frame["error_rate_z"] = frame["p95_z"] = np.nan
            frame["error_rate_flag"] = frame["p95_flag"] = False
            break
        rate_median, rate_spread = _robust(frame.loc[ref, "error_rate"])
        floor_rate = max(rate_median, 0.5 / float(frame.loc[ref, "requests"].median()))
        binomial = np.sqrt(floor_rate * (1 - floor_rate) / frame["requests"].clip(lower=1))
        rate_z = (frame["error_rate"] - rate_median) / np.maximum(rate_spread, binomial)
        rate_flag = judged & (rate_z > params.z_threshold) & (
            frame["error_rate"] - rate_median >= params.min_rate_increase)

        log_median, log_spread = _robust(log_p95[ref])
        p95_z = (log_p95 - log_median) / max(log_spread, params.min_log_spread)
        smooth_median, smooth_spread = _robust(smoothed[ref])
        smooth_z = (smoothed - smooth_median) / max(smooth_spread, params.min_log_spread / np.sqrt(params.smooth_min))
        sustained = (smooth_z > params.z_threshold) & (p95_z > params.sustained_z)
        p95_flag = judged & ((p95_z > params.z_threshold) | sustained) & (
            frame["p95"] >= params.min_latency_ratio * np.exp(log_median))

        frame["error_rate_baseline"], frame["error_rate_z"], frame["error_rate_flag"] = rate_median, rate_z, rate_flag
        frame["p95_baseline"], frame["p95_z"], frame["p95_flag"] = float(np.exp(log_median)), p95_z, p95_flag
        now = rate_flag | p95_flag
        if now.equals(flagged):
            break
        flagged = now
    frame["flagged"] = frame["error_rate_flag"] | frame["p95_flag"]
    return frame


def score_minutes(minutes: pd.DataFrame, params: DetectionParams | None = None,
                  baseline_until: dt.datetime | None = None) -> pd.DataFrame:
    """Every service-minute with its baselines, scores and flags (for charts and for ``detect_incidents``).

    Input columns: service, minute, requests, status_5xx, p95. Output columns: ``MINUTE_COLUMNS``.
    """
    params = params or DetectionParams()
    frame = minutes.loc[:, ["service", "minute", "requests", "status_5xx", "p95"]].copy()
    frame["minute"] = pd.to_datetime(frame["minute"])
    frame["requests"] = frame["requests"].astype("int64")
    frame["error_rate"] = frame["status_5xx"] / frame["requests"].where(frame["requests"] > 0)
    frame = frame.sort_values(["service", "minute"]).reset_index(drop=True)
    parts = []
    for _, group in frame.groupby("service", sort=True):
        if baseline_until is None:
            mask = pd.Series(True, index=group.index)
        else:
            mask = group["minute"] < pd.Timestamp(baseline_until).tz_localize(None) \
                if pd.Timestamp(baseline_until).tzinfo is not None else group["minute"] < pd.Timestamp(baseline_until)
        parts.append(_judge_service(group, params, mask))
    if not parts:
        return pd.DataFrame(columns=MINUTE_COLUMNS)
    return pd.concat(parts, ignore_index=True)[list(MINUTE_COLUMNS)]


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
        # an isolated flagged minute (no other within isolation_min minutes) is noise
        nearest = pd.concat([flagged_minutes.diff(), -flagged_minutes.diff(-1)], axis=1).min(axis=1)
        flagged_minutes = flagged_minutes[nearest <= params.isolation_min * MINUTE]
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
              params: DetectionParams | None = None, baseline_until: dt.datetime | None = None) -> pd.DataFrame:
    """Incidents in [start, end), from the per-minute requests, 5xx and p95 Trino computes over the raw
    logs (``latency_percentiles``). Columns: see ``detect_incidents``."""
    from pipeline.analysis.percentiles import latency_percentiles

    minutes = latency_percentiles(settings, start, end, services)
    return detect_incidents(minutes, params, baseline_until)
