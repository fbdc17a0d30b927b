"""Template mining over stored logs, one stretch of time at a time: Drain templates with their
per-minute counts, and the field values of server errors, ready to be stored (``template_store``).

A ``TemplateMiner`` takes the logs of a stretch in event-time order and returns a ``MiningStep``:
what that stretch added, keyed by the template ids that exist at its end. Mining the logs of
[a, c) in one step, or of [a, b) and [b, c) in two, gives the same templates and counts: the Drain
state carries over (``state_json``) and the logs of each stretch are taken in one fixed order
(event time, then ``_id``).

A template that generalises gets a new id (its text changed): the step moves the counts it holds
under the old id at once, and lists the move in ``merges`` so the store moves what earlier steps
wrote. ``first_seen``/``last_seen`` carry over, so a template widening is never a new template.

Errors are logs with status >= 500. For each error, the miner also counts the values of the log's
other top-level fields (``host``, ``status``, ``level``, whatever the client sends) per service
and minute: what "why this window" compares. A field that shows more than ``MAX_FIELD_VALUES``
distinct values in a service within one step (an id, a timestamp) is no field to group by: that
step does not store it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from pipeline.analysis.drain import Miner
from pipeline.analysis.pattern_stats import MAX_FIELD_VALUES

SERVER_ERROR = 500
MAX_VALUE_CHARS = 200
MAX_SAMPLE_CHARS = 1000
STATE_FORMAT = "template-mining"
# Fields that are not dimensions of a log: its time, text, measure, and what the Lambda adds.
NOT_FIELDS = frozenset({"_id", "timestamp", "timestamp_raw", "service", "message", "latency_ms", "kinesis",
                        "message_truncated", "message_length", "extra_json", "clock_skew"})
FIELD_TYPES = (str, int, bool)


@dataclass
class TemplateSeen:
    """A template as one step saw it: when first and last, and its first message."""

    service: str
    template: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    sample: str
    sample_status: int

    def fold(self, other: TemplateSeen) -> None:
        """Take in what ``other`` (a template merged into this one) saw."""
        if other.first_seen < self.first_seen:
            self.first_seen, self.sample, self.sample_status = other.first_seen, other.sample, other.sample_status
        self.last_seen = max(self.last_seen, other.last_seen)


@dataclass
class MiningStep:
    """What one stretch of logs added."""

    templates: dict[str, TemplateSeen] = field(default_factory=dict)
    # template id -> minute -> [logs, errors]
    minutes: dict[str, dict[dt.datetime, list[int]]] = field(default_factory=dict)
    # (service, minute, field, value) -> errors
    fields: Counter[tuple[str, dt.datetime, str, str]] = field(default_factory=Counter)
    # (old id, new id) in the order they happened
    merges: list[tuple[str, str]] = field(default_factory=list)
    logs: int = 0

    def store_merges(self) -> list[tuple[str, str]]:
        """The moves the store makes, in this order, for counts written by earlier steps: for each
        id, its first merge in this step (later ones concern a template recreated with that text in
        this step, which the store has not seen), sent on to the template it ended in."""
        later: dict[str, str] = {}
        resolved: dict[str, str] = {}
        for old, new in reversed(self.merges):
            target = later.get(new, new)
            resolved[old] = target  # reversed: the first merge of ``old`` is written last
            later[old] = target
        # In the order of each id's first merge: when B moved to C and a recreated B then took A,
        # the stored B goes to C before the stored A comes to B.
        first: dict[str, int] = {}
        for index, (old, _) in enumerate(self.merges):
            first.setdefault(old, index)
        return sorted(resolved.items(), key=lambda item: first[item[0]])

    def template_rows(self) -> list[tuple[Any, ...]]:
        return [(tid, t.service, t.template, t.first_seen, t.last_seen, t.sample, t.sample_status)
                for tid, t in self.templates.items()]

    def minute_rows(self) -> list[tuple[Any, ...]]:
        return [(tid, self.templates[tid].service, minute, counts[0], counts[1])
                for tid, by_minute in self.minutes.items() for minute, counts in by_minute.items()]

    def field_rows(self) -> list[tuple[Any, ...]]:
        return [(*key, count) for key, count in self.fields.items()]

    def minutes_frame(self) -> pd.DataFrame:
        """The per-template minute counts as the store's ``template_minutes`` holds them."""
        return pd.DataFrame(self.minute_rows(), columns=["template_id", "service", "window_start", "logs", "errors"])

    def why_counts(self, service: str, start: dt.datetime, end: dt.datetime,
                   baseline_start: dt.datetime) -> pd.DataFrame:
        """What ``sql/why_counts.sql`` reads from the store, from this step in memory: the service's
        errors per field value (and template id) in [start, end) and in [baseline_start, start)."""
        rows = [(name, value, count if minute >= start else 0, count if minute < start else 0)
                for (svc, minute, name, value), count in self.fields.items()
                if svc == service and baseline_start <= minute < end]
        rows += [("template_id", tid, counts[1] if minute >= start else 0, counts[1] if minute < start else 0)
                 for tid, by_minute in self.minutes.items() if self.templates[tid].service == service
                 for minute, counts in by_minute.items() if counts[1] and baseline_start <= minute < end]
        frame = pd.DataFrame(rows, columns=["field", "value", "window_errors", "baseline_errors"])
        return frame.groupby(["field", "value"], as_index=False).sum()


def log_moment(value: dt.datetime | str) -> dt.datetime:
    """A log's time as a naive UTC datetime: a stored timestamp (naive UTC from the store, or aware)
    or an ISO-8601 string (a generator record). Called once per log, so it avoids pandas."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


class TemplateMiner:
    """Drain over stored logs, with the bookkeeping a store needs; ``state_json`` saves it whole."""

    def __init__(self, miner: Miner | None = None) -> None:
        self.miner = miner or Miner()

    def state_json(self) -> str:
        return json.dumps({"format": STATE_FORMAT, "drain": json.loads(self.miner.to_json())}, separators=(",", ":"))

    @classmethod
    def from_state_json(cls, text: str) -> TemplateMiner:
        state = json.loads(text)
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ValueError("not a template-mining state")
        return cls(Miner.from_json(json.dumps(state["drain"])))

    def mine(self, logs: Iterable[Mapping[str, Any]]) -> MiningStep:
        """Mine ``logs`` (stored documents: ``timestamp``, ``service``, ``status``, ``message`` and
        any other fields), in the order given."""
        step = MiningStep()
        for log in logs:
            self._add(step, log)
        _drop_id_like_fields(step)
        return step

    def _add(self, step: MiningStep, log: Mapping[str, Any]) -> None:
        service, message, status = str(log["service"]), log["message"], int(log["status"])
        if not isinstance(message, str):
            message = json.dumps(message)
        moment = log_moment(log["timestamp"])
        minute = moment.replace(second=0, microsecond=0)
        match = self.miner.add(service, message)
        tid = match.template_id
        for old in match.merged_ids:
            self._move(step, old, tid)
        seen = step.templates.get(tid)
        if seen is None:
            step.templates[tid] = TemplateSeen(service, match.template, moment, moment,
                                               message[:MAX_SAMPLE_CHARS], status)
        else:
            seen.template = match.template  # a merge moved the old id's record here, old text and all
            if moment > seen.last_seen:
                seen.last_seen = moment
            elif moment < seen.first_seen:
                seen.first_seen, seen.sample, seen.sample_status = moment, message[:MAX_SAMPLE_CHARS], status
        counts = step.minutes.setdefault(tid, {}).setdefault(minute, [0, 0])
        counts[0] += 1
        step.logs += 1
        if status >= SERVER_ERROR:
            counts[1] += 1
            self._count_fields(step, service, minute, log, status)

    def _move(self, step: MiningStep, old: str, new: str) -> None:
        step.merges.append((old, new))
        seen = step.templates.pop(old, None)
        if seen is not None:
            target = step.templates.get(new)
            if target is None:
                step.templates[new] = seen
            else:
                target.fold(seen)
        moved = step.minutes.pop(old, None)
        if moved:
            into = step.minutes.setdefault(new, {})
            for minute, (logs, errors) in moved.items():
                counts = into.setdefault(minute, [0, 0])
                counts[0] += logs
                counts[1] += errors

    def _count_fields(self, step: MiningStep, service: str, minute: dt.datetime, log: Mapping[str, Any],
                      status: int) -> None:
        step.fields[(service, minute, "status", str(status))] += 1
        for name, value in log.items():
            if name in NOT_FIELDS or name == "status" or not isinstance(value, FIELD_TYPES):
                continue
            step.fields[(service, minute, name, str(value)[:MAX_VALUE_CHARS])] += 1


def _drop_id_like_fields(step: MiningStep) -> None:
    """Leave out the fields that showed more than ``MAX_FIELD_VALUES`` distinct values in a service
    over the step (an id, a timestamp): no dimension to group errors by, and their rows would grow
    with the errors. Decided per step (an hour), so a service whose hosts change with every deploy
    keeps its ``host`` counted."""
    values: dict[tuple[str, str], set[str]] = {}
    for service, _, name, value in step.fields:
        values.setdefault((service, name), set()).add(value)
    dropped = {key for key, seen in values.items() if len(seen) > MAX_FIELD_VALUES}
    if dropped:
        step.fields = Counter({key: count for key, count in step.fields.items() if (key[0], key[2]) not in dropped})
