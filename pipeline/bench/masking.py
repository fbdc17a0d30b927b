"""Masking of log messages (the <id>, <ip>, <email> ... rules of ``analysis.patterns``): the time to
mask a 256 KiB adversarial message (target: under 100 ms), and how the time grows with the length
of a run of one hard shape (8 times the text should cost about 8 times as much; quadratic rules cost
64 times). Baseline from the same run: the rules before they were made linear, on 16 KiB (longer
would take minutes). No stack needed.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pipeline.analysis.patterns import mask_message
from pipeline.bench.result import Result, timed
from pipeline.settings import Settings

KIB = 1024
TARGET_MS = 100.0
HARD_SHAPES = ("a-", "1-", "ab-", "_a-", "a1_", "a.", "-", "a", "7", "0x")

# The rules before they were made linear: the reference for what masking gives. On a 32 KB hyphenated
# token their <id> rule took seconds (every word boundary of the token scanned the rest of it), and
# their <email> rule did the same on any long run of letters and digits.
OLD_RULES: tuple[tuple[str, str], ...] = (
    (r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", "<email>"),
    (r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b", "<uuid>"),
    (r"\b\d{1,3}(?:\.\d{1,3}){3}\b", "<ip>"),
    (r"\b0x[0-9a-fA-F]+\b", "<hex>"),
    (r"\b[0-9a-fA-F]{16,}\b", "<hex>"),
    (r"\"[^\"]*\"", "\"<str>\""),
    (r"'[^']*'", "'<str>'"),
    (r"\b(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9][A-Za-z0-9_-]{2,}\b", "<id>"),
    (r"\b\d+(?:\.\d+)?\b", "<num>"),
)


def old_mask(message: str) -> str:
    for pattern, replacement in OLD_RULES:
        message = re.sub(pattern, replacement, message)
    return message


def adversarial_message(size: int = 256 * KIB) -> str:
    """``size`` characters of the shapes that made the old rules quadratic (long hyphenated runs of
    letters or digits with no id in them, long runs of letters or digits with no e-mail, a local part
    with no domain...), 16 KiB each, separated by spaces, plus a few ordinary variable parts."""
    k = 16 * KIB
    shapes = [
        "-a12 u000123 pay_0a1b2c3d4e 10.1.2.3 bob@example.com 4521 0xbeef " * (k // 64),  # ordinary parts
        "a-" * (k // 2),  # hyphenated letters, no digit: no id, a word boundary every other character
        "1-" * (k // 2),  # hyphenated digits, no letter
        "ab-" * (k // 3) + "---",  # ends with hyphens: the id's end has to be searched back
        "a" * k,  # a local part without '@'
        "7" * k,
        "a." * (k // 4) + "@" + "b." * (k // 4),  # an '@' with no top-level domain after it
        "_a-" * (k // 3),  # runs that start with '_' (no word boundary at their start)
        "-" * k + "x1",  # a long prefix of hyphens before the first boundary
        "0x" + "f" * k + "g",  # a hex number that is not one
        "1." * (k // 2),  # one long dotted number
        '"' + "q" * k,  # a quote never closed
        "a-1-b_2.c@" * (k // 10),  # everything mixed
        "x" * k + "@" + "y" * k,
        "f" * k + "-",
        "1.2.3." * (k // 6),
    ]
    return " ".join(shapes)[:size]


def _best_of_three(mask: Callable[[str], str], text: str) -> float:
    return min(timed(lambda: mask(text))[1] for _ in range(3))


def run(settings: Settings, scale: float) -> list[Result]:
    message = adversarial_message()
    t_new = _best_of_three(mask_message, message)
    hard = "a-" * (8 * KIB)
    t_old = _best_of_three(old_mask, hard)
    ratios = {shape: _best_of_three(mask_message, shape * (32 * KIB // len(shape)))
              / max(_best_of_three(mask_message, shape * (4 * KIB // len(shape))), 1e-6) for shape in HARD_SHAPES}
    worst = max(ratios, key=ratios.get)
    return [
        Result("masking: 256 KiB adversarial message", t_new * 1000, "ms", f"target < {TARGET_MS:.0f} ms",
               f"best of 3; the old rules took {t_old * 1000:,.0f} ms on 16 KiB of one hard shape ('a-' * 8192)"),
        Result("masking: time for 8x the text", ratios[worst], "x", "linear 8x, quadratic 64x",
               f"32 KiB vs 4 KiB of one shape, the worst of {len(HARD_SHAPES)} shapes ({worst!r})"),
    ]
