"""Normal traffic: which services exist, how busy they are, how fast they answer and how often they fail.

The defaults are shaped like a small web shop behind a gateway, so the analysis steps see what real
logs show: a few busy services and some quiet ones, latencies with a long tail (lognormal, never
uniform), mostly 2xx with a trickle of 4xx and rare 5xx. Scenarios (``pipeline.generate.scenarios``) bend
these numbers for one service for a while; everything else stays as it is here.
"""

from __future__ import annotations

import math
import random
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

# A lognormal's p95 is median * exp(Z95 * sigma); scenarios use it to turn "p95 x4" into a sigma.
Z95 = 1.6448536269514722

# Status codes within each family and how common each is (weights, not probabilities).
STATUS_WEIGHTS: dict[int, tuple[tuple[int, float], ...]] = {
    2: ((200, 85.0), (201, 10.0), (204, 5.0)),
    3: ((301, 10.0), (302, 30.0), (304, 60.0)),
    4: ((400, 20.0), (401, 20.0), (403, 8.0), (404, 30.0), (409, 5.0), (422, 7.0), (429, 10.0)),
    5: ((500, 30.0), (502, 15.0), (503, 35.0), (504, 20.0)),
}
GATEWAY_TIMEOUT = 504  # its latency is the service's timeout, not a draw from the distribution


@dataclass(frozen=True)
class ServiceProfile:
    """How one service behaves when nothing is wrong."""

    name: str
    weight: float  # share of all traffic (relative to the other services)
    latency_median_ms: float
    latency_sigma: float  # lognormal shape: 0.4 a short tail, 1.0 a very long one
    server_error_rate: float  # share of 5xx answers
    client_error_rate: float  # share of 4xx answers
    redirect_rate: float  # share of 3xx answers
    dependency: str  # what its 5xx messages blame
    paths: tuple[str, ...]  # request paths; "{id}" becomes a number
    hosts: int = 3  # how many instances serve it
    timeout_ms: float = 5_000.0

    def __post_init__(self) -> None:
        rates = (self.server_error_rate, self.client_error_rate, self.redirect_rate)
        if self.weight <= 0 or self.latency_median_ms <= 0 or self.latency_sigma <= 0:
            raise ValueError(f"service {self.name!r}: weight, latency median and sigma must be > 0")
        if min(rates) < 0 or sum(rates) > 1:
            raise ValueError(f"service {self.name!r}: status rates must be >= 0 and add up to at most 1")


DEFAULT_SERVICES: tuple[ServiceProfile, ...] = (
    ServiceProfile("gateway", 30, 12.0, 0.6, 0.004, 0.030, 0.020, "upstream pool",
                   ("/", "/api/v1/health", "/api/v1/products/{id}", "/static/app.js"), hosts=4),
    ServiceProfile("auth", 18, 25.0, 0.5, 0.003, 0.060, 0.010, "user-db",
                   ("/auth/login", "/auth/token", "/auth/session/{id}")),
    ServiceProfile("search", 20, 45.0, 0.8, 0.005, 0.020, 0.0, "search-index",
                   ("/search", "/search/suggest", "/search/facets")),
    ServiceProfile("inventory", 14, 30.0, 0.5, 0.003, 0.020, 0.0, "stock-db",
                   ("/inventory/sku/{id}", "/inventory/reserve", "/inventory/release")),
    ServiceProfile("checkout", 10, 120.0, 0.7, 0.006, 0.030, 0.005, "order-db",
                   ("/checkout/cart/{id}", "/checkout/order", "/checkout/order/{id}")),
    ServiceProfile("payment", 8, 180.0, 0.6, 0.004, 0.020, 0.0, "card-processor",
                   ("/payments", "/payments/{id}/capture", "/payments/{id}/refund"), timeout_ms=10_000.0),
)


def level_for(status: int) -> str:
    """The log level a service would write for this answer."""
    if status >= 500:
        return "ERROR"
    return "WARN" if status >= 400 else "INFO"


class WeightedPicker(Generic[T]):
    """Draws from a population with fixed weights: one uniform draw and a bisection (what
    ``random.choices`` does, without its per-call set-up, which shows at 100,000 events/s)."""

    def __init__(self, population: Sequence[T], weights: Sequence[float]) -> None:
        if len(population) != len(weights) or not population:
            raise ValueError("a population and as many weights are needed")
        self._population = tuple(population)
        self._cum = _cumulative(list(weights))
        self._total = self._cum[-1]

    def pick(self, rng: random.Random) -> T:
        return self._population[bisect(self._cum, rng.random() * self._total)]


def pick(rng: random.Random, options: Sequence[T]) -> T:
    """A uniform choice from one draw of ``rng.random()`` (cheaper than ``rng.choice``)."""
    return options[int(rng.random() * len(options))]


class StatusPicker:
    """Draws a status code from a family; the cumulative weights are computed once."""

    def __init__(self) -> None:
        self._by_family = {family: WeightedPicker([code for code, _ in pairs], [w for _, w in pairs])
                           for family, pairs in STATUS_WEIGHTS.items()}

    def pick(self, rng: random.Random, family: int) -> int:
        return self._by_family[family].pick(rng)


def status_family(rng: random.Random, server_error_rate: float, profile: ServiceProfile) -> int:
    """2, 3, 4 or 5: one uniform draw against the service's rates (5xx first, so it can be overridden)."""
    draw = rng.random()
    if draw < server_error_rate:
        return 5
    draw -= server_error_rate
    if draw < profile.client_error_rate:
        return 4
    draw -= profile.client_error_rate
    return 3 if draw < profile.redirect_rate else 2


def latency_ms(rng: random.Random, profile: ServiceProfile, status: int, factor: float, extra_sigma: float) -> float:
    """A lognormal latency around the service's median; a 504 waited for the whole timeout."""
    if status == GATEWAY_TIMEOUT:
        return round(profile.timeout_ms * (1.0 + 0.05 * rng.random()), 2)
    value = profile.latency_median_ms * math.exp(rng.gauss(0.0, profile.latency_sigma + extra_sigma)) * factor
    return round(max(value, 0.01), 2)


def host_names(rng: random.Random, services: tuple[ServiceProfile, ...]) -> dict[str, tuple[str, ...]]:
    """Kubernetes-like pod names per service, fixed for a run by the seed."""
    alphabet = "bcdfghjklmnpqrstvwxz2456789"
    names: dict[str, tuple[str, ...]] = {}
    for profile in services:
        replica_set = "".join(rng.choice(alphabet) for _ in range(9))
        names[profile.name] = tuple(
            f"{profile.name}-{replica_set}-{''.join(rng.choice(alphabet) for _ in range(5))}"
            for _ in range(profile.hosts)
        )
    return names


def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for weight in weights:
        total += weight
        out.append(total)
    return out


def service_picker(services: tuple[ServiceProfile, ...]) -> WeightedPicker[ServiceProfile]:
    """Draws the service of the next event according to the traffic shares."""
    return WeightedPicker(services, [s.weight for s in services])
