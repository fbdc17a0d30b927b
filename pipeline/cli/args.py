"""argparse types shared by the commands: argparse turns their errors into
``error: argument --x: ...`` and exit code 2."""

from __future__ import annotations

import argparse
import datetime as dt

from pipeline.common.times import parse_moment


def key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key.strip(), value.strip()


def fraction(text: str) -> float:
    value = positive_float(text, allow_zero=True)
    if value > 1:
        raise argparse.ArgumentTypeError(f"must be within [0, 1], got {text}")
    return value


def positive_float(text: str, allow_zero: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0 or (value == 0 and not allow_zero) or value != value:  # value != value: NaN
        raise argparse.ArgumentTypeError(f"must be {'>= 0' if allow_zero else '> 0'}, got {text}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def moment(text: str) -> dt.datetime:
    """ISO-8601 (naive means UTC), 'now', or a time before now: 'now-90m', 'now-2h', 'now-1d' (or
    '-2h', which argparse only takes as ``--start=-2h``)."""
    try:
        return parse_moment(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def iso_moment(text: str) -> dt.datetime:
    """ISO-8601 only (``Z`` or an offset; naive means UTC)."""
    try:
        return parse_moment(text, relative=False)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
