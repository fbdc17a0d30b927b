"""Incidents injected into normal traffic, by name and with parameters, plus their ground truth.

A scenario bends the traffic of one service for a stretch of minutes; every other service and every
other minute keeps its normal shape. Its window is given relative to the run's start (its anchor),
not aligned to the clock, so a live run's records are the same whichever second it starts in; the
ground truth lists the UTC minutes the window touches and those it covers fully (a backfill that
starts on a whole minute gets whole-minute windows). Add a scenario by subclassing ``Scenario`` (a
frozen dataclass whose fields are its parameters) and listing it in ``SCENARIOS``.

Besides its incident, a scenario may shape the whole run, so that a detector meets what it must
not report: different traffic shares (``traffic``: e.g. one service with only a few requests per
minute), a volume that varies over the day (``volume_curve``), and one-minute blips that are not
incidents (``blip``). The generator and the simulation (``pipeline.generate.simulate``) read the
same hooks.
"""

from __future__ import annotations

import dataclasses
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pipeline.generate.messages import NEW_ERROR_TEMPLATE, Template
from pipeline.generate.traffic import Z95, ServiceProfile
from pipeline.generate.volume import VolumeCurve

MINUTE = timedelta(minutes=1)
SECONDS_PER_DAY = 86_400.0
BLIP_GAP_MIN = 4  # blips of one service start at least this many minutes apart


@dataclass(frozen=True)
class NewError:
    """A 5xx answer with a message template the service never used before (what a bad deploy
    brings): ``rate`` of the requests fail this way, on top of the service's usual 5xx."""

    template: str
    rate: float
    status: int = 500


@dataclass(frozen=True)
class Effect:
    """How one event of the affected service is bent: a 5xx rate to use instead of the normal one,
    a 5xx share added to it, a factor on its latency, extra lognormal sigma (which stretches the
    tail, not the median), and a new kind of error. With ``host`` set, only the requests served by
    that host (an index into the service's hosts) are bent; the others stay normal."""

    server_error_rate: float | None = None
    added_error_rate: float = 0.0
    latency_factor: float = 1.0
    extra_sigma: float = 0.0
    host: int | None = None
    new_error: NewError | None = None

    def error_rate(self, normal: float) -> float:
        """The share of usual 5xx answers for a service whose normal share is ``normal``."""
        rate = normal if self.server_error_rate is None else self.server_error_rate
        return min(1.0, rate + self.added_error_rate)


NO_EFFECT = Effect()


@dataclass(frozen=True)
class Blip:
    """A one-minute disturbance of one service that is not an incident (nobody needs to act)."""

    service: str
    effect: Effect


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


def _check_rate(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be within [0, 1], got {value}")


class Scenario(ABC):
    """A named incident; the dataclass fields of a subclass are its parameters."""

    name: ClassVar[str]
    summary: ClassVar[str]

    @abstractmethod
    def incident(self, anchor: datetime) -> Incident | None:
        """The incident's window for a run that starts at ``anchor`` (None: no incident)."""

    def effect(self, incident: Incident, service: str, epoch_s: float) -> Effect:
        """How an event of ``service`` at ``epoch_s`` is bent. Only asked for events inside the
        incident's window: outside it every event is normal (or in a blip)."""
        return NO_EFFECT

    def traffic(self, services: tuple[ServiceProfile, ...], events_per_s: float) -> tuple[ServiceProfile, ...]:
        """The services of a run of ``events_per_s`` events a second (on average): normally as given."""
        return services

    def volume_curve(self) -> VolumeCurve | None:
        """The relative traffic volume at each moment (epoch seconds -> level > 0), or None for
        steady traffic."""
        return None

    def blip(self, seed: int, minute: int, services: Sequence[str]) -> Blip | None:
        """The blip in UTC minute ``minute`` (minutes since the epoch) of a run with ``seed``, if any.
        Blips are whole UTC minutes, so each is a one-minute spike in the per-minute windows."""
        return None

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
        _check_rate("error_rate", self.error_rate)
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


@dataclass(frozen=True)
class HostFailure(_Windowed):
    name: ClassVar[str] = "host-failure"
    summary: ClassVar[str] = ("one host of a service answers 5xx while its other hosts stay normal: the "
                              "service's 5xx share rises by about 1/hosts")

    service: str = "auth"
    error_rate: float = 1.0  # share of 5xx on the failing host
    host: int = 0  # which of the service's hosts fails (0: the first)

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_rate("error_rate", self.error_rate)
        if self.host < 0:
            raise ValueError(f"host must be >= 0, got {self.host}")

    def effect(self, incident: Incident, service: str, epoch_s: float) -> Effect:
        if service != incident.service:
            return NO_EFFECT
        return Effect(server_error_rate=self.error_rate, host=self.host)


@dataclass(frozen=True)
class LowTrafficErrors(_Windowed):
    name: ClassVar[str] = "low-traffic-errors"
    summary: ClassVar[str] = ("one service gets only a few requests a minute for the whole run (the others "
                              "share the rest) and fails often for a stretch of minutes")

    service: str = "payment"
    requests_per_min: float = 5.0  # the service's average traffic, for the whole run
    error_rate: float = 0.6  # share of 5xx inside the window
    duration_min: int = 15

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_rate("error_rate", self.error_rate)
        if self.requests_per_min <= 0:
            raise ValueError(f"requests_per_min must be > 0, got {self.requests_per_min}")

    def traffic(self, services: tuple[ServiceProfile, ...], events_per_s: float) -> tuple[ServiceProfile, ...]:
        share = self.requests_per_min / (60.0 * events_per_s)
        if share >= 1.0:
            raise ValueError(f"requests_per_min={self.requests_per_min} needs a run of more than "
                             f"{self.requests_per_min / 60:g} events a second, got {events_per_s:g}")
        others = sum(p.weight for p in services if p.name != self.service)
        return tuple(dataclasses.replace(p, weight=others * share / (1.0 - share)) if p.name == self.service else p
                     for p in services)

    def effect(self, incident: Incident, service: str, epoch_s: float) -> Effect:
        if service != incident.service:
            return NO_EFFECT
        return Effect(server_error_rate=self.error_rate)


@dataclass(frozen=True)
class ErrorCreep(_Windowed):
    name: ClassVar[str] = "error-creep"
    summary: ClassVar[str] = ("one service's 5xx share grows steadily over the window (from its normal share "
                              "to added_error_rate more), then recovers at once")

    service: str = "inventory"
    duration_min: int = 20
    added_error_rate: float = 0.3  # 5xx share added at the end of the window

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_rate("added_error_rate", self.added_error_rate)

    def effect(self, incident: Incident, service: str, epoch_s: float) -> Effect:
        if service != incident.service:
            return NO_EFFECT
        progress = (epoch_s - incident.start_s) / (incident.end_s - incident.start_s)
        return Effect(added_error_rate=progress * self.added_error_rate)


@dataclass(frozen=True)
class NewErrorMessage(_Windowed):
    name: ClassVar[str] = "new-error"
    summary: ClassVar[str] = ("a deploy brings a 5xx with a message the service never wrote before, at a "
                              "modest rate on top of its usual errors (no outage), until it is rolled back")

    service: str = "checkout"
    duration_min: int = 30
    error_rate: float = 0.04  # share of requests failing with the new message
    status: int = 500
    message_template: str = NEW_ERROR_TEMPLATE

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_rate("error_rate", self.error_rate)
        if not 500 <= self.status <= 599:
            raise ValueError(f"status must be a 5xx code, got {self.status}")
        Template(self.message_template)  # refuses placeholders the generator cannot fill

    def effect(self, incident: Incident, service: str, epoch_s: float) -> Effect:
        if service != incident.service:
            return NO_EFFECT
        return Effect(new_error=NewError(self.message_template, self.error_rate, self.status))


@dataclass(frozen=True)
class NoisyDay(Scenario):
    name: ClassVar[str] = "noisy-day"
    summary: ClassVar[str] = ("no incident: traffic rises and falls over the UTC day, and now and then one "
                              "service has a one-minute blip of errors or latency (a service's blips are "
                              "isolated: at least 3 normal minutes apart, closer ones would be a burst)")

    amplitude: float = 0.6  # volume between 1 - amplitude (night) and 1 + amplitude (peak)
    peak_hour: float = 14.0  # UTC hour of the busiest traffic
    blips_per_hour: float = 2.0  # one-minute blips, over all services
    blip_error_rate: float = 0.25  # share of 5xx in an error blip
    blip_latency_factor: float = 4.0  # latency multiplier in a latency blip

    def __post_init__(self) -> None:
        if not 0.0 <= self.amplitude < 1.0:
            raise ValueError(f"amplitude must be within [0, 1), got {self.amplitude}")
        if not 0.0 <= self.peak_hour < 24.0:
            raise ValueError(f"peak_hour must be within [0, 24), got {self.peak_hour}")
        if not 0.0 <= self.blips_per_hour <= 60.0:
            raise ValueError(f"blips_per_hour must be within [0, 60], got {self.blips_per_hour}")
        _check_rate("blip_error_rate", self.blip_error_rate)
        if self.blip_latency_factor <= 0:
            raise ValueError(f"blip_latency_factor must be > 0, got {self.blip_latency_factor}")

    def incident(self, anchor: datetime) -> Incident | None:
        return None

    def volume_curve(self) -> VolumeCurve:
        return self._volume

    def _volume(self, epoch_s: float) -> float:
        day_phase = (epoch_s / SECONDS_PER_DAY - self.peak_hour / 24.0) * 2.0 * math.pi
        return 1.0 + self.amplitude * math.cos(day_phase)

    def blip(self, seed: int, minute: int, services: Sequence[str]) -> Blip | None:
        candidate = self._candidate(seed, minute, services)
        if candidate is None:
            return None
        for earlier in range(minute - BLIP_GAP_MIN + 1, minute):
            other = self._candidate(seed, earlier, services)
            if other is not None and other.service == candidate.service:
                return None  # too close to another spike of the service: that would be a burst
        return candidate

    def _candidate(self, seed: int, minute: int, services: Sequence[str]) -> Blip | None:
        draw = random.Random(f"{self.name}:{seed}:{minute}")  # noqa: S311 - reproducible test data
        if not services or draw.random() >= self.blips_per_hour / 60.0:
            return None
        service = services[int(draw.random() * len(services))]
        if draw.random() < 0.5:
            return Blip(service, Effect(server_error_rate=self.blip_error_rate))
        return Blip(service, Effect(latency_factor=self.blip_latency_factor))


SCENARIOS: dict[str, type[Scenario]] = {cls.name: cls for cls in (
    NoIncident, PaymentOutage, LatencyCreep, HostFailure, LowTrafficErrors, ErrorCreep, NewErrorMessage, NoisyDay)}


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
