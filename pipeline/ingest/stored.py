"""What the Lambda stored: a sample of raw logs and the quarantine by reason, straight from MongoDB."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from pymongo import DESCENDING, MongoClient

from pipeline.ingest.buckets import raw_sources
from pipeline.settings import Settings


def raw_sample(settings: Settings, start: dt.datetime, end: dt.datetime, limit: int = 8) -> pd.DataFrame:
    """A few raw logs as the Lambda stored them (newest first)."""
    rows: list[dict[str, Any]] = []
    with MongoClient(settings.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        database = client[settings.mongodb_database]
        for name in reversed(raw_sources(settings, start, end)):
            rows += list(database[name].find({}, {"kinesis": 0}).sort("timestamp", DESCENDING).limit(limit - len(rows)))
            if len(rows) >= limit:
                break
    return pd.DataFrame(rows)


def quarantine_summary(settings: Settings) -> pd.DataFrame:
    """Quarantined records by reason (the first words of it), with one example each."""
    with MongoClient(settings.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        docs = list(client[settings.mongodb_database][settings.quarantine_collection].find({}, {"raw": 1, "reason": 1}))
    if not docs:
        return pd.DataFrame(columns=["reason", "records", "example"])
    frame = pd.DataFrame({"reason": [d["reason"].split(":")[0] for d in docs],
                          "example": [bytes(d["raw"])[:80].decode("utf-8", "replace") for d in docs]})
    return frame.groupby("reason").agg(records=("example", "size"), example=("example", "first")).reset_index()
