"""Log templates mined online with Drain (He et al., 2017, "Drain: An Online Log Parsing Approach with
Fixed Depth Tree"), per service, with template ids that are the same on every run and machine.

Messages become tokens (``message_tokens``): one line of the message (the first non-blank one; for a
raw Python traceback, the last), at most ``max_chars`` characters of it, masked with
``pipeline.analysis.patterns.mask_message`` (the rules of the "top error patterns" query, so a
template and a pattern agree on ``<id>``, ``<num>``...), split on whitespace, at most ``max_tokens``
tokens. That line is where a multi-line message (a stack trace) says what went wrong, and the caps
bound the cost of a message whatever its size: a 300 KiB trace costs what a 1 KiB line does. What
the rest of a message says does not change its template.

The tree (per service): the first level by token count, then one level for each of the first
``depth - 2`` tokens; a token with a digit or a mask placeholder, or one that finds its node full
(``max_children``), goes to the ``<*>`` branch. A leaf lists the clusters reached through it. A message
joins the most similar cluster of its leaf (similarity >= ``sim_threshold``; ties go to the more
general template); the cluster's template gets ``<*>`` where the two differ.

Similarity is the share of the template's constant tokens that the message has at the same place,
counted after the routing prefix: the prefix already chose the leaf, and counting it again would make
any two messages of one leaf look alike. ``<*>`` positions are left out (the paper counts them as
mismatches): otherwise a template that has generalised gets harder to join, and a late difference
splits it (``payment <id> <*> amount=<num> EUR`` could no longer take ``... USD`` and the
template would split per currency). The price: two messages that differ in one of two constant
tokens join (``... not found`` / ``... not modified``). No measure over tokens alone can tell a
varying verb from a varying currency. ``pipeline.analysis.drain_quality`` measures both effects.

Two departures from the paper, both because the generator's (and real) messages break its
assumptions:

- The paper assumes the first tokens are constants, so ``GET ... not found`` and ``POST ... not found``
  (or ``unhandled KeyError in ...`` and ``unhandled ValueError in ...``) would get a template per
  value. When no cluster of its leaf matches, a message is compared with the clusters of its token
  count in other leaves (the first ``max_fallback``, oldest first), by the same similarity, which
  ignores the prefix. A match there is linked to the leaf, so the next such message finds it at
  once. Only messages longer than the prefix do this: a shorter message is all prefix and has
  nothing else to compare.
- When a template generalises so that it covers another template of its token count (takes every
  message that one would), the two become one; when another template covers it, it joins that one.
  Otherwise the order of arrival could leave a narrow template stranded beside the wide one that
  takes all its messages. Two templates of a service never share a text.

Ids: ``template_id(service, template)``, the first 16 hex digits of SHA-256 of ``service + "\\x1f" +
template``. A template's text changes when it generalises, so its id does too: the ``TemplateMatch``
of that message carries the old id in ``merged_ids``, and a caller that keeps counts per id moves the
old id's counts to the new one; templates folded into it (above) are reported there too. A template only
ever generalises, so an id, once merged, comes back only if a later message that fits no template
creates that exact text again (it is then reported as new).

State: ``Miner.to_json`` / ``Miner.from_json``, plain JSON (configuration, clusters, trees), so mining
continues after a restart exactly as if it had never stopped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pipeline.analysis.patterns import MASK_RULES, mask_message

WILDCARD = "<*>"
ID_HEX_DIGITS = 16
STATE_FORMAT = "drain-templates"
STATE_VERSION = 1
PYTHON_TRACEBACK = "Traceback (most recent call last):"

# The placeholders the masking writes (<id>, <num>, ...), read from its rules so they are listed once.
_PLACEHOLDERS = sorted({name for _, replacement in MASK_RULES for name in re.findall(r"<([a-z]+)>", replacement)})
_PLACEHOLDER = re.compile(r"<(?:" + "|".join(map(re.escape, _PLACEHOLDERS)) + r")>")
_VARIABLE = re.compile(r"\d|<(?:" + "|".join(map(re.escape, [*_PLACEHOLDERS, "*"])) + r")>")


@dataclass(frozen=True)
class DrainConfig:
    """How messages are cut and how the tree is shaped; saved with the state, since changing any of
    these mid-stream would change where later messages go."""

    depth: int = 4  # levels of the tree: the root, token count, then depth - 2 routing tokens
    sim_threshold: float = 0.5  # a message joins a template having at least this share of its constants
    max_children: int = 100  # children of a tree node; later tokens go to the <*> branch
    max_fallback: int = 256  # clusters of a token count compared when a message's leaf has no match
    max_chars: int = 1024  # characters of the headline looked at (and read at either end of a message)
    max_tokens: int = 64  # tokens kept from them

    def __post_init__(self) -> None:
        if self.depth < 3:
            raise ValueError(f"depth must be >= 3 (at least one routing token), got {self.depth}")
        if not 0.0 <= self.sim_threshold <= 1.0:
            raise ValueError(f"sim_threshold must be within [0, 1], got {self.sim_threshold}")
        if self.max_children < 2:
            raise ValueError(f"max_children must be >= 2 (one child is the <*> branch), got {self.max_children}")
        for name in ("max_fallback", "max_chars", "max_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    @property
    def prefix(self) -> int:
        """How many leading tokens route a message through the tree."""
        return self.depth - 2


@dataclass(frozen=True, slots=True)
class TemplateMatch:
    """What one message did: which template it belongs to, and whether that template is new or changed.

    ``merged_ids``: ids that stopped existing with this message; their counts belong to ``template_id``
    from now on (the template generalised, and templates it came to cover, or that came to cover it,
    became one with it).
    """

    template_id: str
    template: str
    is_new: bool = False
    merged_ids: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.merged_ids)


@dataclass(frozen=True, slots=True)
class MinedTemplate:
    service: str
    template_id: str
    template: str
    size: int  # messages it has taken


def template_id(service: str, template: str) -> str:
    """The id of a template: a function of the service and the text only, so every run agrees."""
    data = f"{service}\x1f{template}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:ID_HEX_DIGITS]


def message_tokens(message: str, config: DrainConfig | None = None) -> list[str]:
    """The tokens Drain sees: the message's headline (``headline``), masked, split on whitespace, at
    most ``max_tokens``. When the character cap cut a token in two, that partial token is dropped (where
    the cut falls depends on the lengths of earlier values, so it would vary from message to message)."""
    return _tokens(message, config or DEFAULT_CONFIG, masked=True)


def _tokens(message: str, config: DrainConfig, masked: bool) -> list[str]:
    line, cut_token = headline(message, config.max_chars)
    tokens = (mask_message(line) if masked else line).split()
    if cut_token and tokens:
        tokens.pop()
    return tokens[:config.max_tokens]


def headline(message: str, max_chars: int) -> tuple[str, bool]:
    """The line that says what happened, at most ``max_chars`` long, and whether the cap cut its last
    token: the first non-blank line, or for a raw Python traceback (which names the exception last)
    its last line. Only the first and last ``max_chars`` characters are read."""
    head = message[:max_chars]
    body = head.lstrip()
    line = body.splitlines()[0] if body else ""
    if line.startswith(PYTHON_TRACEBACK):
        last = _last_line(message, max_chars)
        if last:
            return last, False
    line_end = len(head) - len(body) + len(line)
    return line, _cut_inside_token(message, line_end, max_chars)


def _last_line(message: str, max_chars: int) -> str:
    """The last non-blank line when it lies wholly within the last ``max_chars`` characters, else ""."""
    lines = message[-max_chars:].rstrip().splitlines()
    if not lines or (len(lines) == 1 and len(message) > max_chars):
        return ""
    return lines[-1].strip()


def _cut_inside_token(message: str, line_end: int, max_chars: int) -> bool:
    return (line_end == max_chars < len(message) and not message[max_chars - 1].isspace()
            and not message[max_chars].isspace())


def is_variable(token: str) -> bool:
    """Whether a token routes to the ``<*>`` branch: it holds a digit or a mask placeholder."""
    return _VARIABLE.search(token) is not None


class _Node:
    """A tree node: children by routing token; a leaf (at the routing depth) lists cluster keys."""

    __slots__ = ("children", "keys")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.keys: list[int] = []


class _Group:
    """The messages of one token count: their routing tree and their clusters, oldest first."""

    __slots__ = ("order", "root", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.root = _Node()
        self.order: list[int] = []


class _Cluster:
    __slots__ = ("group", "key", "match", "size", "tokens", "wildcards")

    def __init__(self, key: int, tokens: list[str], size: int, group: _Group, match: TemplateMatch) -> None:
        self.key, self.tokens, self.size, self.group = key, tokens, size, group
        self.wildcards = tokens.count(WILDCARD)
        self.match = match  # returned as is for a message that leaves the template unchanged (it is frozen)


class _ServiceMiner:
    """Drain for one service."""

    def __init__(self, service: str, config: DrainConfig) -> None:
        self.service = service
        self.config = config
        self.groups: dict[int, _Group] = {}
        self.clusters: dict[int, _Cluster] = {}
        self.by_text: dict[str, int] = {}
        self.next_key = 0

    def add(self, tokens: list[str]) -> TemplateMatch:
        group = self.groups.get(len(tokens))
        if group is None:
            group = self.groups[len(tokens)] = _Group(len(tokens))
        leaf = self._leaf(group, tokens)
        cluster = self._best(leaf.keys, tokens)
        if cluster is None and len(tokens) > self.config.prefix:
            cluster = self._best(group.order[:self.config.max_fallback], tokens)
            if cluster is not None:
                leaf.keys.append(cluster.key)
        if cluster is None:
            return self._create(group, leaf, tokens)
        return self._absorb(cluster, tokens)

    def _leaf(self, group: _Group, tokens: list[str]) -> _Node:
        node = group.root
        for token in tokens[:self.config.prefix]:
            child = node.children.get(token)
            if child is None:
                key = self._route(node, token)
                child = node.children.get(key)
                if child is None:
                    child = node.children[key] = _Node()
            node = child
        return node

    def _route(self, node: _Node, token: str) -> str:
        """The child key of a token not yet among ``node``'s children. One place stays free for
        ``<*>`` until it exists, so a full node still has somewhere to send new tokens."""
        free = self.config.max_children - len(node.children) - (WILDCARD not in node.children)
        return WILDCARD if free <= 0 or is_variable(token) else token

    def _best(self, keys: list[int], tokens: list[str]) -> _Cluster | None:
        """The most similar cluster at or above the threshold; ties go to the more general template,
        then to the one listed first."""
        best, best_sim, best_wild = None, -1.0, -1
        for key in keys:
            cluster = self.clusters[key]
            sim = self._similarity(cluster.tokens, tokens)
            if sim > best_sim or (sim == best_sim and cluster.wildcards > best_wild):
                best, best_sim, best_wild = cluster, sim, cluster.wildcards
        return best if best is not None and best_sim >= self.config.sim_threshold else None

    def _similarity(self, template: list[str], tokens: list[str]) -> float:
        """Share of the template's constant tokens after the routing prefix (all of its tokens when the
        message is no longer than the prefix) that the message has at the same place."""
        start = self.config.prefix if len(tokens) > self.config.prefix else 0
        same = constant = 0
        for i in range(start, len(tokens)):
            token = template[i]
            if token != WILDCARD:
                constant += 1
                if token == tokens[i]:
                    same += 1
        return same / constant if constant else 1.0

    def _create(self, group: _Group, leaf: _Node, tokens: list[str]) -> TemplateMatch:
        text = " ".join(tokens)
        existing = self.by_text.get(text)
        if existing is not None:  # its own leaf missed it (beyond max_fallback): one text, one cluster
            leaf.keys.append(existing)
            return self._absorb(self.clusters[existing], tokens)
        key, self.next_key = self.next_key, self.next_key + 1
        cluster = self.clusters[key] = _Cluster(key, tokens, 1, group, self._match(text))
        self.by_text[text] = key
        group.order.append(key)
        leaf.keys.append(key)
        return dataclasses.replace(cluster.match, is_new=True)

    def _absorb(self, cluster: _Cluster, tokens: list[str]) -> TemplateMatch:
        cluster.size += 1
        merged = [t if t == m else WILDCARD for t, m in zip(cluster.tokens, tokens, strict=True)]
        if merged == cluster.tokens:
            return cluster.match
        old_id = cluster.match.template_id
        del self.by_text[cluster.match.template]
        cluster.tokens, cluster.wildcards = merged, merged.count(WILDCARD)
        cluster.match = self._match(" ".join(merged))
        others = [self.clusters[key] for key in cluster.group.order if key != cluster.key]
        wider = next((other for other in others if _covers(other.tokens, merged)), None)
        if wider is not None:
            self._fold(cluster, wider)
            return dataclasses.replace(wider.match, merged_ids=(old_id,))
        narrower = [other for other in others if _covers(merged, other.tokens)]
        for other in narrower:
            self._fold(other, cluster)
        self.by_text[cluster.match.template] = cluster.key
        return dataclasses.replace(cluster.match, merged_ids=(old_id, *(c.match.template_id for c in narrower)))

    def _fold(self, cluster: _Cluster, target: _Cluster) -> None:
        """``cluster`` becomes part of ``target``, whose template takes every message it would: its
        messages and its leaves go to ``target``. Without this, a template that generalised late would
        live on beside the wider one that now takes all its messages."""
        target.size += cluster.size
        del self.clusters[cluster.key]
        if self.by_text.get(cluster.match.template) == cluster.key:
            del self.by_text[cluster.match.template]
        cluster.group.order.remove(cluster.key)
        for leaf in _leaves(cluster.group.root, self.config.prefix, cluster.group.size):
            if cluster.key in leaf.keys:
                leaf.keys.remove(cluster.key)
                if target.key not in leaf.keys:
                    leaf.keys.append(target.key)

    def _match(self, text: str) -> TemplateMatch:
        return TemplateMatch(template_id(self.service, text), text)

    def templates(self) -> list[MinedTemplate]:
        return [MinedTemplate(self.service, c.match.template_id, c.match.template, c.size)
                for c in self.clusters.values()]

    def state(self) -> dict[str, Any]:
        levels = self.config.prefix
        return {
            "next_key": self.next_key,
            "clusters": [[c.key, c.match.template, c.size, c.group.size] for c in self.clusters.values()],
            "groups": [[g.size, g.order, _encode(g.root, min(levels, g.size))] for g in self.groups.values()],
        }

    @classmethod
    def from_state(cls, service: str, config: DrainConfig, state: dict[str, Any]) -> _ServiceMiner:
        miner = cls(service, config)
        miner.next_key = int(state["next_key"])
        for size, order, tree in state["groups"]:
            group = miner.groups[int(size)] = _Group(int(size))
            group.order = [int(key) for key in order]
            group.root = _decode(tree, min(config.prefix, group.size))
        for key, text, size, group_size in state["clusters"]:
            tokens = text.split()
            if len(tokens) != group_size:
                raise ValueError(f"template {text!r} has {len(tokens)} tokens, its group {group_size}")
            miner.clusters[key] = _Cluster(key, tokens, int(size), miner.groups[group_size], miner._match(text))
            miner.by_text[text] = key
        return miner


def _covers(general: list[str], specific: list[str]) -> bool:
    """Whether every message that fits ``specific`` fits ``general`` (same length assumed)."""
    return all(g in (WILDCARD, s) for g, s in zip(general, specific, strict=True))


def _leaves(node: _Node, levels: int, size: int) -> Iterable[_Node]:
    if min(levels, size) == 0:
        yield node
        return
    for child in node.children.values():
        yield from _leaves(child, levels - 1, size - 1)


def _encode(node: _Node, levels: int) -> Any:
    """A leaf as its list of cluster keys, an inner node as {token: child}."""
    if levels == 0:
        return node.keys
    return {token: _encode(child, levels - 1) for token, child in node.children.items()}


def _decode(tree: Any, levels: int) -> _Node:
    node = _Node()
    if levels == 0:
        node.keys = [int(key) for key in tree]
    else:
        node.children = {token: _decode(child, levels - 1) for token, child in tree.items()}
    return node


DEFAULT_CONFIG = DrainConfig()


class Miner:
    """Drain per service: ``add(service, message)`` for every message, in arrival order."""

    def __init__(self, config: DrainConfig | None = None) -> None:
        self.config = config or DEFAULT_CONFIG
        self._services: dict[str, _ServiceMiner] = {}

    def add(self, service: str, message: str) -> TemplateMatch:
        miner = self._services.get(service)
        if miner is None:
            miner = self._services[service] = _ServiceMiner(service, self.config)
        return miner.add(message_tokens(message, self.config))

    def templates(self, service: str | None = None) -> list[MinedTemplate]:
        """Every template (of one service), per service in the order services and templates appeared."""
        miners = self._services.values() if service is None else [self._services.get(service)]
        return [template for miner in miners if miner is not None for template in miner.templates()]

    def to_json(self) -> str:
        state = {"format": STATE_FORMAT, "version": STATE_VERSION, "config": dataclasses.asdict(self.config),
                 "services": {name: miner.state() for name, miner in self._services.items()}}
        return json.dumps(state, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Miner:
        """A miner that goes on exactly where the one that wrote ``text`` stopped."""
        state = json.loads(text)
        if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
            raise ValueError("not a Drain template state")
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"Drain state version {state.get('version')!r}, this code reads {STATE_VERSION}")
        miner = cls(DrainConfig(**state["config"]))
        for name, service_state in state["services"].items():
            miner._services[name] = _ServiceMiner.from_state(name, miner.config, service_state)
        return miner


@dataclass(frozen=True)
class WildcardValues:
    """The values seen at one ``<*>`` of a template: the most frequent first, with counts."""

    position: int  # index of the token in the template
    top: tuple[tuple[str, int], ...]
    distinct: int


@dataclass(frozen=True)
class WildcardSummary:
    template: str
    matched: int  # messages that fit the template
    skipped: int  # messages that do not (another token count, or another constant token)
    positions: tuple[WildcardValues, ...]


def wildcard_values(template: str, messages: Iterable[str], top: int = 5,
                    config: DrainConfig | None = None, masked_parts: bool = False) -> WildcardSummary:
    """What the ``<*>`` of ``template`` stand for in ``messages``: per wildcard, the ``top`` most
    frequent values (ties by value) and the count of distinct ones. Values are tokens as Drain sees
    them (masked), so ``/payments/<num>/capture`` counts once whatever the id; the masked parts
    (``<id>``...) are constant tokens of the template, not wildcards.

    ``masked_parts``: also the tokens holding a masked part (``<num>``, ``amount=<num>``...), with
    the message's own text there (``32``, ``amount=12.50``) when masking kept the message's token
    count (a quoted string of several words becomes one ``"<str>"``: then the masked token)."""
    if top < 1:
        raise ValueError(f"top must be >= 1, got {top}")
    config = config or DEFAULT_CONFIG
    template_tokens = template.split()
    positions = [i for i, token in enumerate(template_tokens)
                 if token == WILDCARD or (masked_parts and _PLACEHOLDER.search(token))]
    counters: list[Counter[str]] = [Counter() for _ in positions]
    matched = skipped = 0
    for message in messages:
        tokens = message_tokens(message, config)
        if not _fits(template_tokens, tokens):
            skipped += 1
            continue
        matched += 1
        if masked_parts:
            raw = _tokens(message, config, masked=False)
            tokens = raw if len(raw) == len(tokens) else tokens
        for counter, position in zip(counters, positions, strict=True):
            counter[tokens[position]] += 1
    values = tuple(WildcardValues(position, tuple(sorted(counter.items(), key=_by_count)[:top]), len(counter))
                   for position, counter in zip(positions, counters, strict=True))
    return WildcardSummary(template, matched, skipped, values)


def _fits(template: list[str], tokens: list[str]) -> bool:
    return len(template) == len(tokens) and all(t in (WILDCARD, m) for t, m in zip(template, tokens, strict=True))


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]
