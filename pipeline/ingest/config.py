"""The event source mapping's settings and counters, shared by the local trigger and the deploy."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any

from pipeline.settings import Settings


@dataclass(frozen=True)
class TriggerConfig:
    """The event source mapping's settings; the deployed mapping gets the same values."""

    batch_size: int = 100
    max_batching_window_s: float = 0.0
    starting_position: str = "TRIM_HORIZON"
    starting_timestamp: dt.datetime | None = None
    max_retry_attempts: int = -1
    max_record_age_s: int = -1
    bisect_batch_on_error: bool = False
    report_batch_item_failures: bool = False
    retry_backoff_s: float = 0.2

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> TriggerConfig:
        values = {
            "batch_size": settings.batch_size,
            "max_batching_window_s": float(settings.max_batching_window_s),
            "starting_position": settings.starting_position,
            "max_retry_attempts": settings.max_retry_attempts,
            "max_record_age_s": settings.max_record_age_s,
            "bisect_batch_on_error": settings.bisect_batch_on_error,
            "report_batch_item_failures": settings.report_batch_item_failures,
        }
        return cls(**(values | {k: v for k, v in overrides.items() if v is not None}))


@dataclass
class Stats:
    """What a trigger run delivered; updated by every shard's poller thread."""

    invocations: int = 0
    records: int = 0
    function_errors: int = 0
    partial_failures: int = 0
    discarded_batches: int = 0
    discarded_records: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)
