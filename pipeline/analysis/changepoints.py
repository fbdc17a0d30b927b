"""Where a per-minute series leaves its baseline and comes back: likelihood-ratio scans and fits.

Two kinds of series, one idea. 5xx answers are counts: a minute with ``x`` errors in ``n`` requests
is judged by the binomial likelihood ratio of a raised rate against the service's baseline rate
``p0``, ``x ln(r/p0) + (n-x) ln((1-r)/(1-p0))`` with ``r = x/n`` (in nats; ``exp(-llr)`` bounds the
binomial upper-tail probability, Chernoff). Summed over a stretch of minutes this stays exact
however sparse the errors are, where a z-score on a rate of 1 error in 5 requests does not.
Latency departures arrive as z-scores (a Gaussian likelihood).

- ``scan_rate_segments``: which stretches of minutes hold a raised error rate. Every interval up
  to ``max_length`` minutes is scored, the best one is kept if it passes, blocked, and the scan
  repeats on what is left (a stretch cannot straddle a blocked minute). A stretch must be long
  enough, hold enough requests, raise the rate enough, stay significant without its strongest
  minute (a one-minute blip, however loud, is never a stretch), and be sustained: most of its
  minutes must look raised on their own (two blips with normal minutes between them are not one
  stretch). Of an interval refused, only its strongest minute is blocked, and the rest is judged
  again.
- ``onset_rate`` / ``onset_z``: when a departure of counts or of z-scores began. A step fitted to a steadily growing one
  (a creep) starts a third of the way up, once it is plain. From each candidate onset up to the
  stretch's end, three departures are fitted: a step, a linear rise from the baseline (a creep),
  and a jump that keeps rising (``c + b * ramp``, both >= 0, which pays a penalty for its second
  parameter, so a creep's onset is read from the rise's shape rather than from noise a jump can
  absorb); the onset that explains the minutes best wins when it beats the step's own start by a
  margin.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0
_RATE_CEILING = 1.0 - 1e-9
_SWEEPS = 6
# What a jump and a rise together pay for their second parameter. Less (BIC's is about 2 nats) lets
# the noise of a creep's first, barely raised minutes favour a later jump, and the onset is read late.
_SECOND_PARAMETER_NATS = 4.0


@dataclass(frozen=True)
class Segment:
    """Minutes ``start`` (inclusive) to ``end`` (exclusive), as positions in the series, and the
    log-likelihood ratio (nats) of the departure over them."""

    start: int
    end: int
    llr: float


def binomial_llr(errors: np.ndarray, requests: np.ndarray, p0: float) -> np.ndarray:
    """The one-sided log-likelihood ratio of ``errors`` in ``requests`` at their own rate against
    ``p0``: 0 where the rate is not above ``p0`` (or there are no requests)."""
    rate, llr = _own_rate_llr(errors, requests, p0)
    return np.where(rate > p0, llr, 0.0)


def deviance_z(errors: np.ndarray, requests: np.ndarray, p0: float) -> np.ndarray:
    """A z-like score per minute that stays honest for sparse counts: the signed root of twice
    the two-sided binomial log-likelihood ratio (0 for a minute without requests)."""
    rate, llr = _own_rate_llr(errors, requests, p0)
    return np.sign(rate - p0) * np.sqrt(np.maximum(2.0 * llr, 0.0)) * (np.asarray(requests) > 0)


def _own_rate_llr(errors: np.ndarray, requests: np.ndarray, p0: float) -> tuple[np.ndarray, np.ndarray]:
    """(the rate ``errors / requests``, 0 without requests; the binomial log-likelihood ratio of
    that rate against ``p0``)."""
    errors = np.asarray(errors, dtype=float)
    requests = np.asarray(requests, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(requests > 0, errors / requests, 0.0)
    return rate, _xlogy(errors, rate / p0) + _xlogy(requests - errors, (1.0 - rate) / (1.0 - p0))


def scan_rate_segments(errors: np.ndarray, requests: np.ndarray, p0: float, blocked: np.ndarray, *,
                       threshold: float, max_length: int, min_length: int, min_requests: int,
                       min_increase: float) -> tuple[list[Segment], np.ndarray]:
    """The stretches of raised error rate (see the module docstring), in order of strength, and the
    minutes blocked afterwards (``blocked``, every stretch found, and the strongest minute of every
    interval refused, so what is left of it is judged again on its own)."""
    errors = np.asarray(errors, dtype=float)
    requests = np.asarray(requests, dtype=float)
    blocked = np.array(blocked, dtype=bool)
    found: list[Segment] = []
    if len(errors) == 0 or not 0.0 < p0 < 1.0:
        return found, blocked
    cum_errors = np.concatenate([[0.0], np.cumsum(errors)])
    cum_requests = np.concatenate([[0.0], np.cumsum(requests)])
    minute_llr = binomial_llr(errors, requests, p0)
    for _ in range(len(errors)):
        best = _best_interval(cum_errors, cum_requests, blocked, p0, max_length, min_requests, min_increase)
        if best is None or best.llr < threshold:
            break
        span = slice(best.start, best.end)
        strongest = best.start + int(np.argmax(minute_llr[span]))
        if best.end - best.start >= min_length and _sustained(errors[span], requests[span], p0) and binomial_llr(
                np.array([errors[span].sum() - errors[strongest]]),
                np.array([requests[span].sum() - requests[strongest]]), p0)[0] >= threshold:
            found.append(best)
            blocked[span] = True
        else:
            blocked[strongest] = True
    return found, blocked


def _sustained(errors: np.ndarray, requests: np.ndarray, p0: float) -> bool:
    """Whether most minutes with requests look raised on their own: their likelihood favours the
    interval's rate over ``p0``. Two spikes with normal minutes between them do not."""
    rate = errors.sum() / requests.sum()
    own = _xlogy(errors, np.full(len(errors), rate / p0)) + _xlogy(
        requests - errors, np.full(len(errors), (1.0 - rate) / (1.0 - p0)))
    counted = requests > 0
    return bool((own[counted] > 0).sum() * 2 > counted.sum())


def onset_rate(errors: np.ndarray, requests: np.ndarray, p0: float, segment: Segment, earliest: int,
               margin: float) -> int:
    """Where the departure that ends with ``segment`` began (see the module docstring), for counts:
    the binomial likelihood of ``p0 + c + b * ramp`` from each candidate onset on."""
    onsets = np.arange(max(earliest, 0), segment.start + 1)
    if len(onsets) < 2:
        return segment.start
    x = np.asarray(errors[onsets[0]:segment.end], dtype=float)
    n = np.asarray(requests[onsets[0]:segment.end], dtype=float)
    step, ramp = _shapes(onsets - onsets[0], segment.end - onsets[0])
    room = _RATE_CEILING - p0

    def loglik(jump: np.ndarray, rise: np.ndarray) -> np.ndarray:
        rate = p0 + jump[:, None] * step + rise[:, None] * ramp
        return (_xlogy(x, rate / p0) + _xlogy(n - x, (1.0 - rate) / (1.0 - p0))).sum(axis=1)

    zero = np.zeros(len(onsets))
    step_only = loglik(_golden_max(lambda c: loglik(c, zero), zero, room + zero), zero)
    ramp_only = loglik(zero, _golden_max(lambda b: loglik(zero, b), zero, room + zero))
    jump, rise = zero, zero
    for _ in range(_SWEEPS):  # the log-likelihood is concave in (jump, rise): coordinate ascent
        jump = _golden_max(lambda c, b=rise: loglik(c, b), zero, room - rise)
        rise = _golden_max(lambda b, c=jump: loglik(c, b), zero, room - jump)
    both = loglik(jump, rise) - _SECOND_PARAMETER_NATS
    return _earliest_better(onsets, np.maximum(both, np.maximum(step_only, ramp_only)), margin)


def onset_z(z: np.ndarray, segment: Segment, earliest: int, margin: float) -> int:
    """As ``onset_rate`` for per-minute z-scores (NaN: a minute not judged): ``c + b * ramp`` fitted
    by least squares (non-negative), its log-likelihood ratio half the explained sum of squares."""
    onsets = np.arange(max(earliest, 0), segment.start + 1)
    if len(onsets) < 2:
        return segment.start
    region = np.asarray(z[onsets[0]:segment.end], dtype=float)
    weight = (~np.isnan(region)).astype(float)
    region = np.nan_to_num(region)
    step, ramp = _shapes(onsets - onsets[0], segment.end - onsets[0])
    step, ramp = step * weight, ramp * weight
    s11, s12, s22 = step.sum(axis=1), (step * ramp).sum(axis=1), (ramp * ramp).sum(axis=1)
    b1, b2 = (step * region).sum(axis=1), (ramp * region).sum(axis=1)
    det = s11 * s22 - s12**2
    with np.errstate(divide="ignore", invalid="ignore"):
        jump, rise = (s22 * b1 - s12 * b2) / det, (s11 * b2 - s12 * b1) / det
        both = np.where((jump >= 0) & (rise >= 0) & (det > 1e-12), (jump * b1 + rise * b2) / 2.0, 0.0)
        both = both - _SECOND_PARAMETER_NATS
        step_only = np.where(s11 > 0, np.maximum(b1, 0.0) ** 2 / (2.0 * s11), 0.0)
        ramp_only = np.where(s22 > 0, np.maximum(b2, 0.0) ** 2 / (2.0 * s22), 0.0)
    return _earliest_better(onsets, np.maximum(both, np.maximum(step_only, ramp_only)), margin)


def _earliest_better(onsets: np.ndarray, gain: np.ndarray, margin: float) -> int:
    """The best-fitting onset, if it beats the last candidate (the step's own start) by ``margin``."""
    pick = int(np.argmax(gain))
    return int(onsets[pick]) if gain[pick] > gain[-1] + margin else int(onsets[-1])


def _best_interval(cum_errors: np.ndarray, cum_requests: np.ndarray, blocked: np.ndarray, p0: float,
                   max_length: int, min_requests: int, min_increase: float) -> Segment | None:
    size = len(cum_errors) - 1
    cum_blocked = np.concatenate([[0], np.cumsum(blocked)])
    best: Segment | None = None
    for length in range(1, min(max_length, size) + 1):
        x = cum_errors[length:] - cum_errors[:-length]
        n = cum_requests[length:] - cum_requests[:-length]
        free = (cum_blocked[length:] - cum_blocked[:-length]) == 0
        with np.errstate(divide="ignore", invalid="ignore"):
            usable = free & (n >= min_requests) & (x / n - p0 >= min_increase)
        if not usable.any():
            continue
        llr = np.where(usable, binomial_llr(x, n, p0), -np.inf)
        start = int(np.argmax(llr))
        if best is None or llr[start] > best.llr:
            best = Segment(start, start + length, float(llr[start]))
    return best


def _shapes(offsets: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate onset (row): a step (0 before the onset, 1 from it) and a ramp that rises
    linearly from the onset's first instant, as a minute sees it on average: 0 before the onset,
    then 0.5/k, 1.5/k, ..., (k-0.5)/k over the k minutes up to ``span``."""
    position = np.arange(span)[None, :] - offsets[:, None] + 1
    inside = position > 0
    return inside.astype(float), np.where(inside, position - 0.5, 0.0) / (span - offsets[:, None])


def _golden_max(fn: Callable[[np.ndarray], np.ndarray], low: np.ndarray, high: np.ndarray,
                steps: int = 60) -> np.ndarray:
    """Element-wise maximum of a concave vector function of a vector argument, by golden sections."""
    a, b = low.copy(), high.copy()
    c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
    fc, fd = fn(c), fn(d)
    for _ in range(steps):
        left = fc > fd
        b = np.where(left, d, b)
        a = np.where(left, a, c)
        c, d = b - _GOLDEN * (b - a), a + _GOLDEN * (b - a)
        fc, fd = fn(c), fn(d)
    return (a + b) / 2.0


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x * log(y), 0 where x is 0 (whatever y is)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 0.0, x * np.log(np.where(x == 0, 1.0, y)))
