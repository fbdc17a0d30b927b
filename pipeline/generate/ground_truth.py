"""The ground truth of a generator run, written next to the run so later steps can be checked.

``<settings.var_dir>/runs/<run_id>/ground_truth.json`` says which scenario ran on which service in
which UTC minutes, with its parameters and seed, how many records were generated and sent, and for
every malformed record its kind and the sha256 of its bytes (the Lambda's quarantine must hold
exactly those). A ``Tally`` watches the events on their way to the producer and counts them.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.common.errors import WorkbenchError
from pipeline.common.files import write_json_atomic
from pipeline.common.times import parse_moment, to_utc
from pipeline.generate.generator import GeneratorConfig, LogEvent, LogGenerator
from pipeline.generate.scenarios import Incident

if TYPE_CHECKING:
    from pipeline.generate.producer import ProducerStats
    from pipeline.settings import Settings

RUNS_DIR_NAME = "runs"
GROUND_TRUTH_FILE = "ground_truth.json"
FORMAT_VERSION = 1
SERVER_ERROR = 500
INCIDENT_COUNTS = ("records_in_window", "server_errors_in_window", "records_outside", "server_errors_outside")


@dataclass
class Tally:
    """Counts of the events that passed by; malformed ones one by one, with their sha256."""

    generated: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    by_service: Counter[str] = field(default_factory=Counter)
    malformed: list[dict[str, Any]] = field(default_factory=list)
    incident: Incident | None = None
    incident_counts: dict[str, int] = field(default_factory=dict)
    first_timestamp: str | None = None
    last_timestamp: str | None = None

    def watch(self, events: Iterable[LogEvent]) -> Iterator[LogEvent]:
        """Pass the events through unchanged, counting each one. Given a ``LogGenerator``, also count
        the incident service's records inside and outside the incident (known once the run began)."""
        bounds: tuple[str, str] | None = None
        for event in events:
            if self.generated == 0 and isinstance(events, LogGenerator) and events.incident is not None:
                self.incident = events.incident
                self.incident_counts = dict.fromkeys(INCIDENT_COUNTS, 0)
                bounds = (_iso(self.incident.start) or "", _iso(self.incident.end) or "")
            self.observe(event, bounds)
            yield event

    def observe(self, event: LogEvent, incident_bounds: tuple[str, str] | None = None) -> None:
        index = self.generated
        self.generated += 1
        if event.record is None:
            kind = event.bad_kind or "unknown"
            self.by_kind[kind] += 1
            self.malformed.append({"index": index, "kind": kind, "sha256": hashlib.sha256(event.data).hexdigest(),
                                   "bytes": len(event.data), "partition_key": event.partition_key})
            return
        record = event.record
        timestamp: str = record["timestamp"]
        if self.first_timestamp is None:
            self.first_timestamp = timestamp
        self.last_timestamp = timestamp
        self.by_service[record["service"]] += 1
        if incident_bounds is not None and self.incident is not None and record["service"] == self.incident.service:
            # Timestamps share one fixed format, so comparing the strings compares the times.
            where = "in_window" if incident_bounds[0] <= timestamp < incident_bounds[1] else "outside"
            self.incident_counts[f"records_{where}"] += 1
            if record["status"] >= SERVER_ERROR:
                self.incident_counts[f"server_errors_{where}"] += 1

    @property
    def valid(self) -> int:
        return self.generated - len(self.malformed)


def runs_dir(settings: Settings) -> Path:
    return settings.var_dir / RUNS_DIR_NAME


def reserve_run(settings: Settings, scenario: str, now: datetime | None = None) -> tuple[str, Path]:
    """A new run id (UTC start time + scenario) and its folder, created so no other run takes it."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    base = f"{stamp}-{scenario}"
    parent = runs_dir(settings)
    parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        run_id = base if attempt == 1 else f"{base}-{attempt}"
        try:
            (parent / run_id).mkdir()
        except FileExistsError:
            continue
        return run_id, parent / run_id
    raise RuntimeError(f"no free run folder for {base} in {parent}")


def build_ground_truth(*, run_id: str, generator: LogGenerator, tally: Tally, stream: str,
                       stats: ProducerStats | None = None, error: str | None = None) -> dict[str, Any]:
    """The ground truth as a JSON-ready dict (see the module docstring)."""
    config: GeneratorConfig = generator.config
    incident = generator.incident
    sent = stats.sent if stats is not None else 0
    return {
        "format_version": FORMAT_VERSION,
        "run_id": run_id,
        "scenario": config.scenario.name,
        "service": incident.service if incident else None,
        "parameters": config.scenario.parameters(),
        "incident": _incident(incident),
        "failing_host": generator.failing_host,  # the host of a host-failure incident, else null
        "hosts": {service: list(names) for service, names in generator.hosts.items()},
        "seed": config.seed,
        "mode": "backfill" if config.backfill else "live",
        "anchor": _iso(generator.anchor) if generator.anchor else None,
        "range": {"start": _iso(config.start), "end": _iso(config.end)} if config.backfill else None,
        "rate": config.rate,
        "bad_fraction": config.bad_fraction,
        "stream": stream,
        "complete": error is None and sent == tally.generated,
        "error": error,
        "counts": {
            "requested": config.total,
            "generated": tally.generated,
            "sent": sent,
            "valid": tally.valid,
            "malformed": len(tally.malformed),
            "by_kind": dict(sorted(tally.by_kind.items())),
            "by_service": dict(sorted(tally.by_service.items())),
            "incident": tally.incident_counts or None,
        },
        "first_timestamp": tally.first_timestamp,
        "last_timestamp": tally.last_timestamp,
        "producer": asdict(stats) if stats is not None else None,
        "malformed": tally.malformed,
    }


def write_ground_truth(run_dir: Path, truth: dict[str, Any]) -> Path:
    """Write ``truth`` as ``<run_dir>/ground_truth.json`` (atomically: a reader never sees half)."""
    return write_json_atomic(run_dir / GROUND_TRUTH_FILE, truth, indent=2)


def read_ground_truth(settings: Settings, run_id: str) -> dict[str, Any]:
    return json.loads((runs_dir(settings) / run_id / GROUND_TRUTH_FILE).read_text(encoding="utf-8"))


def _incident(incident: Incident | None) -> dict[str, Any] | None:
    if incident is None:
        return None
    return {
        "service": incident.service,
        "start": _iso(incident.start),  # inclusive
        "end": _iso(incident.end),  # exclusive
        "start_minute": _minute_key(incident.start),  # the minute the incident starts in
        "end_minute": _minute_key(incident.end),  # the minute it ends in (exclusive if end is a whole minute)
        "minutes": [_minute_key(m) for m in incident.minutes()],  # every minute it touches
        "full_minutes": [_minute_key(m) for m in incident.full_minutes()],  # the minutes it covers entirely
    }


def _minute_key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def latest_run(settings: Settings) -> dict[str, Any] | None:
    """The ground truth of the newest generator run, or None."""
    files = sorted(runs_dir(settings).glob("*/ground_truth.json"), key=lambda p: p.stat().st_mtime)
    return json.loads(files[-1].read_text(encoding="utf-8")) if files else None


def _moment(value: str | datetime) -> datetime:
    return to_utc(value) if isinstance(value, datetime) else parse_moment(value, relative=False)


def range_or_latest_run(settings: Settings, start: str | datetime | None,
                         end: str | datetime | None) -> tuple[datetime, datetime]:
    """The given range (ISO-8601 or datetimes, UTC unless they say otherwise), else the newest
    generator run's: what a notebook looks at when it is given no range."""
    if start and end:
        return _moment(start), _moment(end)
    run = latest_run(settings)
    if run is None:
        raise WorkbenchError("no time range given and no generator run found",
                             "pass start and end, or run 'python -m pipeline generate' first")
    return range_or_latest_run(settings, run["range"]["start"], run["range"]["end"])
