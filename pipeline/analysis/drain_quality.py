"""How well Drain recovers the generator's own message templates, per service.

The generator fills a known set of templates (``pipeline.generate.messages``), so every generated
message has a true template. Two figures per service:

- ``one_to_one_share``: the share of messages whose true template ended up as exactly one mined
  template (not split over several);
- ``templates_per_true_template``: the mean number of mined templates a true template ended up in;

and one more that the targets do not cover but a reader should see: ``pure_share``, the share of
messages whose mined template holds a single true template (Drain merges templates that differ in one
token of few, such as ``... not found`` and ``... not modified``).

The mining is followed the way a caller storing counts per template id would: when a match reports
``merged_ids``, their counts move to the new id. This lives apart from ``drain`` because it needs the
generator (analysis may import generation, never the other way round).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pipeline.analysis.drain import DrainConfig, Miner
from pipeline.generate.generator import GeneratorConfig, generate
from pipeline.generate.messages import NEW_ERROR_TEMPLATE, MessageBook


@dataclass(frozen=True)
class ServiceQuality:
    service: str
    messages: int
    true_templates: int
    mined_templates: int
    one_to_one_share: float
    templates_per_true_template: float
    pure_share: float


class TemplateLabeller:
    """The generator template a message was filled from: one regex alternation over all templates
    (a template's placeholders match any text), the first template that matches wins."""

    def __init__(self, templates: Iterable[str]) -> None:
        self.templates = list(dict.fromkeys(templates))
        alternatives = (f"(?P<t{i}>{_pattern(text)})" for i, text in enumerate(self.templates))
        self._regex = re.compile("|".join(alternatives))

    def label(self, message: str) -> str:
        found = self._regex.fullmatch(message)
        if found is None or found.lastgroup is None:
            raise ValueError(f"message {message!r} comes from none of the generator's templates")
        return self.templates[int(found.lastgroup[1:])]


def _pattern(text: str) -> str:
    return re.sub(r"\\\{\w+\\\}", ".+?", re.escape(text))


def generator_labeller(config: GeneratorConfig) -> TemplateLabeller:
    """Every template ``config`` can write: the message book's, the new-error one, the scenario's own."""
    scenario_template = getattr(config.scenario, "message_template", None)
    extra = [scenario_template] if isinstance(scenario_template, str) else []
    return TemplateLabeller([*MessageBook().templates(), NEW_ERROR_TEMPLATE, *extra])


def labelled_messages(config: GeneratorConfig) -> Iterator[tuple[str, str, str]]:
    """(service, true template, message) of every valid event of ``config``."""
    labeller = generator_labeller(config)
    for event in generate(config):
        if event.record is not None:
            message = event.record["message"]
            yield event.record["service"], labeller.label(message), message


def mined_counts(triples: Iterable[tuple[str, str, str]],
                 miner: Miner) -> dict[str, dict[str, Counter[str]]]:
    """Per service, per mined template id, how many messages of each true template it took."""
    counts: dict[str, dict[str, Counter[str]]] = defaultdict(dict)
    for service, truth, message in triples:
        match = miner.add(service, message)
        by_id = counts[service]
        current = by_id.setdefault(match.template_id, Counter())
        for old in match.merged_ids:
            current.update(by_id.pop(old, Counter()))
        current[truth] += 1
    return dict(counts)


def service_quality(service: str, by_id: dict[str, Counter[str]]) -> ServiceQuality:
    mined_per_truth: dict[str, set[str]] = defaultdict(set)
    messages_per_truth: Counter[str] = Counter()
    for mined_id, truths in by_id.items():
        for truth, count in truths.items():
            mined_per_truth[truth].add(mined_id)
            messages_per_truth[truth] += count
    total = sum(messages_per_truth.values())
    one_to_one = sum(messages_per_truth[t] for t, ids in mined_per_truth.items() if len(ids) == 1)
    pure = sum(truths.total() for truths in by_id.values() if len(truths) == 1)
    return ServiceQuality(
        service=service, messages=total, true_templates=len(mined_per_truth), mined_templates=len(by_id),
        one_to_one_share=one_to_one / total if total else 1.0,
        templates_per_true_template=(sum(len(ids) for ids in mined_per_truth.values()) / len(mined_per_truth)
                                     if mined_per_truth else 1.0),
        pure_share=pure / total if total else 1.0,
    )


def generator_quality(config: GeneratorConfig, drain: DrainConfig | None = None) -> list[ServiceQuality]:
    """Mine the messages of ``config`` in one pass and score the result per service (sorted by name)."""
    counts = mined_counts(labelled_messages(config), Miner(drain))
    return [service_quality(service, counts[service]) for service in sorted(counts)]
