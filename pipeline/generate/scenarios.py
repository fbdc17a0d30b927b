"""Incidents injected into normal traffic, by name and with parameters, plus their ground truth.

A scenario bends the traffic of one service for a stretch of minutes; every other service and every
other minute keeps its normal shape. Its window is given relative to the run's start (its anchor),
not aligned to the clock, so a live run's records are the same whichever second it starts in; the
ground truth lists the UTC minutes the window touches and those it covers fully (a backfill that
starts on a whole minute gets whole-minute windows). Add a scenario by subclassing ``Scenario`` (a
frozen dataclass whose fields are its parameters) and listing it in ``SCENARIOS``.
"""

from __future__ import annotations

import dataclasses
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pipeline.generate.traffic import Z95

MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Effect:
    """How one event of the affected service is bent: a 5xx rate to use instead of the normal one,
    a factor on its latency, and extra lognormal sigma (which stretches the tail, not the median)."""

    server_error_rate: float | None = None
    latency_factor: float = 1.0
    extra_sigma: float = 0.0


NO_EFFECT = Effect()


@dataclass(frozen=True)
class Incident:
    """The incident's window in UTC: ``start`` inclusive, ``end`` exclusive."""

    service: str
    start: datetime
    end: datetime

    @property
    def start_s(self) -> float:
        return self.start.timestamp()

    @property
    def end_s(self) -> float:
        return self.end.timestamp()

    def contains(self, epoch_s: float) -> bool:
        return self.start_s <= epoch_s < self.end_s

    def minutes(self) -> list[datetime]:
        """Every UTC minute the incident touches: the per-minute windows an analysis may flag."""
        first, after = _floor_minute(self.start), _ceil_minute(self.end)
        return [first + i * MINUTE for i in range(int((after - first) / MINUTE))]

    def full_minutes(self) -> list[datetime]:
        """The UTC minutes entirely inside the incident: the windows an analysis must flag."""
        return [m for m in self.minutes() if m >= self.start and m + MINUTE <= self.end]


class Scenario(ABC):
    """A named incident; the dataclass fields of a subclass are its parameters."""

    name: ClassVar[str]
    summary: ClassVar[str]

    @abstractmethod
    def incident(self, anchor: datetime) -> Incident | None:
        """The incident's window for a run that starts at ``anchor`` (None: no incident)."""

    def effect(self, incident: Incident, service: str, epoch_s: float) -> Effect:
        """How an event of ``service`` at ``epoch_s`` is bent (only called when there is an incident)."""
        return NO_EFFECT

    def parameters(self) -> dict[str, Any]:
        return dataclasses.asdict(self) if dataclasses.is_dataclass(self) else {}


@dataclass(frozen=True)
class NoIncident(Scenario):
    name: ClassVar[str] = "none"
    summary: ClassVar[str] = "normal traffic only"

    def incident(self, anchor: datetime) -> Incident | None:
        return None


@dataclass(frozen=True)
class _Windowed(Scenario):
    """An incident on one service from ``start_min`` minutes after the run's start, lasting
    ``duration_min`` minutes."""

    service: str = "payment"
    start_min: int = 5
    duration_min: int = 10

    def __post_init__(self) -> None:
        if not self.service:
            raise ValueError("service must not be empty")
        if self.start_min < 0:
            raise ValueError(f"start_min must be >= 0, got {self.start_min}")
        if self.duration_min <= 0:
            raise ValueError(f"duration_min must be > 0, got {self.duration_min}")

    def incident(self, anchor: datetime) -> Incident:
        start = anchor.astimezone(UTC) + self.start_min * MINUTE
        return Incident(self.service, start, start + self.duration_min * MINUTE)


@dataclass(frozen=True)
class PaymentOutage(_Windowed):
    name: ClassVar[str] = "payment-outage"
    summary: ClassVar[str] = "one service answers 5xx far more often and much slower for a stretch of minutes"

    error_rate: float = 0.4  # share of 5xx inside the window
    latency_factor: float = 5.0  # latency multiplier inside the window

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 <= self.error_rate <= 1.0:
            raise ValueError(f"error_rate must be within [0, 1], got {self.error_rate}")
        if self.latency_factor <= 0:
            raise ValueError(f"latency_factor must be > 0, got {self.latency_factor}")

    def effect(self, incident: Incident, service: str, epoch_s: float) -> Effect:
        if service != incident.service or not incident.contains(epoch_s):
            return NO_EFFECT
        return Effect(server_error_rate=self.error_rate, latency_factor=self.latency_factor)


@dataclass(frozen=True)
class LatencyCreep(_Windowed):
    name: ClassVar[str] = "latency-creep"
    summary: ClassVar[str] = ("one service's p95 latency rises slowly over the window (median almost "
                              "unchanged, no extra errors), then recovers")

    service: str = "search"
    duration_min: int = 20
    p95_factor: float = 4.0  # the p95 at the end of the window, relative to normal

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.p95_factor < 1.0:
            raise ValueError(f"p95_factor must be >= 1, got {self.p95_factor}")

    def effect(self, incident: Incident, service: str, epoch_s: float) -> Effect:
        if service != incident.service or not incident.contains(epoch_s):
            return NO_EFFECT
        progress = (epoch_s - incident.start_s) / (incident.end_s - incident.start_s)
        # p95 = median * exp(Z95 * sigma): widening sigma by ln(f)/Z95 multiplies p95 by f, median by 1.
        return Effect(extra_sigma=progress * math.log(self.p95_factor) / Z95)


SCENARIOS: dict[str, type[Scenario]] = {cls.name: cls for cls in (NoIncident, PaymentOutage, LatencyCreep)}


def make_scenario(name: str, params: dict[str, str] | None = None) -> Scenario:
    """Build a scenario from its name and textual parameters (as given on the command line).

    Raises ``ValueError`` naming the scenario, the parameter and what is allowed.
    """
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose one of {', '.join(SCENARIOS)}")
    cls = SCENARIOS[name]
    fields = {field.name: field for field in dataclasses.fields(cls)} if dataclasses.is_dataclass(cls) else {}
    values: dict[str, Any] = {}
    for key, text in (params or {}).items():
        if key not in fields:
            allowed = ", ".join(fields) or "none"
            raise ValueError(f"scenario {name!r} has no parameter {key!r} (parameters: {allowed})")
        kind = type(fields[key].default)
        try:
            values[key] = kind(text)
        except ValueError:
            raise ValueError(f"scenario {name!r}: parameter {key}={text!r} is not a {kind.__name__}") from None
    try:
        return cls(**values)
    except ValueError as exc:
        raise ValueError(f"scenario {name!r}: {exc}") from None


def describe_scenarios() -> str:
    """One paragraph per scenario with its parameters and defaults, for ``--help``."""
    lines = []
    for name, cls in SCENARIOS.items():
        params = [f"{f.name}={f.default}" for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else []
        lines.append(f"  {name}: {cls.summary}")
        if params:
            lines.append(f"      parameters: {', '.join(params)}")
    return "\n".join(lines)


def _floor_minute(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def _ceil_minute(moment: datetime) -> datetime:
    floor = _floor_minute(moment)
    return floor if floor == moment else floor + MINUTE
