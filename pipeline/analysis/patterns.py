"""Top error patterns: messages with their variable parts masked, grouped and counted per service.

The masking rules are defined once, here, as (regex, replacement) pairs. Trino applies them in the
query that does the grouping (a chain of ``regexp_replace`` whose patterns and replacements are bound
parameters); ``mask_message`` applies the same rules in Python (for tests and for frames already in
pandas). The regexes use only syntax that Python's ``re`` and Trino's Joni read alike, and run
in linear time in both (see the notes above ``MASK_RULES``).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable

import pandas as pd

from pipeline.analysis.db import load_sql, query, services_params
from pipeline.analysis.layout import prepare_raw
from pipeline.common.times import utc_naive
from pipeline.settings import Settings

# Order matters: specific shapes first, so an e-mail or an IP is not cut into numbers.
#
# Linear time, in Python's re and in Trino's Joni alike (both backtracking engines): no rule scans a
# run of characters again from each of its positions (the old <id> and <email> rules did, so a long
# hyphenated token took seconds). Where a match could start at any position of a long run (an
# e-mail's local part, an id's token), the rule starts only at the first character of the run (a
# look-behind refuses every later position at once) and finds the place the match really starts by
# consuming, possessively, what comes before it; that part is group 1 and is put back. The rules that
# start at a word boundary begin with their first character's class and check the boundary before
# that character once it is read (``(?<=\b.)``), so Python's re jumps straight to the candidates
# instead of trying every position.
# Replacements are literal text, or ``\g<1>`` (group 1, put back) followed by literal text.
# Digits are [0-9], not \d: Python's \d also takes other scripts' digits, Joni's does not.
# A known difference with the old rules: an e-mail glued to the end of another one by a character of
# a local part (a@b.com_x@c.org) now gives "<email>_x@c.org", not "<email><email>".
_HEX = "[0-9a-fA-F]"
MASK_RULES: tuple[tuple[str, str], ...] = (
    # local part from the start of its run of [A-Za-z0-9._%+-] only
    (r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]++@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", "<email>"),
    (rf"{_HEX}(?<=\b.){_HEX}{{7}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}\b", "<uuid>"),
    (r"[0-9](?<=\b.)[0-9]{0,2}(?:\.[0-9]{1,3}){3}\b", "<ip>"),
    (rf"0x(?<=\b0x){_HEX}+\b", "<hex>"),
    (rf"{_HEX}(?<=\b.){_HEX}{{15,}}\b", "<hex>"),
    (r"\"[^\"]*\"", "\"<str>\""),
    (r"'[^']*'", "'<str>'"),
    # ids: a token of letters, digits, _ or - with at least one digit and one letter, 3+ long,
    # starting at a word boundary (u000123, o-0001234, SKU-01234, pay_0a1b2c3d4e, s-0123456789ab;
    # "v1" stays). Tried once per run of [A-Za-z0-9_-], at its first word boundary: group 1 is what
    # comes before it ("-" of "-12ms", "_x-" of "_x-ab12"). An id that fails there fails at every later
    # boundary of the run as well (fewer characters, the same end), so trying once loses nothing.
    (r"(?<![A-Za-z0-9_-])((?:[_-]|\B[A-Za-z0-9])*+)\b"
     r"(?=[A-Za-z_-]*+[0-9])(?=[0-9_-]*+[A-Za-z])[A-Za-z0-9][A-Za-z0-9_-]{2,}\b", r"\g<1><id>"),
    # numbers and amounts (path segments that are ids included)
    (r"[0-9](?<=\b.)[0-9]*+\b(?:\.[0-9]++\b)?", "<num>"),
)
_KEEP = r"\g<1>"
PATTERN_COLUMNS = ("service", "rank", "pattern", "occurrences", "example", "first_seen", "last_seen")


def _rule(pattern: str, replacement: str) -> Callable[[str], str]:
    """One rule as a function of the message. A group 1 put back is done with ``split`` (in C):
    ``sub`` expands such a template in Python for every match, about 20 times slower than the match."""
    regex = re.compile(pattern)
    if not replacement.startswith(_KEEP):
        return lambda message: regex.sub(replacement, message)
    literal = replacement[len(_KEEP):]

    def apply(message: str) -> str:
        parts = regex.split(message)  # text, group 1, text, group 1, ..., text
        parts[1::2] = [kept + literal for kept in parts[1::2]]
        return "".join(parts)

    return apply


def _check_rules() -> None:
    """Each replacement is one both engines read alike once translated (see ``trino_replacement``)."""
    for pattern, replacement in MASK_RULES:
        literal = replacement.removeprefix(_KEEP)
        groups_wanted = 1 if literal != replacement else 0
        if "\\" in literal or "$" in literal or re.compile(pattern).groups != groups_wanted:
            raise ValueError(f"mask rule {pattern!r}: replacement {replacement!r} is not literal text, "
                             "or \\g<1> + literal text for a pattern with exactly one group")


_check_rules()
_RULES = tuple(_rule(pattern, replacement) for pattern, replacement in MASK_RULES)


def mask_message(message: str) -> str:
    """The message with its variable parts replaced by ``<id>``, ``<num>``, ``<ip>``... (as Trino does)."""
    for rule in _RULES:
        message = rule(message)
    return message


def trino_replacement(replacement: str) -> str:
    """A rule's replacement in the syntax of Trino's ``regexp_replace``: ``\\g<1>`` is ``$1`` there."""
    return replacement.replace(_KEEP, "$1", 1) if replacement.startswith(_KEEP) else replacement


def masked_sql(column: str = "message") -> tuple[str, dict[str, str]]:
    """``regexp_replace(...(regexp_replace(message, :mask_p0, :mask_r0)...)`` and its binds."""
    expression, params = column, {}
    for i, (pattern, replacement) in enumerate(MASK_RULES):
        expression = f"regexp_replace({expression}, :mask_p{i}, :mask_r{i})"
        params[f"mask_p{i}"] = pattern
        params[f"mask_r{i}"] = trino_replacement(replacement)
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
