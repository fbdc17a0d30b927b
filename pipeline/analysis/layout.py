"""The raw logs as Trino sees them: one relation over the collections that hold a range.

Layout. The Lambda stores raw logs in hourly buckets (``pipeline.ingest.buckets``): a question about
[start, end) reads only the buckets that overlap it, plus the unbucketed ``<raw_collection>`` when it
exists (the right layout on a real MongoDB/Atlas, where Trino's pushed-down ``timestamp`` range uses
the index), always with the same ``timestamp`` range predicate, so both layouts give the same answers.

Schema. Trino's MongoDB connector infers a collection's columns from one document the first time
it sees it, and stores them in the ``_schema`` collection; fields missing from that document stay
invisible. ``ensure_trino_schema`` writes the raw logs' schema there itself, idempotently.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from pymongo import MongoClient

from pipeline.analysis.db import quote_ident
from pipeline.ingest.buckets import bucket_hours, raw_sources
from pipeline.settings import Settings

SCHEMA_COLLECTION = "_schema"  # mongodb.schema-collection in env/trino/catalog/mongodb.properties

# The document lambda/handler.py stores, as Trino types. Names are lower-case (Trino lower-cases).
KINESIS_ROW = ('row("shard_id" varchar,"sequence_number" varchar,"partition_key" varchar,'
               '"arrival" timestamp(3))')
RAW_FIELDS: tuple[tuple[str, str], ...] = (
    ("_id", "varchar"),  # the Kinesis eventID
    ("timestamp", "timestamp(3)"),  # BSON date, UTC
    ("timestamp_raw", "varchar"),
    ("service", "varchar"),
    ("status", "bigint"),
    ("message", "varchar"),
    ("latency_ms", "double"),
    ("request_id", "varchar"),
    ("host", "varchar"),
    ("level", "varchar"),
    ("clock_skew", "boolean"),  # counted at arrival + tolerance (the producer's clock ran ahead); absent = false
    ("message_truncated", "boolean"),  # the message was cut to message_max_chars; absent = false
    ("kinesis", KINESIS_ROW),
)

# The columns every query reads from the raw logs (one relation, whatever the layout).
RAW_COLUMNS = ('_id AS event_id, "timestamp" AS ts, service, status, message, latency_ms, '
               "request_id, host, clock_skew")
EMPTY_RAW = ("SELECT CAST(NULL AS varchar) AS event_id, CAST(NULL AS timestamp(3)) AS ts, "
             "CAST(NULL AS varchar) AS service, CAST(NULL AS bigint) AS status, CAST(NULL AS varchar) AS message, "
             "CAST(NULL AS double) AS latency_ms, CAST(NULL AS varchar) AS request_id, "
             "CAST(NULL AS varchar) AS host, CAST(NULL AS boolean) AS clock_skew WHERE false")


def _mongo(settings: Settings) -> MongoClient:
    return MongoClient(settings.mongo_uri, serverSelectionTimeoutMS=5000)


def schema_document(table: str) -> dict[str, object]:
    return {"table": table, "fields": [{"name": n, "type": t, "hidden": False} for n, t in RAW_FIELDS]}


def ensure_trino_schema(settings: Settings, collections: Iterable[str] | None = None) -> list[str]:
    """Write the raw logs' Trino schema into ``_schema`` for each collection (default: the unbucketed
    raw collection and every bucket). Idempotent; returns the tables whose entry was written now."""
    written = []
    with _mongo(settings) as client:
        database = client[settings.mongodb_database]
        if collections is None:
            names = database.list_collection_names()
            collections = [n for n in names if n == settings.raw_collection or n in bucket_hours(settings, names)]
        schema = database[SCHEMA_COLLECTION]
        for table in collections:
            wanted = schema_document(table)
            current = schema.find_one({"table": table}, {"_id": 0})
            if current == wanted:
                continue
            schema.replace_one({"table": table}, wanted, upsert=True)
            written.append(table)
    return written


def raw_relation(settings: Settings, sources: Iterable[str]) -> str:
    """The SQL of one relation over the given collections (UNION ALL), with ``RAW_COLUMNS``."""
    catalog = f"mongodb.{quote_ident(settings.mongodb_database)}"
    parts = [f"SELECT {RAW_COLUMNS} FROM {catalog}.{quote_ident(name)}" for name in sources]
    return "\n    UNION ALL ".join(parts) if parts else EMPTY_RAW


def prepare_raw(settings: Settings, start: dt.datetime, end: dt.datetime) -> str:
    """Find the collections of [start, end), make sure Trino sees their schema, return the relation."""
    sources = raw_sources(settings, start, end)
    ensure_trino_schema(settings, sources)
    return raw_relation(settings, sources)
