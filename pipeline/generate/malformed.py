"""Malformed records, one kind at a time, each of which the Lambda must quarantine (never store).

Each kind breaks the record contract (``lambda/record_contract.json``, enforced by ``parse_log`` in
``lambda/handler.py`` and mirrored by the Flink source, which skips the same records) in one way:

- ``not_json``: the bytes are no JSON object (a write cut short, a plain-text log line, a gzip'd body);
- ``missing_field``: one required field is absent, or null (which the contract counts as absent);
- ``wrong_type``: one required field holds a value of another JSON type that is never valid there (a
  boolean or a float status, a status or latency that is no number even as text, a number or an
  object as the service, epoch seconds as the timestamp);
- ``out_of_range``: one required field keeps its type but its value is outside the contract's limits
  (status 99 or 600, a negative latency or one beyond 10^15 ms, a timestamp that is no real date
  such as February 30, or before 1970).

What the contract accepts is never used to break a record: a status as a string of digits
(``"503"``), a latency as a numeric string (``"12.5"``), a message of any non-null JSON value, a long
message (stored cut, not quarantined), unknown fields. Bad records are made from a valid record, so
they look like the mistakes real producers make, and they are deterministic per seed (every choice
comes from the generator's random stream for malformed records).
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Callable
from datetime import datetime
from typing import Any

REQUIRED_FIELDS = ("timestamp", "service", "status", "message", "latency_ms")
BAD_KINDS = ("not_json", "missing_field", "wrong_type", "out_of_range")
KIB = 1024
KINESIS_MAX_RECORD_BYTES = 1024 * KIB  # data plus partition key, per record

Breaker = tuple[str, Callable[[dict[str, Any]], Any]]


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
    return gzip.compress(dumps(record), mtime=0)  # a producer that compressed its records (not UTF-8)


def _missing_field(record: dict[str, Any], rng: random.Random) -> bytes:
    broken = dict(record)
    field = rng.choice(REQUIRED_FIELDS)
    if rng.random() < 0.5:
        del broken[field]
    else:  # serialised as null: no value, as if absent
        broken[field] = None
    return dumps(broken)


def _epoch_seconds(record: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(record["timestamp"]).timestamp())


# Another JSON type than the valid record's, and no value the contract accepts for the field.
_WRONG_TYPES: tuple[Breaker, ...] = (
    ("status", lambda _: "OK"),  # the reason phrase instead of the code
    ("status", lambda r: float(r["status"])),  # 503.0: a float is no HTTP code, even a whole one
    ("status", lambda _: True),
    ("latency_ms", lambda r: f"{r['latency_ms']} ms"),  # a unit in the text: no number
    ("latency_ms", lambda r: {"value": r["latency_ms"], "unit": "ms"}),
    ("service", lambda _: 42),
    ("service", lambda r: {"name": r["service"]}),
    ("timestamp", _epoch_seconds),  # epoch seconds: the contract wants the ISO-8601 text
)

# The valid record's JSON type, with a value outside the contract's limits.
_OUT_OF_RANGE: tuple[Breaker, ...] = (
    ("status", lambda _: 600),
    ("status", lambda _: 99),
    ("latency_ms", lambda r: -r["latency_ms"]),  # a clock that went backwards between start and end
    ("latency_ms", lambda r: _epoch_seconds(r) * 1e9),  # the end time in epoch nanoseconds: > 10^15
    ("timestamp", lambda r: f"{r['timestamp'][:4]}-02-30{r['timestamp'][10:]}"),  # no such date
    ("timestamp", lambda r: f"1969-12-31T23:59:59{r['timestamp'][19:]}"),  # an unset clock: before 1970
)


def _replace(breakers: tuple[Breaker, ...]) -> Callable[[dict[str, Any], random.Random], bytes]:
    def make(record: dict[str, Any], rng: random.Random) -> bytes:
        field, replace = rng.choice(breakers)
        broken = dict(record)
        broken[field] = replace(record)
        return dumps(broken)

    return make


MAKERS: dict[str, Callable[[dict[str, Any], random.Random], bytes]] = {
    "not_json": _not_json,
    "missing_field": _missing_field,
    "wrong_type": _replace(_WRONG_TYPES),
    "out_of_range": _replace(_OUT_OF_RANGE),
}


def make_bad(kind: str, record: dict[str, Any], rng: random.Random) -> bytes:
    """The bytes of a malformed record of ``kind``, derived from the valid ``record``."""
    return MAKERS[kind](record, rng)
