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
import math
import os
import re
import sys
from pathlib import Path
from typing import Any

from bson.binary import Binary
from bson.errors import BSONError
from pymongo import ASCENDING, MongoClient
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, PyMongoError

CONTRACT = json.loads((Path(__file__).parent / "record_contract.json").read_text(encoding="utf-8"))
REQUIRED_FIELDS = tuple(CONTRACT["required_fields"])
DUPLICATE_KEY = 11000
# Write errors worth retrying (the store is busy or switching primaries); any other refusal is the
# document's own fault and goes to quarantine.
TRANSIENT_WRITE_ERRORS = {6, 7, 50, 89, 91, 112, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436}
# Fields the handler writes itself: a record carrying one of them keeps it in ``extra_json``.
OWN_FIELDS = {"_id", "timestamp_raw", "kinesis", "clock_skew", "message_truncated", "message_length",
              "extra_json"}
INT64 = (-(2**63), 2**63 - 1)
MAX_STORED_DEPTH = 90  # MongoDB refuses documents nested deeper than 100 levels

logger = logging.getLogger("log-ingest")
logger.setLevel(os.environ.get("LOG_LEVEL", "INFO"))
sys.setrecursionlimit(max(sys.getrecursionlimit(), 3000))  # json.loads recurses once per nesting level

_client: MongoClient | None = None
_indexed: set[str] = set()


def _java_pattern(pattern: str) -> re.Pattern[str]:
    """A contract pattern (Java-flavoured: ``\\z`` is the end of input) for Python's ``re``."""
    return re.compile(pattern.replace(r"\z", r"\Z"))


TIMESTAMP = _java_pattern(CONTRACT["timestamp_pattern"])
SERVICE = _java_pattern(CONTRACT["service_pattern"])
STATUS = _java_pattern(CONTRACT["status_pattern"])
LATENCY = _java_pattern(CONTRACT["latency_pattern"])


def _limit(name: str) -> int:
    return int(os.environ.get(name.upper(), CONTRACT["defaults"][name]))


class Limits:
    """The contract's limits a deployment may change through its environment, read once a batch."""

    __slots__ = ("clock_skew", "message_max_chars")

    def __init__(self) -> None:
        self.clock_skew = dt.timedelta(seconds=_limit("clock_skew_tolerance_s"))
        self.message_max_chars = _limit("message_max_chars")


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
    """The contract's timestamp forms (``Z``, an offset or none (UTC); ``T`` or a space; 0 to 9
    fractional digits, of which milliseconds count) as UTC to the millisecond."""
    match = TIMESTAMP.match(value)
    if not match:
        raise InvalidRecord(f"timestamp is not ISO-8601 of the contract: {value[:64]!r}")
    date, time, fraction, zone = match.groups()
    try:
        moment = dt.datetime.fromisoformat(f"{date}T{time}.{(fraction or '').ljust(3, '0')[:3]}")
    except ValueError as exc:  # 2026-02-30
        raise InvalidRecord(f"timestamp is not a date: {value[:64]!r}") from exc
    if zone and zone not in ("Z", "z"):
        sign = -1 if zone[0] == "-" else 1
        moment -= sign * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    return moment.replace(tzinfo=dt.UTC)


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is no JSON value")


def _big_int(digits: str) -> int | str:
    """JSON integers of any length (Python refuses to convert more than 4300 digits)."""
    return int(digits) if len(digits) <= 4000 else digits


_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_int=_big_int)  # json.loads builds one a call


def _store_safe(value: Any) -> bool:
    """Whether the store takes the value as it is: keys without a leading ``$``, a ``.`` or NUL,
    integers within 64 bits, text without lone surrogates, nesting within MongoDB's 100 levels.
    Iterative: deep values must not exhaust the stack. Text comes first: it is most of what records
    carry."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if not _encodable(item):
                return False
        elif isinstance(item, dict | list) and depth > MAX_STORED_DEPTH:
            return False
        elif isinstance(item, dict):
            for key, child in item.items():
                if key.startswith("$") or "." in key or "\x00" in key or not _encodable(key):
                    return False
                if not isinstance(child, str):
                    stack.append((child, depth + 1))
                elif not _encodable(child):
                    return False
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, int) and not isinstance(item, bool) and not INT64[0] <= item <= INT64[1]:
            return False
    return True


def _encodable(text: str) -> bool:
    if text.isascii():  # known to the string object: no scan
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a JSON escape
        return False
    return True


def _field_text(value: Any) -> str | None:
    """A field as the Flink source reads it: a string's characters or a number's digits (None for
    anything else, which no pattern of the contract accepts)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # as JSON writes it
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else json.dumps(value)  # JSON's digits, '.', 'e'
    return None


def parse_log(data: bytes, arrival: dt.datetime | None = None, limits: Limits | None = None) -> dict[str, Any]:
    """Validate one record's bytes against the contract and return the document to store (without
    ``_id``). ``arrival`` is the record's arrival in the stream: a stamp is believed up to the
    clock-skew tolerance after it; a stamp at or beyond arrival + tolerance counts at arrival +
    tolerance, flagged ``clock_skew`` (the Flink source applies the same cap). ``limits``: read from
    the environment when not given."""
    try:
        text = data.decode("utf-8-sig")  # a UTF-8 byte order mark is allowed, as JSON parsers do
    except UnicodeDecodeError as exc:
        raise InvalidRecord(f"not UTF-8: {exc}") from exc
    try:
        record = _DECODER.decode(text)
    except RecursionError as exc:
        raise InvalidRecord("nested too deep to read") from exc
    except ValueError as exc:  # JSONDecodeError, and text after the object
        raise InvalidRecord(f"not JSON: {str(exc)[:200]}") from exc
    if not isinstance(record, dict):
        raise InvalidRecord(f"not a JSON object but {type(record).__name__}")
    missing = [name for name in REQUIRED_FIELDS if record.get(name) is None]
    if missing:
        raise InvalidRecord(f"missing field(s): {', '.join(missing)}")
    stamp = record["timestamp"]
    if not isinstance(stamp, str):
        raise InvalidRecord("timestamp is not a string")
    service = record["service"]
    if not isinstance(service, str) or not SERVICE.match(service):
        raise InvalidRecord("service is not a name of 1 to 128 characters (not all spaces, not starting with "
                            "a digit, '-', '{' or '[')")
    status_text = _field_text(record["status"])
    if status_text is None or isinstance(record["status"], float) or not STATUS.match(status_text):
        raise InvalidRecord(f"status is not an HTTP code (100-599): {str(record['status'])[:32]!r}")
    latency_text = _field_text(record["latency_ms"])
    try:
        latency = float(latency_text) if latency_text is not None and LATENCY.match(latency_text) else None
    except OverflowError:
        latency = None
    if latency is None or not 0 <= latency <= CONTRACT["latency_max_ms"]:  # NaN and infinity fail too
        raise InvalidRecord(f"latency_ms is not a number within [0, {CONTRACT['latency_max_ms']:g}]: "
                            f"{str(record['latency_ms'])[:32]!r}")
    message = record["message"]
    if not isinstance(message, str):
        message = json.dumps(message)  # any JSON value is a message; the store keeps its text
    if not _encodable(message):
        message = message.encode("utf-8", "replace").decode("utf-8")

    event_time = parse_timestamp(stamp)
    document: dict[str, Any] = {"timestamp": event_time, "timestamp_raw": stamp, "service": service,
                                "status": int(status_text), "message": message, "latency_ms": latency}
    limits = limits or Limits()
    if arrival is not None:
        if arrival.tzinfo is not dt.UTC:
            arrival = arrival.astimezone(dt.UTC)
        cap = arrival.replace(microsecond=arrival.microsecond // 1000 * 1000) + limits.clock_skew
        if event_time >= cap:
            document["timestamp"], document["clock_skew"] = cap, True
    limit = limits.message_max_chars
    if len(message) > limit:
        document.update(message=message[:limit], message_truncated=True, message_length=len(message))
    extras = {key: value for key, value in record.items() if key not in REQUIRED_FIELDS}
    if not OWN_FIELDS & extras.keys() and _store_safe(extras):
        document.update(extras)
    elif extras:  # kept whole, as JSON text: the store refuses such keys, numbers or text
        document["extra_json"] = json.dumps(extras)
    return document


def _kinesis_metadata(item: dict[str, Any]) -> dict[str, Any]:
    kinesis = item["kinesis"]
    return {
        "shard_id": item["eventID"].split(":", 1)[0],
        "sequence_number": kinesis["sequenceNumber"],
        "partition_key": kinesis["partitionKey"],
        "arrival": dt.datetime.fromtimestamp(float(kinesis["approximateArrivalTimestamp"]), dt.UTC),
    }


def _refused(collection: Collection, document: dict[str, Any], reason: str) -> dict[str, Any]:
    """The quarantine entry for a log the store refused for its content."""
    raw = json.dumps({k: v for k, v in document.items() if k != "_id"}, default=str).encode()
    return {"_id": document["_id"], "raw": Binary(raw), "reason": f"store refused it: {reason}",
            "received_at": dt.datetime.now(dt.UTC), "collection": collection.name}


def _insert(collection: Collection, documents: list[dict[str, Any]]) -> tuple[set[str], list[dict[str, Any]]]:
    """Insert unordered. Returns the ``_id``s to retry (the store failed: duplicates count as stored)
    and quarantine entries for documents the store refused for their content."""
    if not documents:
        return set(), []
    try:
        collection.insert_many(documents, ordered=False)
    except BulkWriteError as exc:
        retry, refused = set(), []
        for error in exc.details.get("writeErrors", []):
            document = documents[error["index"]]
            if error.get("code") == DUPLICATE_KEY:
                continue
            if error.get("code") in TRANSIENT_WRITE_ERRORS:
                retry.add(document["_id"])
            else:
                refused.append(_refused(collection, document, f"{error.get('code')}: {error.get('errmsg')}"))
        if retry:
            logger.warning("%d documents not stored, to be retried", len(retry))
        return retry, refused
    except (BSONError, OverflowError, ValueError) as exc:  # a document that cannot be encoded: find it
        if len(documents) == 1:
            return set(), [_refused(collection, documents[0], f"{type(exc).__name__}: {exc}")]
        middle = len(documents) // 2
        first, second = _insert(collection, documents[:middle]), _insert(collection, documents[middle:])
        return first[0] | second[0], first[1] + second[1]
    except PyMongoError as exc:  # unreachable, timeout...: none of them is known to be stored
        logger.warning("MongoDB write failed, the trigger will retry %d records: %s", len(documents), exc)
        return {d["_id"] for d in documents}, []
    return set(), []


def handler(event: dict[str, Any], context: object) -> dict[str, list[dict[str, str]]]:
    """Store a Kinesis batch; returns the records to retry (store failures only) as ``batchItemFailures``.

    Never raises for a record's content: whatever cannot be stored as a log is quarantined with its
    bytes and the reason.
    """
    items = event.get("Records", [])
    logs: list[dict[str, Any]] = []
    quarantined: list[dict[str, Any]] = []
    sequence_of: dict[str, str] = {}
    received_at = dt.datetime.now(dt.UTC)
    limits = Limits()
    for item in items:
        event_id = item["eventID"]
        sequence_of[event_id] = item["kinesis"]["sequenceNumber"]
        metadata = _kinesis_metadata(item)
        try:
            data = base64.b64decode(item["kinesis"]["data"], validate=True)
        except ValueError as exc:
            data, reason = item["kinesis"]["data"].encode(), f"data is not base64: {exc}"
        else:
            try:
                logs.append({**parse_log(data, metadata["arrival"], limits), "_id": event_id, "kinesis": metadata})
                continue
            except InvalidRecord as exc:
                reason = str(exc)
            except Exception as exc:  # noqa: BLE001 - content must never fail the batch: quarantine it
                reason = f"unexpected {type(exc).__name__}: {str(exc)[:200]}"
        quarantined.append({"_id": event_id, "raw": Binary(data), "reason": reason, "received_at": received_at,
                            "event_source_arn": item.get("eventSourceARN"), **metadata})

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
        failed, refused = set(), []
        for collection, documents in targets:
            retry, refused_here = _insert(collection, documents)
            failed |= retry
            refused += refused_here
        retry, refused_quarantine = _insert(quarantine, quarantined + refused)
        failed |= retry | {d["_id"] for d in refused_quarantine}
    if quarantined:
        logger.info("quarantined %d of %d records", len(quarantined), len(items))
    return {"batchItemFailures": [{"itemIdentifier": sequence_of[i]} for i in sequence_of if i in failed]}
