"""The per-service, per-minute figures of a generator run, without generating its records.

Scoring the incident detector needs days of traffic per scenario and seed, and the per-event
generator writes whole records (messages, ids, JSON) at some 50,000 a second: a day at 30 events/s
would take about a minute, and nothing of a record but its minute, service, status and latency
reaches the windows. This module draws those four for a whole run at once with numpy, following the
generator step by step: the same timeline (one event per slot, or the scenario's volume curve),
service shares (after the scenario's ``traffic``), incident effects (asked of the scenario for
every event inside the incident's window, as the generator does), blips (asked per UTC minute),
host decision of a host effect, new errors, 5xx share, 504s waiting for the timeout, lognormal
latency rounded to 0.01 ms, and the share of malformed records (which never reach a window).

It gives the same distribution, not the same draws (numpy's random stream, not ``random.Random``):
a unit test compares both paths statistically. ``latency_quantiles`` is the one place that turns
a minute's latencies into p50/p95/p99, so a sketch can replace the exact percentiles. Only the
events an effect or blip touches carry bent figures; the rest are read from the service tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from pipeline.generate.generator import GeneratorConfig
from pipeline.generate.scenarios import Effect, Incident, Scenario
from pipeline.generate.traffic import DEFAULT_SERVICES, GATEWAY_TIMEOUT, STATUS_WEIGHTS, ServiceProfile
from pipeline.generate.volume import VolumeWarp

MINUTE_FIGURES = ("service", "minute", "requests", "status_5xx", "p50", "p95", "p99")
EVENT_COLUMNS = ("service", "minute", "failed", "latency_ms")
QUANTILES = (0.50, 0.95, 0.99)
MS_PER_MINUTE = 60_000
_SEED_SALT = 0x51_4D  # the simulation's numpy stream: not the generator's, so never mistaken for it
_CENTS_BITS = 40  # a latency in 0.01 ms fits in 40 bits; the group goes above them
_LONGEST_MS = float((1 << _CENTS_BITS) - 1) / 100  # about 127 days: no latency drawn comes near it


@dataclass(frozen=True)
class SimulatedRun:
    """``minutes``: one row per service and minute with requests (columns ``MINUTE_FIGURES``, minute
    naive UTC, as the windows hold them); ``incident``: the ground truth; ``events``, when asked
    for: one row per log (columns ``EVENT_COLUMNS``), for whoever builds other per-minute figures
    (a latency sketch) from the same draws."""

    minutes: pd.DataFrame
    incident: Incident | None
    events: pd.DataFrame | None = None


def simulate(scenario: Scenario, *, seed: int, start: datetime, hours: float, rate: float,
             services: tuple[ServiceProfile, ...] = DEFAULT_SERVICES, keep_events: bool = False) -> SimulatedRun:
    """A backfill of ``hours`` from ``start`` at ``rate`` events a second on average."""
    count = max(1, round(rate * hours * 3600))
    config = GeneratorConfig(count=count, start=start, end=start + timedelta(hours=hours), seed=seed,
                             scenario=scenario, services=services)
    return simulate_config(config, keep_events=keep_events)


def simulate_config(config: GeneratorConfig, *, keep_events: bool = False) -> SimulatedRun:
    """The per-minute figures of the backfill ``config`` describes (live runs are not simulated);
    with ``keep_events``, every log's service, minute, 5xx flag and latency too."""
    if not config.backfill:
        raise ValueError("only a backfill (start and end) can be simulated")
    assert config.start is not None and config.end is not None and config.count is not None
    scenario = config.scenario
    incident = scenario.incident(config.start)
    rng = np.random.default_rng([config.seed, _SEED_SALT])
    count = config.count
    profiles = scenario.traffic(config.services, config.events_per_s)

    at_ms = _timeline(config, rng)
    weights = np.cumsum([p.weight for p in profiles])
    service = np.searchsorted(weights, rng.random(count) * weights[-1], side="right").astype(np.int32)
    bent = _Bent(profiles, service, rng)
    window_ms = [incident.start_s * 1000, incident.end_s * 1000] if incident is not None else [0.0, 0.0]
    inside = np.arange(*np.searchsorted(at_ms, window_ms))  # events are in time order
    if incident is not None and len(inside):
        names = [profiles[k].name for k in service[inside]]
        bent.apply(inside, [scenario.effect(incident, name, float(ms) / 1000)
                            for name, ms in zip(names, at_ms[inside], strict=True)])
    _apply_blips(config, scenario, at_ms, service, inside, bent)

    failed, timed_out = bent.statuses(rng)
    cents = bent.latency_cents(rng, timed_out)
    if config.bad_fraction:
        keep = rng.random(count) >= config.bad_fraction
        service, at_ms, failed, cents = service[keep], at_ms[keep], failed[keep], cents[keep]
    minute = at_ms // MS_PER_MINUTE
    minutes = _per_minute(profiles, service, minute, failed, cents)
    events = None
    if keep_events:
        names = np.array([p.name for p in profiles], dtype=object)
        events = pd.DataFrame({"service": names[service], "minute": pd.to_datetime(minute * MS_PER_MINUTE, unit="ms"),
                               "failed": failed.astype(bool), "latency_ms": cents / 100.0})
    return SimulatedRun(minutes, incident, events)


def latency_quantiles(groups: np.ndarray, cents: np.ndarray, group_count: int,
                      quantiles: tuple[float, ...] = QUANTILES) -> np.ndarray:
    """Per group (0 .. group_count-1), the quantiles of latencies given in hundredths of a
    millisecond (the generator's precision): exact, numpy's default (linear) interpolation, in ms.
    Shape (group_count, len(quantiles)); NaN for an empty group."""
    ordered = np.sort((groups.astype(np.int64) << _CENTS_BITS) | cents) & ((1 << _CENTS_BITS) - 1)
    ordered = ordered / 100.0
    sizes = np.bincount(groups, minlength=group_count)
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    out = np.full((group_count, len(quantiles)), np.nan)
    present = sizes > 0
    size, offset = sizes[present], offsets[present]
    for column, q in enumerate(quantiles):
        position = q * (size - 1)
        low = np.floor(position).astype(np.int64)
        high = np.minimum(low + 1, size - 1)
        below, above = ordered[offset + low], ordered[offset + high]
        out[present, column] = below + (above - below) * (position - low)
    return out


def _timeline(config: GeneratorConfig, rng: np.random.Generator) -> np.ndarray:
    """Epoch milliseconds of every event, as the generator's backfill timeline places them."""
    assert config.start is not None and config.end is not None and config.count is not None
    start_ms = round(config.start.timestamp() * 1000)
    end_ms = round(config.end.timestamp() * 1000)
    slots = np.arange(config.count, dtype=np.float64)
    slots += rng.random(config.count)
    curve = config.scenario.volume_curve()
    if curve is None:
        slots *= (end_ms - start_ms) / max(config.count, 1)
        slots += start_ms
    else:
        slots = VolumeWarp(start_ms, end_ms, curve).at_array(slots / max(config.count, 1))
    return np.floor(slots).astype(np.int64)


class _Bent:
    """The events' services, and the few events effects bend, with what the effects say for them."""

    def __init__(self, profiles: tuple[ServiceProfile, ...], service: np.ndarray, rng: np.random.Generator) -> None:
        self.profiles, self.service, self._rng = profiles, service, rng
        self._table = {name: np.array([getattr(p, name) for p in profiles], dtype=float) for name in (
            "server_error_rate", "latency_median_ms", "latency_sigma", "timeout_ms", "hosts")}
        self._parts: list[dict[str, np.ndarray]] = []

    def apply(self, events: np.ndarray, effects: list[Effect]) -> None:
        """Bend ``events[i]`` by ``effects[i]``; a host effect only where the event's host (drawn
        as the generator draws it, uniformly over the service's hosts) is the failing one."""
        if not len(events):
            return
        host = np.array([-1 if e.host is None else e.host for e in effects])
        hosts = self._table["hosts"][self.service[events]].astype(np.int64)
        drawn = np.floor(self._rng.random(len(events)) * hosts).astype(np.int64)
        applies = (host < 0) | (drawn == np.where(host < 0, 0, host) % hosts)
        events = events[applies]
        effects = [e for e, keep in zip(effects, applies, strict=True) if keep]
        normal = self._table["server_error_rate"][self.service[events]]
        self._parts.append({
            "event": events,
            "error_rate": np.array([e.error_rate(rate) for e, rate in zip(effects, normal, strict=True)]),
            "latency_factor": np.array([e.latency_factor for e in effects], dtype=float),
            "extra_sigma": np.array([e.extra_sigma for e in effects], dtype=float),
            "new_rate": np.array([0.0 if e.new_error is None else e.new_error.rate for e in effects]),
            "new_status": np.array([0 if e.new_error is None else e.new_error.status for e in effects], dtype=int),
        })

    def _bent(self, name: str) -> np.ndarray:
        return np.concatenate([part[name] for part in self._parts]) if self._parts else np.empty(0)

    def statuses(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(answered 5xx, answered 504) per event: a new error first, else the (bent) 5xx share,
        and within the 5xx family the code by ``STATUS_WEIGHTS``."""
        count = len(self.service)
        bent = self._bent("event").astype(np.int64)
        error_rate = self._table["server_error_rate"][self.service]
        error_rate[bent] = self._bent("error_rate")
        new = rng.random(len(bent)) < self._bent("new_rate")
        usual = rng.random(count) < error_rate
        usual[bent[new]] = False
        codes = STATUS_WEIGHTS[5]
        share_504 = sum(w for code, w in codes if code == GATEWAY_TIMEOUT) / sum(w for _, w in codes)
        timed_out = np.zeros(count, dtype=bool)
        failing = np.flatnonzero(usual)
        timed_out[failing[rng.random(len(failing)) < share_504]] = True
        timed_out[bent[new & (self._bent("new_status") == GATEWAY_TIMEOUT)]] = True
        usual[bent[new]] = True
        return usual, timed_out

    def latency_cents(self, rng: np.random.Generator, timed_out: np.ndarray) -> np.ndarray:
        """Latency in hundredths of a ms: lognormal around the service's median, 504s waited for
        the timeout, rounded as ``traffic.latency_ms`` rounds."""
        bent = self._bent("event").astype(np.int64)
        sigma = self._table["latency_sigma"][self.service]
        sigma[bent] += self._bent("extra_sigma")
        value = rng.standard_normal(len(self.service))
        value *= sigma
        np.exp(value, out=value)
        value *= self._table["latency_median_ms"][self.service]
        value[bent] *= self._bent("latency_factor")
        waited = np.flatnonzero(timed_out)
        value[waited] = self._table["timeout_ms"][self.service[waited]] * (1.0 + 0.05 * rng.random(len(waited)))
        np.clip(value, 0.01, _LONGEST_MS, out=value)
        value *= 100.0
        return np.rint(value).astype(np.int64)


def _apply_blips(config: GeneratorConfig, scenario: Scenario, at_ms: np.ndarray, service: np.ndarray,
                 inside: np.ndarray, bent: _Bent) -> None:
    """Bend the events of each blip's service and UTC minute, outside the incident's window."""
    if not len(at_ms):
        return
    first, last = int(at_ms[0] // MS_PER_MINUTE), int(at_ms[-1] // MS_PER_MINUTE)
    names = tuple(p.name for p in config.services)
    index = {p.name: k for k, p in enumerate(bent.profiles)}
    window = (int(inside[0]), int(inside[-1]) + 1) if len(inside) else (0, 0)
    for moment in range(first, last + 1):
        blip = scenario.blip(config.seed, moment, names)
        if blip is None or blip.service not in index:
            continue
        lo, hi = np.searchsorted(at_ms, [moment * MS_PER_MINUTE, (moment + 1) * MS_PER_MINUTE])
        events = lo + np.flatnonzero(service[lo:hi] == index[blip.service])
        events = events[(events < window[0]) | (events >= window[1])]
        bent.apply(events, [blip.effect] * len(events))


def _per_minute(profiles: tuple[ServiceProfile, ...], service: np.ndarray, minute: np.ndarray,
                failed: np.ndarray, cents: np.ndarray) -> pd.DataFrame:
    if not len(minute):
        return pd.DataFrame(columns=MINUTE_FIGURES)
    first = int(minute.min())
    span = int(minute.max()) - first + 1
    groups = service * span + (minute - first)
    group_count = len(profiles) * span
    requests = np.bincount(groups, minlength=group_count)
    errors = np.bincount(groups, weights=failed, minlength=group_count).astype(np.int64)
    quantiles = latency_quantiles(groups, cents, group_count)
    present = np.flatnonzero(requests)
    frame = pd.DataFrame({
        "service": np.array([p.name for p in profiles], dtype=object)[present // span],
        "minute": pd.to_datetime((first + present % span) * MS_PER_MINUTE, unit="ms"),
        "requests": requests[present].astype(np.int64),
        "status_5xx": errors[present],
    })
    for column, name in enumerate(MINUTE_FIGURES[4:]):
        frame[name] = quantiles[present, column]
    return frame.sort_values(["service", "minute"]).reset_index(drop=True)
