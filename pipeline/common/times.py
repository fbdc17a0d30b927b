"""Moments as users type them: ISO-8601 (UTC unless it says otherwise), ``now`` and ``now-2h``.

Every command, notebook and report takes times through ``parse_moment``, so ``Z``, offsets and
naive values mean the same everywhere, and every result is an aware UTC datetime.
"""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd

_RELATIVE = re.compile(r"^(?:now)?-(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def to_utc(moment: dt.datetime) -> dt.datetime:
    """An aware UTC datetime; a naive one is taken as UTC."""
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def parse_moment(text: str, *, relative: bool = True, now: dt.datetime | None = None) -> dt.datetime:
    """ISO-8601 (naive means UTC; ``Z`` or an offset), and with ``relative`` also ``now`` or a time
    before now: ``now-90m``, ``now-2h``, ``now-1d``, ``-2h`` (units s, m, h, d).

    Raises ValueError with the accepted forms in its message.
    """
    text = text.strip()
    if relative:
        current = to_utc(now) if now else dt.datetime.now(dt.UTC)
        if text == "now":
            return current
        match = _RELATIVE.match(text)
        if match:
            return current - dt.timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    try:
        moment = dt.datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        forms = "an ISO-8601 time (e.g. 2026-11-27T10:00:00Z)" + (", 'now' or 'now-2h'" if relative else "")
        raise ValueError(f"not {forms}: {text!r}") from None
    return to_utc(moment)


def iso_z(moment: dt.datetime) -> str:
    """``2026-11-27T10:00:00Z``: a moment in UTC to the second, as commands print and accept it."""
    return to_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def last_minutes(minutes: int, end: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime]:
    """The last ``minutes`` whole minutes before ``end`` (default: now), in UTC."""
    end = to_utc(end or dt.datetime.now(dt.UTC)).replace(second=0, microsecond=0)
    return end - dt.timedelta(minutes=minutes), end


def utc_naive(moment: dt.datetime | str | pd.Timestamp) -> dt.datetime:
    """A moment as a naive UTC datetime (Trino's ``timestamp(3)`` of MongoDB dates and Flink's windows
    are UTC without a zone; a zone-aware parameter would be compared in the session's zone)."""
    value = pd.Timestamp(moment)
    if value.tzinfo is not None:
        value = value.tz_convert("UTC").tz_localize(None)
    return value.to_pydatetime()
