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
  survives a restart. Delivery is at least once; the handler is idempotent;
- resharding: the shards are listed again every few seconds and whenever a poller drains a closed
  shard (its ``NextShardIterator`` is null). A shard is read only once its parent, and for a merge its
  adjacent parent too, is finished: closed and every record of it done, marked ``SHARD_END`` in the
  checkpoint file (a parent no longer listed, past the stream's retention, counts as finished). So
  records of one partition key reach the function in order across a split or a merge, and a
  restarted trigger never reads a finished parent again. A child of a shard this mapping read
  starts at TRIM_HORIZON; with StartingPosition LATEST, a shard already closed when first seen (and
  whose parents this mapping never read) is skipped, as there is nothing after "now" in it;
- ``run(until_idle_s=...)`` ends only when every open shard is caught up, every closed shard is
  drained and no shard waits for its parents, confirmed by a last listing of the shards;
- one trigger per mapping: ``run`` holds an exclusive lock beside the checkpoint file (see
  ``pipeline.ingest.checkpoints.TriggerLock``); a second trigger on the same stream and function fails
  and names the holder.

One deliberate addition: when a batch resumed at a failed record fails at that same first record
again and bisection is on, it is split like a batch that raised, so one poison record is isolated
and the rest of the shard goes through.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pipeline.common.aws import client
from pipeline.ingest.checkpoints import CheckpointStore, TriggerLock, default_checkpoint_path, lock_path
from pipeline.ingest.config import Stats, TriggerConfig
from pipeline.ingest.poller import ShardPoller
from pipeline.ingest.runtime import Handler
from pipeline.settings import Settings

log = logging.getLogger("pipeline.ingest")

DISCOVERY_INTERVAL_S = 5.0  # how often the shards are listed again (and whenever a closed shard is drained)


def _closed(shard: dict[str, Any]) -> bool:
    return "EndingSequenceNumber" in shard.get("SequenceNumberRange", {})


class EventSourceMapping:
    """All shards of one stream, feeding one function."""

    def __init__(self, settings: Settings, handler: Handler, config: TriggerConfig | None = None,
                 stream_name: str | None = None, failure_queue_name: str | None = None,
                 checkpoint_path: Path | None = None, discovery_interval_s: float = DISCOVERY_INTERVAL_S) -> None:
        self.settings = settings
        self.handler = handler
        self.config = config or TriggerConfig.from_settings(settings)
        self.stream_name = stream_name or settings.stream_name
        self.function_name = settings.function_name
        self.region = settings.region
        self.discovery_interval_s = discovery_interval_s
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
        self.lock = TriggerLock(lock_path(self.checkpoints.path), f"{self.stream_name} -> {self.function_name}")
        self.stop_event = threading.Event()
        self.shard_ended = threading.Event()  # set by a poller that drained a closed shard
        self.stats = Stats()
        self.pollers: dict[str, ShardPoller] = {}
        self.shards: dict[str, dict[str, Any]] = {}  # the last listing, by shard id
        self.skipped: set[str] = set()
        self._listed_at = 0.0  # the last listing tried ...
        self._listed_ok_at = 0.0  # ... and the last that worked

    # --- shards ----------------------------------------------------------------------------------
    def list_shards(self) -> list[dict[str, Any]]:
        shards: list[dict[str, Any]] = []
        args: dict[str, Any] = {"StreamName": self.stream_name}
        while True:
            page = self.kinesis.list_shards(**args)
            shards += page["Shards"]
            if not page.get("NextToken"):
                return shards
            args = {"NextToken": page["NextToken"]}

    def _finished(self, shard_id: str) -> bool:
        """Drained by this mapping. A ``SHARD_END`` on a shard listed as open is stale (moto forgets its
        streams on a restart; a stream created again reuses the shard ids) and does not count."""
        shard = self.shards.get(shard_id)
        return self.checkpoints.finished(shard_id) and (shard is None or _closed(shard))

    def _parent_finished(self, parent: str) -> bool:
        return parent not in self.shards or parent in self.skipped or self._finished(parent)

    def waiting(self) -> list[str]:
        """Listed shards not read yet: waiting for a parent to be finished."""
        return [s for s in self.shards if s not in self.pollers and s not in self.skipped and not self._finished(s)]

    def discover(self) -> list[str]:
        """List the shards; start a poller for each shard whose parents are finished. The shards started."""
        try:
            self.shards = {shard["ShardId"]: shard for shard in self.list_shards()}
        except (ClientError, BotoCoreError) as exc:
            raise RuntimeError(f"cannot list the shards of {self.stream_name}: {exc}") from exc
        self._listed_at = self._listed_ok_at = time.monotonic()
        started = []
        for shard_id in sorted(self.shards):  # parents before children: shard ids only grow
            if shard_id in self.pollers or shard_id in self.skipped or self._finished(shard_id):
                continue
            shard = self.shards[shard_id]
            parents = [p for p in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")) if p]
            if not all(self._parent_finished(p) for p in parents):
                continue
            if self.checkpoints.finished(shard_id):  # an open shard marked finished: a stale checkpoint file
                log.warning("%s is open but its checkpoint says SHARD_END (the stream was created again?): "
                            "reading it from the starting position", shard_id)
            lineage = any(self.checkpoints.known(p) for p in parents)  # this mapping read a parent
            if (_closed(shard) and not lineage and self.config.starting_position == "LATEST"
                    and not self.checkpoints.known(shard_id)):
                self.skipped.add(shard_id)  # closed before we came: nothing in it after LATEST
                continue
            # A child of a shard we read starts at its first record (AT_TIMESTAMP stays right for any shard).
            position = "TRIM_HORIZON" if lineage and self.config.starting_position != "AT_TIMESTAMP" else None
            poller = ShardPoller(self, shard_id, starting_position=position)
            self.pollers[shard_id] = poller
            poller.start()
            started.append(shard_id)
            if parents:
                log.info("%s: started after its parent(s) %s", shard_id, ", ".join(parents))
        return started

    def start(self) -> None:
        self.discover()

    def _rediscover(self) -> bool:
        """``discover`` while running: a failed listing is logged and tried again later. Whether it worked."""
        try:
            self.discover()
        except RuntimeError as exc:
            self._listed_at = time.monotonic()
            log.warning("%s; trying again in %.0f s", exc, self.discovery_interval_s)
            return False
        return True

    def idle_for(self) -> float:
        """Seconds since every open shard was caught up and every closed one drained, with nothing in
        flight and no shard waiting for its parents (0 if one is busy)."""
        marks = [p.idle_since for p in self.pollers.values()]
        if not marks or any(mark is None for mark in marks) or self.waiting():
            return 0.0
        return time.monotonic() - max(mark for mark in marks if mark is not None)

    # --- running ---------------------------------------------------------------------------------
    def run(self, until_idle_s: float | None = None, report: Callable[[Stats], None] | None = None,
            report_every_s: float = 5.0) -> Stats:
        """Poll until stopped (or, with ``until_idle_s``, until every shard has been idle that long).

        Holds the mapping's lock while it runs (raises TriggerLockedError if another trigger holds it).
        """
        self.lock.acquire()
        try:
            return self._run(until_idle_s, report, report_every_s)
        finally:
            self.lock.release()

    def _run(self, until_idle_s: float | None, report: Callable[[Stats], None] | None,
             report_every_s: float) -> Stats:
        next_report = time.monotonic() + report_every_s
        try:
            self.start()
            while not self.stop_event.is_set():
                if self.shard_ended.is_set() or time.monotonic() - self._listed_at >= self.discovery_interval_s:
                    self.shard_ended.clear()
                    self._rediscover()
                idle = self.idle_for()
                if until_idle_s is not None and idle >= until_idle_s and not self.shard_ended.is_set():
                    if self._listed_ok_at >= time.monotonic() - idle:
                        break  # listed since everything went idle: no shard split or merged meanwhile
                    if time.monotonic() - self._listed_at >= 1.0:  # a last look (once a second if it fails)
                        self._rediscover()
                        continue
                if report and time.monotonic() >= next_report:
                    report(self.stats)
                    next_report += report_every_s
                self.stop_event.wait(0.1)
        finally:
            self.stop_event.set()
            for poller in self.pollers.values():
                poller.join(timeout=60)
        errors = [p.error for p in self.pollers.values() if p.error is not None]
        if errors:
            raise RuntimeError(f"a shard poller failed: {errors[0]}") from errors[0]
        return self.stats
