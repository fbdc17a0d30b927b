"""Generating a run: events from the generator, through the producer into Kinesis, with the run's
ground truth written even when the run fails or is stopped (so a partial run can still be checked
against what was really sent)."""

from __future__ import annotations

import datetime as dt
import heapq
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.common.aws import require_stream
from pipeline.common.times import last_minutes
from pipeline.generate.generator import GeneratorConfig, LogEvent, LogGenerator, generate
from pipeline.generate.ground_truth import Tally, build_ground_truth, reserve_run, write_ground_truth
from pipeline.generate.producer import KinesisProducer, ProducerError, ProducerStats, kinesis_client
from pipeline.generate.scenarios import make_scenario
from pipeline.settings import Settings

LIVE_LINGER_S = 0.5  # live mode: a batch waits at most this long for more events before it is sent


@dataclass(frozen=True)
class GenerateResult:
    """What a run sent, and where its ground truth is."""

    run_id: str
    ground_truth_path: Path
    truth: dict[str, Any]
    stats: ProducerStats
    generated: int
    malformed: int
    error: str | None = None  # why the run stopped early (None: it sent everything)
    interrupted: bool = False  # stopped by Ctrl-C

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def incident(self) -> dict[str, Any] | None:
        return self.truth.get("incident")


def _warn(message: str) -> None:
    print(message, file=sys.stderr)


def run(settings: Settings, config: GeneratorConfig, *, stream: str | None = None, concurrency: int | None = None,
        progress: bool = False, say: Callable[[str], None] | None = None) -> GenerateResult:
    """Send the events of ``config`` into ``stream`` and write the run's ground truth.

    Raises WorkbenchError before generating anything when the stream cannot take records. A producer
    failure or Ctrl-C ends the run early; the result says so and the ground truth covers what was sent.
    """
    return _send(settings, [config], stream=stream, concurrency=concurrency, progress=progress, say=say)[0]


def run_merged(settings: Settings, configs: Sequence[GeneratorConfig], *, stream: str | None = None,
               say: Callable[[str], None] | None = None) -> list[GenerateResult]:
    """Send several backfills as one, their events merged in time order; one run (ground truth) each.

    Backfills sent side by side by separate producers interleave by arrival, not by time: as fast
    as a backfill goes, one producer a fraction of a second ahead is minutes ahead in event time,
    and a live window job's watermark follows it, so the other's records arrive late for their
    windows. Merged, the stream carries the time order a live job needs.
    """
    if not all(c.backfill for c in configs):
        raise ValueError("only backfills (start and end) can be merged; live runs are paced by the clock")
    # One PutRecords call at a time: calls in flight side by side could arrive out of order.
    return _send(settings, configs, stream=stream, concurrency=1, progress=False, say=say)


def _timestamp(event: LogEvent) -> str:
    # The generator writes every timestamp in one fixed format, so comparing the strings compares the
    # times. A malformed record has none; it goes out when it comes up (it never moves a watermark).
    return event.record["timestamp"] if event.record is not None else ""


def _send(settings: Settings, configs: Sequence[GeneratorConfig], *, stream: str | None, concurrency: int | None,
          progress: bool, say: Callable[[str], None] | None) -> list[GenerateResult]:
    say = say or _warn
    stream = stream or settings.stream_name
    concurrency = concurrency or settings.generator_concurrency
    client = kinesis_client(settings, concurrency)
    require_stream(settings, stream, client)
    if concurrency > 1 and settings.is_local:
        say(f"warning: {concurrency} PutRecords calls in flight against moto, whose put_record is not safe for "
            "concurrent calls: records may be lost (keep --concurrency 1 locally)")
    runs = [(*reserve_run(settings, c.scenario.name), LogGenerator(c), Tally()) for c in configs]
    linger_s = None if all(c.backfill for c in configs) else LIVE_LINGER_S
    producer = KinesisProducer(client, stream, max_attempts=settings.generator_max_attempts,
                               concurrency=concurrency, linger_s=linger_s)
    for (run_id, _, _, _), config in zip(runs, configs, strict=True):
        mode = "backfill" if config.backfill else f"live at {config.rate:g}/s"
        say(f"run {run_id}: {config.total or 'unlimited'} events ({mode}), scenario {config.scenario.name}, "
            f"seed {config.seed}, into {stream}")
    watched = [tally.watch(generator) for _, _, generator, tally in runs]
    events = watched[0] if len(watched) == 1 else heapq.merge(*watched, key=_timestamp)
    totals = [c.total for c in configs]
    total = None if None in totals else sum(t for t in totals if t is not None)
    error, interrupted = None, False
    try:
        producer.send(events, total=total, progress=progress)
    except ProducerError as exc:
        error = str(exc)
    except KeyboardInterrupt:
        error, interrupted = "interrupted", True
    results = []
    for run_id, run_dir, generator, tally in runs:
        # Merged runs share one producer: each is credited with its own events when all went out.
        stats = producer.stats if len(runs) == 1 else replace(
            producer.stats, sent=tally.generated if error is None else min(tally.generated, producer.stats.sent))
        truth = build_ground_truth(run_id=run_id, generator=generator, tally=tally, stream=stream, stats=stats,
                                   error=error)
        path = write_ground_truth(run_dir, truth)
        results.append(GenerateResult(run_id=run_id, ground_truth_path=path, truth=truth, stats=stats,
                                      generated=tally.generated, malformed=len(tally.malformed), error=error,
                                      interrupted=interrupted))
    return results


def backfill_config(scenario: str = "payment-outage", count: int = 20_000, minutes: int = 60, seed: int = 7,
                    bad_fraction: float = 0.01, params: dict[str, Any] | None = None,
                    end: dt.datetime | None = None) -> GeneratorConfig:
    """A backfill of the last ``minutes`` whole minutes (before ``end``, default now)."""
    start, end = last_minutes(minutes, end)
    return GeneratorConfig(count=count, seed=seed, bad_fraction=bad_fraction, start=start, end=end,
                           scenario=make_scenario(scenario, {k: str(v) for k, v in (params or {}).items()}))


def sent_per_minute(config: GeneratorConfig) -> pd.DataFrame:
    """What a run of ``config`` sends, per minute and service: records, server_errors, p95_latency_ms.

    The generator is deterministic, so generating again gives exactly the records that were sent.
    """
    records = pd.DataFrame([e.record for e in generate(config) if e.record is not None])
    records["minute"] = pd.to_datetime(records["timestamp"]).dt.tz_localize(None).dt.floor("min")
    records["server_error"] = records["status"] >= 500
    return records.groupby(["minute", "service"]).agg(
        records=("status", "size"), server_errors=("server_error", "sum"),
        p95_latency_ms=("latency_ms", lambda s: s.quantile(0.95))).reset_index()
