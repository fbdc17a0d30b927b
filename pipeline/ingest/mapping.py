"""The Kinesis event source mapping, reproduced locally: it calls the real Lambda handler in-process.

moto stores Lambda functions but never runs them, so this module does what AWS's poller does for a
Kinesis trigger, with the same settings (``Settings.batch_size`` and friends, also used by
``lambda deploy``):

- one poller thread per shard, one batch in flight per shard, GetRecords at most 5 calls/s per shard;
- StartingPosition TRIM_HORIZON, LATEST or AT_TIMESTAMP; BatchSize; MaximumBatchingWindowInSeconds;
  a 6 MB payload cap per invocation; the event shape of a real Kinesis event;
- on a function error the batch is retried (the shard waits) until it succeeds, MaximumRetryAttempts
  or MaximumRecordAgeInSeconds; BisectBatchOnFunctionError splits it (splitting does not consume
  retries); with ReportBatchItemFailures processing resumes at the lowest failed sequence number;
  a discarded batch goes to the on-failure destination (an SQS queue) as a ``KinesisBatchInfo``;
- the checkpoint (last fully processed sequence number per shard) is written after every batch and
  survives a restart. Delivery is at least once; the handler is idempotent.

One deliberate addition: when a batch resumed at a failed record fails at that same first record
again and bisection is on, it is split like a batch that raised, so one poison record is isolated
and the rest of the shard goes through.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from botocore.config import Config

from pipeline.common.aws import client
from pipeline.ingest.checkpoints import CheckpointStore, default_checkpoint_path
from pipeline.ingest.config import Stats, TriggerConfig
from pipeline.ingest.poller import ShardPoller
from pipeline.ingest.runtime import Handler
from pipeline.settings import Settings


class EventSourceMapping:
    """All shards of one stream, feeding one function."""

    def __init__(self, settings: Settings, handler: Handler, config: TriggerConfig | None = None,
                 stream_name: str | None = None, failure_queue_name: str | None = None,
                 checkpoint_path: Path | None = None) -> None:
        self.settings = settings
        self.handler = handler
        self.config = config or TriggerConfig.from_settings(settings)
        self.stream_name = stream_name or settings.stream_name
        self.function_name = settings.function_name
        self.region = settings.region
        client_config = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=32)
        self.kinesis = client(settings, "kinesis", config=client_config)
        self.sqs = client(settings, "sqs")
        summary = self.kinesis.describe_stream_summary(StreamName=self.stream_name)["StreamDescriptionSummary"]
        self.stream_arn: str = summary["StreamARN"]
        account = self.stream_arn.split(":")[4]
        self.function_arn = f"arn:aws:lambda:{self.region}:{account}:function:{self.function_name}"
        self.role_arn = f"arn:aws:iam::{account}:role/{self.function_name}-role"
        queue = failure_queue_name or settings.failure_queue_name
        self.failure_queue_url: str | None = self.sqs.create_queue(QueueName=queue)["QueueUrl"] if queue else None
        self.checkpoints = CheckpointStore(checkpoint_path or default_checkpoint_path(settings, self.stream_name))
        self.stop_event = threading.Event()
        self.stats = Stats()
        self.pollers: list[ShardPoller] = []

    def start(self) -> None:
        shards = self.kinesis.list_shards(StreamName=self.stream_name)["Shards"]
        self.pollers = [ShardPoller(self, shard["ShardId"]) for shard in shards]
        for poller in self.pollers:
            poller.start()

    def idle_for(self) -> float:
        """Seconds since every shard was caught up with nothing in flight (0 if one is busy)."""
        marks = [p.idle_since for p in self.pollers]
        if not marks or any(mark is None for mark in marks):
            return 0.0
        return time.monotonic() - max(mark for mark in marks if mark is not None)

    def run(self, until_idle_s: float | None = None, report: Callable[[Stats], None] | None = None,
            report_every_s: float = 5.0) -> Stats:
        """Poll until stopped (or, with ``until_idle_s``, until every shard has been idle that long)."""
        self.start()
        next_report = time.monotonic() + report_every_s
        try:
            while not self.stop_event.is_set():
                if until_idle_s is not None and self.idle_for() >= until_idle_s:
                    break
                if report and time.monotonic() >= next_report:
                    report(self.stats)
                    next_report += report_every_s
                self.stop_event.wait(0.1)
        finally:
            self.stop_event.set()
            for poller in self.pollers:
                poller.join(timeout=60)
        errors = [p.error for p in self.pollers if p.error is not None]
        if errors:
            raise RuntimeError(f"a shard poller failed: {errors[0]}") from errors[0]
        return self.stats
