"""Generating a run: events from the generator, through the producer into Kinesis, with the run's
ground truth written even when the run fails or is stopped (so a partial run can still be checked
against what was really sent)."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.common.aws import require_stream
from pipeline.common.times import last_minutes
from pipeline.generate.generator import GeneratorConfig, LogGenerator, generate
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
    say = say or _warn
    stream = stream or settings.stream_name
    concurrency = concurrency or settings.generator_concurrency
    client = kinesis_client(settings, concurrency)
    require_stream(settings, stream, client)
    if concurrency > 1 and settings.is_local:
        say(f"warning: {concurrency} PutRecords calls in flight against moto, whose put_record is not safe for "
            "concurrent calls: records may be lost (keep --concurrency 1 locally)")
    run_id, run_dir = reserve_run(settings, config.scenario.name)
    generator, tally = LogGenerator(config), Tally()
    producer = KinesisProducer(client, stream, max_attempts=settings.generator_max_attempts,
                               concurrency=concurrency, linger_s=None if config.backfill else LIVE_LINGER_S)
    mode = "backfill" if config.backfill else f"live at {config.rate:g}/s"
    say(f"run {run_id}: {config.total or 'unlimited'} events ({mode}), scenario {config.scenario.name}, "
        f"seed {config.seed}, into {stream}")
    error, interrupted = None, False
    try:
        producer.send(tally.watch(generator), total=config.total, progress=progress)
    except ProducerError as exc:
        error = str(exc)
    except KeyboardInterrupt:
        error, interrupted = "interrupted", True
    truth = build_ground_truth(run_id=run_id, generator=generator, tally=tally, stream=stream,
                               stats=producer.stats, error=error)
    path = write_ground_truth(run_dir, truth)
    return GenerateResult(run_id=run_id, ground_truth_path=path, truth=truth, stats=producer.stats,
                          generated=tally.generated, malformed=len(tally.malformed), error=error,
                          interrupted=interrupted)


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
