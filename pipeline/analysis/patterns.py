"""Top error patterns: messages with their variable parts masked, grouped and counted per service.

The masking rules are defined once, here, as (regex, replacement) pairs. Trino applies them in the
query that does the grouping (a chain of ``regexp_replace`` whose patterns and replacements are bound
parameters); ``mask_message`` applies the same rules in Python (for tests and for frames already in
pandas). The regexes use only syntax that Python's ``re`` and Trino's Joni read alike.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

import pandas as pd

from pipeline.analysis.db import load_sql, query, services_params
from pipeline.analysis.layout import prepare_raw
from pipeline.common.times import utc_naive
from pipeline.settings import Settings

# Order matters: specific shapes first, so an e-mail or an IP is not cut into numbers.
MASK_RULES: tuple[tuple[str, str], ...] = (
    (r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", "<email>"),
    (r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", "<uuid>"),
    (r"\b\d{1,3}(?:\.\d{1,3}){3}\b", "<ip>"),
    (r"\b0x[0-9a-fA-F]+\b", "<hex>"),
    (r"\b[0-9a-fA-F]{16,}\b", "<hex>"),
    (r"\"[^\"]*\"", "\"<str>\""),
    (r"'[^']*'", "'<str>'"),
    # ids: a token of letters, digits, _ or - with at least one digit and one letter, 3+ long
    # (u000123, o-0001234, SKU-01234, pay_0a1b2c3d4e, s-0123456789ab; "v1" stays)
    (r"\b(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9][A-Za-z0-9_-]{2,}\b", "<id>"),
    (r"\b\d+(?:\.\d+)?\b", "<num>"),  # numbers and amounts (path segments that are ids included)
)
_COMPILED = tuple((re.compile(pattern), replacement) for pattern, replacement in MASK_RULES)
PATTERN_COLUMNS = ("service", "rank", "pattern", "occurrences", "example", "first_seen", "last_seen")


def mask_message(message: str) -> str:
    """The message with its variable parts replaced by ``<id>``, ``<num>``, ``<ip>``... (as Trino does)."""
    for regex, replacement in _COMPILED:
        message = regex.sub(replacement, message)
    return message


def masked_sql(column: str = "message") -> tuple[str, dict[str, str]]:
    """``regexp_replace(...(regexp_replace(message, :mask_p0, :mask_r0)...)`` and its binds."""
    expression, params = column, {}
    for i, (pattern, replacement) in enumerate(MASK_RULES):
        expression = f"regexp_replace({expression}, :mask_p{i}, :mask_r{i})"
        params[f"mask_p{i}"] = pattern
        params[f"mask_r{i}"] = replacement
    return expression, params


def top_patterns(settings: Settings, start: dt.datetime, end: dt.datetime, top: int = 10,
                 services: Iterable[str] | None = None, min_status: int = 500) -> pd.DataFrame:
    """Per service, the ``top`` message patterns of answers with status >= ``min_status`` in [start, end).

    Columns: service, rank (1 = most frequent), pattern, occurrences, example (one message of the
    pattern: the smallest), first_seen, last_seen (naive UTC). Sorted by service, rank.
    """
    if int(top) < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    expression, mask_params = masked_sql()
    sql = load_sql("patterns", raw_logs=prepare_raw(settings, start, end), masked=expression)
    params = {"start_ts": utc_naive(start), "end_ts": utc_naive(end), "top": int(top),
              "min_status": int(min_status), **mask_params, **services_params(services)}
    frame = query(settings, sql, params, PATTERN_COLUMNS)
    return frame.astype({"rank": "int64", "occurrences": "int64"})
