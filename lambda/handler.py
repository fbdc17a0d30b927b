"""Kinesis -> MongoDB: the Lambda function that stores every raw log.

This exact file runs on AWS Lambda (behind the Kinesis event source mapping) and locally (behind
``python -m pipeline lambda run``, which reproduces that mapping). It depends only on pymongo and,
on AWS, boto3 from the runtime.

Why it is built this way:

- Delivery from Kinesis is at least once, so writes are idempotent: ``_id`` is the record's
  ``eventID`` (``shardId:sequenceNumber``), inserts are unordered, and a duplicate key (11000) means
  "already stored", which counts as success.
- A record that cannot be parsed or validated can never succeed on retry; failing the batch for it
  would block the shard. It goes to the quarantine collection with its raw bytes and the reason.
- A transient failure (database unreachable) fails only the records not stored, reported as
  ``batchItemFailures`` (ReportBatchItemFailures), so the trigger retries from the right place.
- The MongoDB client is created once per container and reused by every invocation.
- Raw logs go to one collection per UTC hour (``<RAW_COLLECTION>_<YYYYMMDDHH>``, with
  ``RAW_BUCKET=hour``, the default). FerretDB, the local MongoDB, filters nothing but ``_id`` in its
  storage: a time-range question then reads only its hours instead of every log ever stored. On
  MongoDB/Atlas, ``RAW_BUCKET=none`` keeps one collection, whose ``timestamp`` index does that job.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
from typing import Any

from bson.binary import Binary
from pymongo import ASCENDING, MongoClient
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, PyMongoError

MAX_RECORD_BYTES = 256 * 1024
REQUIRED_FIELDS = ("timestamp", "service", "status", "message", "latency_ms")
DUPLICATE_KEY = 11000

logger = logging.getLogger("log-ingest")
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO"))

_client: MongoClient | None = None
_indexed: set[str] = set()


class InvalidRecord(ValueError):
    """The record can never be stored as a log: it goes to quarantine, with this reason."""


def _mongo_uri() -> str:
    if os.environ.get("MONGODB_URI"):
        return os.environ["MONGODB_URI"]
    secret_id = os.environ.get("MONGODB_SECRET_ID")
    if not secret_id:
        raise RuntimeError("set MONGODB_URI (local) or MONGODB_SECRET_ID (a Secrets Manager secret) for the function")
    import boto3  # in the Lambda runtime; only needed on AWS

    return boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]


def _database() -> Database:
    global _client
    if _client is None:
        _client = MongoClient(_mongo_uri(), serverSelectionTimeoutMS=5000, connectTimeoutMS=5000,
                              appname="log-ingest-lambda")
    return _client[os.environ.get("MONGODB_DATABASE", "logs")]


def _indexed_collection(database: Database, name: str, keys: list[list[tuple[str, int]]]) -> Collection:
    collection = database[name]
    if collection.full_name not in _indexed:
        for key in keys:
            collection.create_index(key)
        _indexed.add(collection.full_name)
    return collection


def raw_collection_name(timestamp: dt.datetime) -> str:
    name = os.environ.get("RAW_COLLECTION", "raw_logs")
    return f"{name}_{timestamp:%Y%m%d%H}" if os.environ.get("RAW_BUCKET", "hour") == "hour" else name


# The analysis filters raw logs by time, by service and time, and by status.
RAW_INDEXES = [[("timestamp", ASCENDING)], [("service", ASCENDING), ("timestamp", ASCENDING)],
               [("status", ASCENDING)]]


def parse_timestamp(value: str) -> dt.datetime:
    """ISO-8601 with ``Z`` or an offset, as UTC; naive times are taken as UTC."""
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise InvalidRecord(f"timestamp is not ISO-8601: {value[:64]!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def parse_log(data: bytes) -> dict[str, Any]:
    """Validate one record's bytes and return the document to store (without ``_id``)."""
    if len(data) > MAX_RECORD_BYTES:
        raise InvalidRecord(f"oversized: {len(data)} bytes > {MAX_RECORD_BYTES}")
    try:
        record = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidRecord(f"not JSON: {exc}") from exc
    if not isinstance(record, dict):
        raise InvalidRecord(f"not a JSON object but {type(record).__name__}")
    missing = [name for name in REQUIRED_FIELDS if name not in record]
    if missing:
        raise InvalidRecord(f"missing field(s): {', '.join(missing)}")
    if not isinstance(record["timestamp"], str):
        raise InvalidRecord("timestamp is not a string")
    if not isinstance(record["service"], str) or not record["service"].strip():
        raise InvalidRecord("service is not a non-empty string")
    status = record["status"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise InvalidRecord(f"status is not an HTTP code: {str(status)[:32]!r}")
    if not isinstance(record["message"], str):
        raise InvalidRecord("message is not a string")
    latency = record["latency_ms"]
    if isinstance(latency, bool) or not isinstance(latency, int | float) or latency < 0 or latency != latency:
        raise InvalidRecord(f"latency_ms is not a non-negative number: {str(latency)[:32]!r}")
    document = dict(record)
    document["timestamp_raw"] = record["timestamp"]
    document["timestamp"] = parse_timestamp(record["timestamp"])
    document["latency_ms"] = float(latency)
    return document


def _kinesis_metadata(item: dict[str, Any]) -> dict[str, Any]:
    kinesis = item["kinesis"]
    return {
        "shard_id": item["eventID"].split(":", 1)[0],
        "sequence_number": kinesis["sequenceNumber"],
        "partition_key": kinesis["partitionKey"],
        "arrival": dt.datetime.fromtimestamp(float(kinesis["approximateArrivalTimestamp"]), dt.UTC),
    }


def _insert(collection: Collection, documents: list[dict[str, Any]]) -> set[str]:
    """Insert unordered; return the ``_id``s that were not stored (duplicates count as stored)."""
    if not documents:
        return set()
    try:
        collection.insert_many(documents, ordered=False)
    except BulkWriteError as exc:
        failed = {documents[e["index"]]["_id"] for e in exc.details.get("writeErrors", [])
                  if e.get("code") != DUPLICATE_KEY}
        if failed:
            logger.warning("%d documents not stored: %s", len(failed), exc.details["writeErrors"][0].get("errmsg"))
        return failed
    except PyMongoError as exc:  # unreachable, timeout...: none of them is known to be stored
        logger.warning("MongoDB write failed, the trigger will retry %d records: %s", len(documents), exc)
        return {d["_id"] for d in documents}
    return set()


def handler(event: dict[str, Any], context: object) -> dict[str, list[dict[str, str]]]:
    """Store a Kinesis batch; returns the records to retry as ``batchItemFailures``."""
    items = event.get("Records", [])
    logs: list[dict[str, Any]] = []
    quarantined: list[dict[str, Any]] = []
    sequence_of: dict[str, str] = {}
    received_at = dt.datetime.now(dt.UTC)
    for item in items:
        event_id = item["eventID"]
        sequence_of[event_id] = item["kinesis"]["sequenceNumber"]
        try:
            data = base64.b64decode(item["kinesis"]["data"], validate=True)
        except ValueError as exc:
            data, reason = item["kinesis"]["data"].encode(), f"data is not base64: {exc}"
        else:
            try:
                logs.append({"_id": event_id, **parse_log(data), "kinesis": _kinesis_metadata(item)})
                continue
            except InvalidRecord as exc:
                reason = str(exc)
        quarantined.append({"_id": event_id, "raw": Binary(data), "reason": reason, "received_at": received_at,
                            "event_source_arn": item.get("eventSourceARN"), **_kinesis_metadata(item)})

    by_collection: dict[str, list[dict[str, Any]]] = {}
    for document in logs:
        by_collection.setdefault(raw_collection_name(document["timestamp"]), []).append(document)
    try:
        database = _database()
        quarantine = _indexed_collection(database, os.environ.get("QUARANTINE_COLLECTION", "quarantine"),
                                         [[("received_at", ASCENDING)]])
        targets = [(_indexed_collection(database, name, RAW_INDEXES), docs) for name, docs in by_collection.items()]
    except PyMongoError as exc:
        logger.warning("MongoDB unreachable, the whole batch will be retried: %s", exc)
        failed = set(sequence_of)
    else:
        failed = _insert(quarantine, quarantined)
        for collection, documents in targets:
            failed |= _insert(collection, documents)
    if quarantined:
        logger.info("quarantined %d of %d records", len(quarantined), len(items))
    return {"batchItemFailures": [{"itemIdentifier": sequence_of[i]} for i in sequence_of if i in failed]}
