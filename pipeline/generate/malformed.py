"""Malformed records, one kind at a time, each of which the Lambda must quarantine (never store).

Each kind breaks exactly one rule of the Lambda's validation (``lambda/handler.py``): required fields
present, ``timestamp`` a parseable ISO-8601 string, ``service`` a non-empty string, ``status`` an int
(not a bool) within 100..599, ``message`` a string, ``latency_ms`` a non-negative number, and the
record at most 256 KiB. Bad records are made from a valid record, so they look like the mistakes
real producers make (a truncated write, a gzip'd body, a stringly typed status, a dumped payload).
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Callable
from typing import Any

REQUIRED_FIELDS = ("timestamp", "service", "status", "message", "latency_ms")
BAD_KINDS = ("not_json", "missing_field", "wrong_type", "oversized")
KIB = 1024
LAMBDA_MAX_RECORD_BYTES = 256 * KIB  # the Lambda quarantines anything larger
KINESIS_MAX_RECORD_BYTES = 1024 * KIB  # data plus partition key, per record
# Oversized records land between the two limits: rejected by the Lambda, accepted by Kinesis.
OVERSIZED_MIN_BYTES = LAMBDA_MAX_RECORD_BYTES + 4 * KIB
OVERSIZED_MAX_BYTES = LAMBDA_MAX_RECORD_BYTES + 64 * KIB

_STACK_FRAMES = (
    "\n\tat com.shop.{svc}.RequestHandler.process(RequestHandler.java:{line})",
    "\n\tat com.shop.common.http.Pipeline.invoke(Pipeline.java:{line})",
    "\n\tat io.netty.channel.AbstractChannelHandlerContext.invokeChannelRead(ChannelHandlerContext.java:{line})",
)


def dumps(record: dict[str, Any]) -> bytes:
    """The one way a record is serialised: compact JSON, fields in insertion order."""
    return json.dumps(record, separators=(",", ":")).encode()


def _not_json(record: dict[str, Any], rng: random.Random) -> bytes:
    variant = rng.randrange(3)
    if variant == 0:  # a write cut short: an object that never closes is never valid JSON
        data = dumps(record)
        return data[: rng.randrange(1, len(data) - 1)]
    if variant == 1:  # a plain-text log line from a service that never switched to JSON
        return (f"{record['timestamp']} {record['level']} [{record['service']}] {record['status']} "
                f"{record['message']} ({record['latency_ms']} ms)").encode()
    return gzip.compress(dumps(record), mtime=0)  # a producer that compressed its records


def _missing_field(record: dict[str, Any], rng: random.Random) -> bytes:
    broken = dict(record)
    del broken[rng.choice(REQUIRED_FIELDS)]
    return dumps(broken)


_WRONG_TYPES: tuple[tuple[str, Callable[[dict[str, Any]], Any]], ...] = (
    ("status", lambda _: "abc"),
    ("status", lambda r: str(r["status"])),
    ("status", lambda _: True),
    ("latency_ms", lambda r: f"{r['latency_ms']} ms"),
    ("latency_ms", lambda r: str(r["latency_ms"])),
    ("service", lambda _: 42),
    ("timestamp", lambda _: 1_764_237_601),
    ("message", lambda _: None),
)


def _wrong_type(record: dict[str, Any], rng: random.Random) -> bytes:
    field, replace = rng.choice(_WRONG_TYPES)
    broken = dict(record)
    broken[field] = replace(record)
    return dumps(broken)


def _oversized(record: dict[str, Any], rng: random.Random) -> bytes:
    """Valid JSON whose message carries a huge stack trace, so only the size is wrong."""
    target = rng.randrange(OVERSIZED_MIN_BYTES, OVERSIZED_MAX_BYTES)
    base = len(dumps(record))
    parts = [record["message"]]
    size = base
    while size < target:
        frame = rng.choice(_STACK_FRAMES).format(svc=record["service"], line=rng.randrange(20, 900))
        parts.append(frame)
        size += len(frame) + 2  # "\n\t" is escaped as four characters in JSON
    grown = dict(record)
    grown["message"] = "".join(parts)
    return dumps(grown)


MAKERS: dict[str, Callable[[dict[str, Any], random.Random], bytes]] = {
    "not_json": _not_json,
    "missing_field": _missing_field,
    "wrong_type": _wrong_type,
    "oversized": _oversized,
}


def make_bad(kind: str, record: dict[str, Any], rng: random.Random) -> bytes:
    """The bytes of a malformed record of ``kind``, derived from the valid ``record``."""
    return MAKERS[kind](record, rng)
