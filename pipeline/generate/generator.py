"""The log generator: realistic service logs, an optional incident, some malformed records.

``generate(config)`` yields ``LogEvent``s: the bytes to send, a partition key, and (for valid
records) the parsed record, so tests and analyses can compare what arrived with what was sent.

Determinism: everything drawn comes from ``random.Random`` seeded by ``config.seed``, in a fixed
order, so the same seed and arguments give byte-identical records. Malformed records come from a
second random stream, so changing ``bad_fraction`` never changes the valid records around them. In
live mode the timestamps are the wall clock; everything else, including which events the incident
touches (decided on each event's scheduled time), stays deterministic, except that a scenario's
blips belong to UTC minutes, so which live events they touch depends on when the run starts.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from json.encoder import encode_basestring_ascii as _json_string
from typing import Any

from pipeline.generate.malformed import BAD_KINDS, make_bad
from pipeline.generate.messages import MessageBook
from pipeline.generate.scenarios import NO_EFFECT, Effect, Incident, NoIncident, Scenario
from pipeline.generate.traffic import (
    DEFAULT_SERVICES,
    ServiceProfile,
    StatusPicker,
    host_names,
    latency_ms,
    level_for,
    pick,
    service_picker,
    status_family,
)
from pipeline.generate.volume import VolumeWarp

MS_PER_S = 1000
_BAD_STREAM_SALT = 0x5EED_BAD  # the malformed records' random stream: seed XOR this


@dataclass(frozen=True, slots=True)
class LogEvent:
    """One record as it goes to Kinesis."""

    data: bytes  # exactly what is sent
    partition_key: str
    record: dict[str, Any] | None  # the valid record as parsed from ``data``; None for malformed ones
    bad_kind: str | None = None  # one of malformed.BAD_KINDS for malformed records


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate. Backfill when ``start`` and ``end`` are set, live (paced at ``rate``) otherwise.

    ``count`` events in total; in live mode ``duration_s`` may give it instead (``rate * duration_s``),
    and with neither the live generator runs until it is stopped.
    """

    count: int | None = 1000
    seed: int = 0
    scenario: Scenario = field(default_factory=NoIncident)
    bad_fraction: float = 0.0
    start: datetime | None = None
    end: datetime | None = None
    rate: float | None = None
    duration_s: float | None = None
    services: tuple[ServiceProfile, ...] = DEFAULT_SERVICES

    def __post_init__(self) -> None:
        if not 0.0 <= self.bad_fraction <= 1.0:
            raise ValueError(f"bad_fraction must be within [0, 1], got {self.bad_fraction}")
        if self.count is not None and self.count < 0:
            raise ValueError(f"count must be >= 0, got {self.count}")
        if not self.services:
            raise ValueError("at least one service is needed")
        if (self.start is None) != (self.end is None):
            raise ValueError("backfill needs both start and end")
        if self.backfill:
            self._check_backfill()
        elif self.rate is None or self.rate <= 0:
            raise ValueError("live mode needs a rate > 0 (events per second); or give start and end for a backfill")
        if self.duration_s is not None and self.duration_s <= 0:
            raise ValueError(f"duration_s must be > 0, got {self.duration_s}")

    def _check_backfill(self) -> None:
        assert self.start is not None and self.end is not None
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end must carry a time zone (e.g. a trailing Z for UTC)")
        if self.end <= self.start:
            raise ValueError(f"end ({self.end.isoformat()}) must be after start ({self.start.isoformat()})")
        if self.count is None:
            raise ValueError("backfill needs a count")
        if self.rate is not None or self.duration_s is not None:
            raise ValueError("rate and duration are for live mode; a backfill sends as fast as it can")

    @property
    def backfill(self) -> bool:
        return self.start is not None

    @property
    def events_per_s(self) -> float:
        """The run's average rate: ``count`` over the range in a backfill, ``rate`` live."""
        if self.backfill:
            assert self.start is not None and self.end is not None and self.count is not None
            return self.count / (self.end - self.start).total_seconds()
        assert self.rate is not None
        return self.rate

    @property
    def total(self) -> int | None:
        """How many events the run yields (None: live until stopped)."""
        if self.count is not None:
            return self.count
        if self.duration_s is not None and self.rate is not None:
            return max(1, round(self.rate * self.duration_s))
        return None


class LogGenerator:
    """Iterate over it for the events; ``anchor`` and ``incident`` say where the run sits in time, and
    ``hosts`` which hosts serve each service (a host-failure incident fails one of them).

    The anchor is ``config.start`` in a backfill and the wall clock at the first event in live mode
    (so it is known once iteration has begun).
    """

    def __init__(self, config: GeneratorConfig, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.config = config
        self._clock = clock
        self._sleep = sleep
        self.anchor: datetime | None = config.start
        self.incident: Incident | None = config.scenario.incident(config.start) if config.start else None
        self.hosts: dict[str, tuple[str, ...]] = {}  # per service, its host names (known once iteration began)

    @property
    def failing_host(self) -> str | None:
        """The host a host-failure incident fails (a scenario with a ``host`` index), once iteration began."""
        index = getattr(self.config.scenario, "host", None)
        if self.incident is None or not isinstance(index, int) or not self.hosts.get(self.incident.service):
            return None
        hosts = self.hosts[self.incident.service]
        return hosts[index % len(hosts)]

    def __iter__(self) -> Iterator[LogEvent]:
        config = self.config
        rng = random.Random(config.seed)  # noqa: S311 - reproducible test data, not security
        bad_rng = random.Random(config.seed ^ _BAD_STREAM_SALT)  # noqa: S311
        hosts = self.hosts = host_names(rng, config.services)
        scenario = config.scenario
        names = tuple(profile.name for profile in config.services)
        services = service_picker(scenario.traffic(config.services, config.events_per_s))
        statuses, book = StatusPicker(), MessageBook()
        clock = _Timeline(config, self._clock, self._sleep)
        self.anchor = clock.anchor
        self.incident = incident = scenario.incident(clock.anchor)
        window_start, window_end = (incident.start_s, incident.end_s) if incident else (0.0, 0.0)
        blip_minute, blip = -1, None

        total, index = config.total, 0
        while total is None or index < total:
            scheduled_s, timestamp = clock.moment(index, rng)
            profile = services.pick(rng)
            effect = NO_EFFECT
            if incident is not None and window_start <= scheduled_s < window_end:
                effect = scenario.effect(incident, profile.name, scheduled_s)
            else:
                minute = int(scheduled_s // 60)
                if minute != blip_minute:
                    blip_minute, blip = minute, scenario.blip(config.seed, minute, names)
                if blip is not None and blip.service == profile.name:
                    effect = blip.effect
            host_list = hosts[profile.name]
            host = None
            if effect.host is not None:  # the host decides whether the effect applies: drawn first
                host = pick(rng, host_list)
                if host != host_list[effect.host % len(host_list)]:
                    effect = NO_EFFECT
            status, message = _answer(rng, effect, profile, statuses, book)
            record = {
                "timestamp": timestamp,
                "service": profile.name,
                "status": status,
                "message": message,
                "latency_ms": latency_ms(rng, profile, status, effect.latency_factor, effect.extra_sigma),
                "request_id": _uuid4(rng),
                "host": host if host is not None else pick(rng, host_list),
                "level": level_for(status),
            }
            if config.bad_fraction and bad_rng.random() < config.bad_fraction:
                kind = bad_rng.choice(BAD_KINDS)
                yield LogEvent(make_bad(kind, record, bad_rng), record["request_id"], None, kind)
            else:
                yield LogEvent(encode_record(record), record["request_id"], record)
            index += 1


def _answer(rng: random.Random, effect: Effect, profile: ServiceProfile, statuses: StatusPicker,
            book: MessageBook) -> tuple[int, str]:
    """The status and message of one request under ``effect``: first whether it fails with the
    effect's new error, else a status drawn against the (bent) 5xx share."""
    new_error = effect.new_error
    if new_error is not None and rng.random() < new_error.rate:
        return new_error.status, book.fill(rng, profile, new_error.template)
    status = statuses.pick(rng, status_family(rng, effect.error_rate(profile.server_error_rate), profile))
    return status, book.message(rng, profile, status)


def encode_record(record: dict[str, Any]) -> bytes:
    """The bytes of a valid record: what ``malformed.dumps`` (compact ``json.dumps``) gives, built
    directly because ``json.dumps`` costs a quarter of an event's generation time (a unit test holds
    the two equal)."""
    return (
        f'{{"timestamp":{_json_string(record["timestamp"])},"service":{_json_string(record["service"])},'
        f'"status":{record["status"]},"message":{_json_string(record["message"])},'
        f'"latency_ms":{record["latency_ms"]!r},"request_id":{_json_string(record["request_id"])},'
        f'"host":{_json_string(record["host"])},"level":{_json_string(record["level"])}}}'
    ).encode()


def _uuid4(rng: random.Random) -> str:
    """A version-4 UUID string from ``rng`` (same as ``str(uuid.UUID(int=bits, version=4))``, 3x faster)."""
    bits = rng.getrandbits(128) & _UUID_CLEAR | _UUID_SET
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_UUID_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))  # version nibble and variant bits
_UUID_SET = (0x4000 << 64) | (0x8000 << 48)  # version 4, RFC 4122 variant


def generate(config: GeneratorConfig) -> Iterator[LogEvent]:
    """The events of ``config``, in time order (see ``LogGenerator`` for the run's anchor and incident)."""
    return iter(LogGenerator(config))


class _Timeline:
    """When each event happens: spread over [start, end) in a backfill, paced at ``rate`` live; a
    scenario's volume curve makes busy moments denser and quiet ones sparser in both modes."""

    def __init__(self, config: GeneratorConfig, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self._clock, self._sleep = clock, sleep
        self._live = not config.backfill
        self._curve = config.scenario.volume_curve()
        self._warp: VolumeWarp | None = None
        if config.backfill:
            assert config.start is not None and config.end is not None and config.count is not None
            self.anchor = config.start.astimezone(UTC)
            self._start_ms = _epoch_ms(self.anchor)
            end_ms = _epoch_ms(config.end.astimezone(UTC))
            self._slot_ms = (end_ms - self._start_ms) / max(config.count, 1)
            self._count = max(config.count, 1)
            if self._curve is not None:
                self._warp = VolumeWarp(self._start_ms, end_ms, self._curve)
        else:
            assert config.rate is not None
            began = clock()
            self.anchor = datetime.fromtimestamp(int(began * MS_PER_S) / MS_PER_S, UTC)
            self._start_ms = _epoch_ms(self.anchor)
            self._slot_ms = MS_PER_S / config.rate
        self._next_ms = float(self._start_ms)
        self._stamps = _TimestampFormatter()

    def moment(self, index: int, rng: random.Random) -> tuple[float, str]:
        """(scheduled epoch seconds, the record's timestamp). Backfill: one event per slot, at a
        random point within it, so times are in order but not evenly spaced. Live: wait for the slot."""
        if self._live:
            if self._curve is None:
                scheduled_ms = self._start_ms + index * self._slot_ms
            else:  # called in order: the next slot is as long as the volume where this one starts
                scheduled_ms = self._next_ms
                self._next_ms += self._slot_ms / self._curve(scheduled_ms / MS_PER_S)
            delay = scheduled_ms / MS_PER_S - self._clock()
            if delay > 0:
                self._sleep(delay)
            return scheduled_ms / MS_PER_S, self._stamps.format(int(self._clock() * MS_PER_S))
        if self._warp is None:
            at_ms = int(self._start_ms + (index + rng.random()) * self._slot_ms)
        else:
            at_ms = int(self._warp.at((index + rng.random()) / self._count))
        return at_ms / MS_PER_S, self._stamps.format(at_ms)


class _TimestampFormatter:
    """ISO-8601 UTC with milliseconds and a Z; the date-time part is cached per second (it is the
    slow bit, and consecutive events share it)."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def format(self, epoch_ms: int) -> str:
        second, millis = divmod(epoch_ms, MS_PER_S)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._prefix}.{millis:03d}Z"


def _epoch_ms(moment: datetime) -> int:
    return round((moment - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(milliseconds=1))
