"""Incremental template mining of the raw logs in MongoDB, over closed time, into PostgreSQL.

``mine_stored`` reads the raw logs from where the stored cursor stands up to a closed moment (now
minus ``mining_settle_s`` and the watermark bound, or an earlier ``until``), one UTC hour at a time
(the Lambda's hourly buckets: FerretDB reads a whole collection for any range query; hours without
a bucket are passed over), mines each hour's logs in event-time order and stores the step with the
cursor in one transaction. Run again, it goes on from the cursor: no log is mined twice; a run
killed mid-way loses only its uncommitted hour, which the next run mines.

A log stored after its hour was mined (a producer or trigger more than ``mining_settle_s`` behind,
or a backfill of past hours) is not mined, as the windows do not count late logs either;
``pattern_queries.coverage`` shows the difference for a range, and ``rebuild`` mines every stored
log again.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pymongo import MongoClient
from tqdm import tqdm

from pipeline.analysis.template_store import forget, load_cursor, save_step
from pipeline.common.errors import WorkbenchError
from pipeline.common.times import utc_naive
from pipeline.ingest.buckets import HOUR, bucket_hours, raw_sources
from pipeline.settings import Settings

MINUTE = dt.timedelta(minutes=1)


class NothingToMine(WorkbenchError):
    """No raw logs are stored, so mining has no place to start."""


@dataclass(frozen=True)
class MiningReport:
    started_from: dt.datetime | None
    mined_until: dt.datetime | None
    logs: int
    steps: int
    templates: int  # templates the miner knows now, all services
    read_s: float
    mine_s: float
    store_s: float

    @property
    def seconds(self) -> float:
        return self.read_s + self.mine_s + self.store_s


def closed_until(settings: Settings, now: dt.datetime | None = None) -> dt.datetime:
    """The end of closed time: the last whole minute at least settle + watermark bound ago."""
    now = utc_naive(now or dt.datetime.now(dt.UTC))
    moment = now - dt.timedelta(seconds=settings.mining_settle_s + settings.watermark_bound_s)
    return moment.replace(second=0, microsecond=0)


def _first_stored(client: MongoClient, settings: Settings) -> dt.datetime | None:
    database = client[settings.mongodb_database]
    names = database.list_collection_names()
    hours = list(bucket_hours(settings, names).values())
    candidates = [min(hours)] if hours else []
    if settings.raw_collection in names:
        first = database[settings.raw_collection].find_one({}, {"timestamp": 1}, sort=[("timestamp", 1)])
        if first is not None:
            candidates.append(utc_naive(first["timestamp"]).replace(second=0, microsecond=0))
    return min(candidates) if candidates else None


def read_logs(client: MongoClient, settings: Settings, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """The raw logs of [start, end) in the order the miner takes them: event time, then ``_id``."""
    database = client[settings.mongodb_database]
    logs: list[dict[str, Any]] = []
    for name in raw_sources(settings, start, end):
        logs += database[name].find({"timestamp": {"$gte": start, "$lt": end}}, {"kinesis": 0})
    logs.sort(key=lambda log: (log["timestamp"], str(log["_id"])))
    return logs


def _step_ends(client: MongoClient, settings: Settings, position: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Where the steps of [position, end) end: after each hour that has logs stored, and at ``end``.
    Hours without a bucket are passed over in the next step (with the unbucketed collection, every
    hour is a step: any may hold logs)."""
    names = client[settings.mongodb_database].list_collection_names()
    if settings.raw_collection in names:
        hours = []
        hour = position.replace(minute=0, second=0, microsecond=0)
        while hour < end:
            hours.append(hour)
            hour += HOUR
    else:
        hours = sorted(h for h in bucket_hours(settings, names).values() if position - HOUR < h < end)
    ends = sorted({min(end, hour + HOUR) for hour in hours if hour + HOUR > position} | {end})
    return [moment for moment in ends if moment > position]


def mine_stored(settings: Settings, until: dt.datetime | None = None, *, progress: bool = True,
                max_steps: int | None = None, now: dt.datetime | None = None, rebuild: bool = False,
                on_step: Callable[[dt.datetime], None] | None = None) -> MiningReport:
    """Mine the raw logs from the stored cursor up to ``until`` (default and at most: closed time).

    ``rebuild`` first forgets what was mined from these raw logs, so every stored log is mined
    again (the remedy for logs stored after their hour was mined). ``max_steps`` stops after that
    many steps (the rest is mined by the next run); ``on_step`` is called after each stored step
    with the new cursor."""
    end = closed_until(settings, now)
    if until is not None:
        end = min(end, utc_naive(until).replace(second=0, microsecond=0))
    if rebuild:
        forget(settings)
    cursor = load_cursor(settings)
    miner, began = cursor.miner, cursor.mined_until
    read_s = mine_s = store_s = 0.0
    logs = steps = 0
    with MongoClient(settings.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        start = began or _first_stored(client, settings)
        if start is None:
            raise NothingToMine("no raw logs are stored yet, so the template miner has nothing to mine",
                                "ingest logs first: 'python -m pipeline generate' with the Lambda trigger running")
        position, stored = start, began
        ends = _step_ends(client, settings, position, end)[:max_steps]
        for step_end in tqdm(ends, unit="step", desc="mining templates", disable=not progress or not ends):
            t0 = time.perf_counter()
            batch = read_logs(client, settings, position, step_end)
            t1 = time.perf_counter()
            step = miner.mine(batch)
            t2 = time.perf_counter()
            save_step(settings, step, miner, stored, step_end)
            t3 = time.perf_counter()
            read_s, mine_s, store_s = read_s + t1 - t0, mine_s + t2 - t1, store_s + t3 - t2
            logs, steps, position = logs + step.logs, steps + 1, step_end
            stored = position
            if on_step is not None:
                on_step(position)
    mined_until = position if steps else began
    return MiningReport(began, mined_until, logs, steps, len(miner.miner.templates()), read_s, mine_s, store_s)
