"""The traffic of a live run: first every feed's quiet history, then each feed's live traffic.

The incident detector judges each minute against the service's own baseline, which it takes from
the service's normal minutes in the windows it reads (at least ``min_baseline_minutes`` of them,
and more normal than abnormal ones). On a fresh stack there are none, so an incident a few minutes
into a live run would have nothing to be judged against. A run therefore first sends the last
``history_min`` minutes of each feed's traffic as a backfill (timestamped in the past, the
scenario's incident moved beyond it): all feeds' histories at once, merged in time order by one
producer (``send_history``). Sent side by side by separate processes, a backfill's hundreds of
event-seconds a second would put one feed minutes ahead of the other in event time, and the live
window job's watermark would make the other's records late. Then each feed, as a process of its
own, paces live events at ``rate`` a second, timestamped now, with the incident ``start_min``
minutes after its live part began. Both parts go through ``pipeline.generate``, so each has its
ground truth.

``prefix`` renames every service (and the scenario's service): runs side by side, or a test's
run, keep their windows and alerts apart from everyone else's in the shared PostgreSQL tables.

``python -m pipeline.live.feed --plan JSON --stream NAME --state FILE`` is the live process; it
writes what it did (the live part's start, the incident, the ground truth file) to the state file.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline import generate
from pipeline.common.errors import WorkbenchError
from pipeline.common.files import write_json_atomic
from pipeline.common.times import iso_z
from pipeline.generate.generator import GeneratorConfig
from pipeline.generate.run import GenerateResult
from pipeline.generate.scenarios import Scenario, make_scenario
from pipeline.generate.traffic import DEFAULT_SERVICES, ServiceProfile
from pipeline.settings import Settings


@dataclass(frozen=True)
class FeedPlan:
    """One generator of a live run: its scenario, pace and length, and the history sent first."""

    scenario: str = "payment-outage"
    params: dict[str, str] = field(default_factory=dict)  # scenario parameters, as text (as -p KEY=VALUE)
    rate: float = 20.0  # live events a second
    duration_s: float = 600.0  # length of the live part
    history_min: int = 15  # minutes of quiet traffic sent (as a backfill) before the live part
    seed: int = 7
    prefix: str = ""  # put before every service name

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.duration_s <= 0:
            raise ValueError(f"rate and duration must be > 0, got {self.rate} and {self.duration_s}")
        if self.history_min < 0:
            raise ValueError(f"history_min must be >= 0, got {self.history_min}")
        self.live_scenario()  # refuses unknown scenarios and parameters now, not in the child process

    def services(self) -> tuple[ServiceProfile, ...]:
        return tuple(dataclasses.replace(p, name=self.prefix + p.name) for p in DEFAULT_SERVICES)

    def live_scenario(self) -> Scenario:
        """The scenario of the live part, its service renamed with the prefix."""
        scenario = make_scenario(self.scenario, self.params)
        if "service" in _fields(scenario):
            scenario = dataclasses.replace(scenario, service=self.prefix + scenario.service)  # type: ignore[type-var]
        return scenario

    def history_scenario(self) -> Scenario:
        """The same scenario (traffic shares, blips) with its incident after the history's end."""
        scenario = self.live_scenario()
        if "start_min" in _fields(scenario):
            scenario = dataclasses.replace(scenario, start_min=self.history_min)  # type: ignore[type-var]
        return scenario

    @property
    def incident_service(self) -> str | None:
        """The service the scenario bends (None: a scenario without an incident)."""
        scenario = self.live_scenario()
        if scenario.incident(dt.datetime.now(dt.UTC)) is None:
            return None
        return str(getattr(scenario, "service", "")) or None

    @property
    def incident_minutes(self) -> tuple[float, float] | None:
        """(start, end) of the incident in minutes after the live part's start, when the scenario says."""
        scenario = self.live_scenario()
        anchor = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        incident = scenario.incident(anchor)
        if incident is None:
            return None
        return ((incident.start - anchor).total_seconds() / 60, (incident.end - anchor).total_seconds() / 60)

    def history_config(self, end: dt.datetime) -> GeneratorConfig:
        """The backfill of the ``history_min`` minutes before ``end``, at the live rate."""
        start = end - dt.timedelta(minutes=self.history_min)
        return GeneratorConfig(count=max(1, round(self.rate * self.history_min * 60)), seed=self.seed,
                               scenario=self.history_scenario(), start=start, end=end, services=self.services())

    def live_config(self) -> GeneratorConfig:
        return GeneratorConfig(count=None, seed=self.seed + 1, scenario=self.live_scenario(), rate=self.rate,
                               duration_s=self.duration_s, services=self.services())

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FeedPlan:
        return cls(**json.loads(text))


def _fields(scenario: Scenario) -> set[str]:
    return {f.name for f in dataclasses.fields(scenario)} if dataclasses.is_dataclass(scenario) else set()


def send_history(settings: Settings, plans: Sequence[FeedPlan], stream: str,
                 say: Callable[[str], None] = print) -> list[GenerateResult]:
    """Send the history of every plan that has one, merged in time order, ending now.

    Raises WorkbenchError when the stream did not take all of it."""
    plans = [plan for plan in plans if plan.history_min]
    if not plans:
        return []
    end = dt.datetime.now(dt.UTC).replace(microsecond=0)
    began = time.monotonic()
    results = generate.run_merged(settings, [plan.history_config(end) for plan in plans], stream=stream, say=say)
    failed = next((r for r in results if not r.ok), None)
    if failed is not None and failed.interrupted:
        raise KeyboardInterrupt
    if failed is not None:
        raise WorkbenchError(f"the history was not sent completely: {failed.error}",
                             "check the stack ('python -m pipeline stack status') and start the run again")
    minutes = max(plan.history_min for plan in plans)
    say(f"history: {sum(r.stats.sent for r in results)} events of the {minutes} minutes before {iso_z(end)} "
        f"for {len(plans)} feed(s), in time order, in {time.monotonic() - began:.1f} s")
    return results


def run_feed(settings: Settings, plan: FeedPlan, stream: str, state_path: Path) -> int:
    """Send the live part (the run has sent the history); the exit code (0: everything sent)."""
    state: dict[str, Any] = {"plan": dataclasses.asdict(plan), "stream": stream}

    def note(**values: Any) -> None:
        state.update(values)
        write_json_atomic(state_path, state, indent=2)

    def say(line: str) -> None:
        print(line, flush=True)

    began = dt.datetime.now(dt.UTC)
    planned = plan.live_scenario().incident(began)
    note(phase="live", live_started=began.isoformat(),
         incident=None if planned is None else {"service": planned.service, "start": planned.start.isoformat(),
                                               "end": planned.end.isoformat()})
    if planned is not None:
        say(f"live from {iso_z(began)}; incident: {planned.service} from about {iso_z(planned.start)} "
            f"to {iso_z(planned.end)}")
    live = generate.run(settings, plan.live_config(), stream=stream, say=say)
    truth = live.incident
    note(phase="done" if live.ok else "failed", error=live.error, live_sent=live.stats.sent,
         ground_truth=str(live.ground_truth_path), incident=truth)
    say(f"live: {live.stats.sent} events in {live.stats.seconds:.1f} s; ground truth {live.ground_truth_path}")
    if live.interrupted:
        return 130
    return 0 if live.ok else 1


def _stop_on_sigterm() -> None:
    """SIGTERM (how a live run stops its processes) ends the generator like Ctrl-C: the ground truth
    of what was sent is still written."""
    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.live.feed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plan", required=True, help="the FeedPlan as JSON")
    parser.add_argument("--stream", required=True)
    parser.add_argument("--state", required=True, type=Path, help="where to write what the feed did (JSON)")
    args = parser.parse_args(argv)
    _stop_on_sigterm()
    try:
        return run_feed(Settings(), FeedPlan.from_json(args.plan), args.stream, args.state)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
