"""Where the Lambda puts raw logs: one collection per UTC hour of the log's ``timestamp``
(``<raw_collection>_<YYYYMMDDHH>``, with ``raw_bucket=hour``), plus the unbucketed collection.

FerretDB v1 applies every filter but ``_id`` equality after reading the whole collection, so a
time-range question reads only the buckets that overlap it (``raw_sources``). The handler in
``lambda/`` names the buckets the same way; it is deployed on its own and cannot import this.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from pymongo import MongoClient

from pipeline.common.times import utc_naive
from pipeline.settings import Settings

BUCKET_FORMAT = "%Y%m%d%H"
HOUR = dt.timedelta(hours=1)


def bucket_name(settings: Settings, moment: dt.datetime) -> str:
    """The hourly bucket collection of a (UTC) moment: ``raw_logs_2026112710``."""
    return f"{settings.raw_collection}_{utc_naive(moment):{BUCKET_FORMAT}}"


def _mongo(settings: Settings) -> MongoClient:
    return MongoClient(settings.mongo_uri, serverSelectionTimeoutMS=5000)


def bucket_hours(settings: Settings, names: Iterable[str]) -> dict[str, dt.datetime]:
    """The bucket collections among ``names``, with the (naive UTC) hour each one holds."""
    pattern = re.compile(re.escape(settings.raw_collection) + r"_(\d{10})")
    found = {}
    for name in names:
        match = pattern.fullmatch(name)
        if match:
            try:
                found[name] = dt.datetime.strptime(match.group(1), BUCKET_FORMAT)
            except ValueError:
                continue
    return found


def raw_sources(settings: Settings, start: dt.datetime, end: dt.datetime) -> list[str]:
    """The collections holding the raw logs of [start, end): the overlapping hourly buckets, plus
    the unbucketed collection when it exists. Sorted; empty when nothing is stored."""
    lo, hi = utc_naive(start), utc_naive(end)
    with _mongo(settings) as client:
        names = client[settings.mongodb_database].list_collection_names()
    chosen = [name for name, hour in bucket_hours(settings, names).items() if hour < hi and hour + HOUR > lo]
    if settings.raw_collection in names:
        chosen.append(settings.raw_collection)
    return sorted(chosen)
