"""Drain template mining: tokens, the tree, template ids, folding, state, wildcard values, and how well
it recovers the generator's own templates."""

from __future__ import annotations

import hashlib
import json
import random
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.analysis import drain
from pipeline.analysis.drain import (
    WILDCARD,
    DrainConfig,
    Miner,
    TemplateMatch,
    is_variable,
    message_tokens,
    template_id,
    wildcard_values,
)
from pipeline.analysis.drain_quality import (
    TemplateLabeller,
    generator_quality,
    labelled_messages,
    mined_counts,
    service_quality,
)
from pipeline.generate.generator import GeneratorConfig, generate
from pipeline.generate.messages import NEW_ERROR_TEMPLATE
from pipeline.generate.scenarios import NewErrorMessage

START = datetime(2024, 1, 1, tzinfo=UTC)


def generated(count: int, seed: int = 0) -> list[tuple[str, str]]:
    config = GeneratorConfig(count=count, start=START, end=START + timedelta(hours=1), seed=seed)
    pairs = []
    for event in generate(config):
        record = json.loads(event.data)
        pairs.append((record["service"], record["message"]))
    return pairs


def java_trace(first_line: str, frames: int) -> str:
    frame = "\tat com.example.shop.OrderService.place(OrderService.java:{})\n"
    return first_line + "\n" + "".join(frame.format(i) for i in range(frames)) + "Caused by: x\n"


# --- tokens -------------------------------------------------------------------------------------

def test_tokens_are_the_masked_first_line_split_on_whitespace():
    assert message_tokens("payment pay_0a1b2c3d4e authorized amount=33.12 EUR") == [
        "payment", "<id>", "authorized", "amount=<num>", "EUR"]
    assert message_tokens('query "red dress" returned 12 results\nsecond line') == [
        "query", '"<str>"', "returned", "<num>", "results"]
    assert message_tokens("\n\n  \t first\tline  here \r\nnext") == ["first", "line", "here"]


def test_empty_and_blank_messages_have_no_tokens():
    assert message_tokens("") == []
    assert message_tokens(" \n\t\n ") == []


def test_unicode_messages():
    assert message_tokens("ユーザー u123456 がログインしました") == ["ユーザー", "<id>", "がログインしました"]
    assert message_tokens("Ошибка:\u3000файл 42 не найден") == [  # noqa: RUF001 - Cyrillic on purpose
        "Ошибка:", "файл", "<num>", "не", "найден"]
    assert message_tokens("disk full 🔥 on node-a") == ["disk", "full", "🔥", "on", "node-a"]


def test_a_long_line_is_cut_at_the_character_cap_without_a_partial_token():
    config = DrainConfig(max_chars=20)
    assert message_tokens("alpha beta gamma delta epsilon", config) == ["alpha", "beta", "gamma"]  # "de" dropped
    assert message_tokens("alpha beta gamma del epsilon", config) == ["alpha", "beta", "gamma", "del"]
    assert message_tokens("x" * 50, config) == []  # one token, cut: nothing whole is left


def test_tokens_are_capped():
    assert len(message_tokens(" ".join(["word"] * 500))) == DrainConfig().max_tokens
    assert message_tokens("a b c d e", DrainConfig(max_tokens=2)) == ["a", "b"]


def test_a_long_stack_trace_costs_what_its_first_line_does(monkeypatch):
    seen: list[int] = []
    real_mask = drain.mask_message

    def spy(text: str) -> str:
        seen.append(len(text))
        return real_mask(text)

    monkeypatch.setattr(drain, "mask_message", spy)
    trace = java_trace("java.lang.IllegalStateException: order o-0012345 is closed", 6000)
    assert len(trace) > 300 * 1024
    assert message_tokens(trace) == ["java.lang.IllegalStateException:", "order", "<id>", "is", "closed"]
    one_line = "x " * 200_000
    assert len(message_tokens(one_line)) == DrainConfig().max_tokens
    assert max(seen) <= DrainConfig().max_chars


def test_a_python_traceback_is_named_by_its_last_line():
    trace = ("Traceback (most recent call last):\n  File \"app.py\", line 12, in <module>\n    main()\n"
             "KeyError: 'sku'\n\n")
    assert message_tokens(trace) == ["KeyError:", "'<str>'"]
    long_trace = "Traceback (most recent call last):\n" + "  File \"a.py\", line 1, in f\n" * 20_000 + "ValueError: bad"
    assert message_tokens(long_trace) == ["ValueError:", "bad"]


def test_tokens_with_digits_or_placeholders_are_variable():
    assert is_variable("<id>") and is_variable("amount=<num>") and is_variable("v2")
    assert is_variable("\uff11\uff12")  # full-width digits
    assert is_variable(WILDCARD)
    assert not is_variable("GET") and not is_variable("/search") and not is_variable("<html>")


# --- mining -------------------------------------------------------------------------------------

def test_a_differing_token_becomes_a_wildcard_and_the_old_id_is_reported_merged():
    miner = Miner()
    first = miner.add("auth", "user davidoh logged in")
    second = miner.add("auth", "user eranr logged in")
    third = miner.add("auth", "user bob logged in")
    assert first == TemplateMatch(template_id("auth", "user davidoh logged in"), "user davidoh logged in", is_new=True)
    assert second.template == "user <*> logged in" and not second.is_new
    assert second.merged_ids == (first.template_id,) and second.changed
    assert third == TemplateMatch(second.template_id, "user <*> logged in")
    assert not third.changed
    assert [(t.template, t.size) for t in miner.templates("auth")] == [("user <*> logged in", 3)]


def test_template_ids_come_from_service_and_text():
    expected = hashlib.sha256(b"gateway\x1fGET <*> not found").hexdigest()[:16]
    assert template_id("gateway", "GET <*> not found") == expected
    assert template_id("auth", "GET <*> not found") != expected
    assert template_id("x", "bad \udcff byte") == hashlib.sha256("x\x1fbad \udcff byte".encode(
        "utf-8", "surrogatepass")).hexdigest()[:16]


def test_same_messages_give_same_ids():
    messages = generated(3000, seed=3)
    one, two = Miner(), Miner()
    first = [one.add(s, m) for s, m in messages]
    assert first == [two.add(s, m) for s, m in messages]
    service, message = messages[0]
    assert first[0].template_id == template_id(service, " ".join(message_tokens(message)))


def test_services_are_mined_apart():
    miner = Miner()
    a = miner.add("a", "cache warmed in 12 ms")
    b = miner.add("b", "cache warmed in 12 ms")
    assert a.template == b.template and a.template_id != b.template_id and a.is_new and b.is_new
    assert {t.service for t in miner.templates()} == {"a", "b"}
    assert miner.templates("c") == []


def test_messages_that_differ_in_one_routing_token_share_a_template():
    miner = Miner()
    for message in ("GET /search not found", "POST /checkout/order not found", "DELETE /payments/12 not found",
                    "PUT / not found", "GET /search not found"):
        match = miner.add("gw", message)
    assert match.template == "<*> <*> not found"
    assert [t.template for t in miner.templates()] == ["<*> <*> not found"]


def test_other_shapes_stay_apart():
    miner = Miner()
    messages = [
        "level=info msg=started component=scheduler",
        "level=info msg=stopped component=scheduler",
        '{"event": "login", "user": "u1"}',
        "disk /dev/sda1 is 91% full",
        "disk /dev/sdb2 is 97% full",
        "connection reset by peer",
        "connection refused",
        "",
        "   ",
    ]
    for message in messages:
        miner.add("svc", message)
    assert [(t.template, t.size) for t in miner.templates()] == [
        ("level=info <*> component=scheduler", 2), ('{"<str>": "<str>", "<str>": "<str>"}', 1),
        ("disk /dev/<id> is <num>% full", 2), ("connection reset by peer", 1), ("connection refused", 1), ("", 2)]


def test_empty_messages_get_one_template():
    miner = Miner()
    first, second = miner.add("s", ""), miner.add("s", "\n \n")
    assert first.template == second.template == "" and first.is_new and not second.changed
    assert first.template_id == template_id("s", "")


def test_stack_traces_with_one_first_line_share_a_template():
    miner = Miner()
    first = miner.add("svc", java_trace("java.lang.IllegalStateException: order o-0012345 is closed", 6000))
    second = miner.add("svc", java_trace("java.lang.IllegalStateException: order o-9999999 is closed", 10))
    other = miner.add("svc", java_trace("java.lang.NullPointerException: cart is null", 10))
    assert first.template == second.template == "java.lang.IllegalStateException: order <id> is closed"
    assert not second.is_new and other.is_new and other.template_id != first.template_id


def test_a_full_node_sends_new_tokens_to_the_wildcard_branch():
    miner = Miner(DrainConfig(max_children=3))
    templates = [miner.add("s", f"{word} x").template for word in ("alpha", "beta", "gamma", "delta")]
    # two tokens: all prefix, so no look into other leaves; gamma and delta share the <*> branch, and
    # the template they make covers the first two, which it takes in
    assert templates == ["alpha x", "beta x", "gamma x", "<*> x"]
    assert [(t.template, t.size) for t in miner.templates()] == [("<*> x", 4)]
    [[size, _, tree]] = json.loads(miner.to_json())["services"]["s"]["groups"]
    assert size == 2 and list(tree) == ["alpha", "beta", WILDCARD]


def test_a_template_that_comes_to_cover_another_takes_it_in():
    miner = Miner(DrainConfig(depth=3))
    a = miner.add("s", "op a b c")
    b = miner.add("s", "op x y c")  # 1 of 3 tokens in common: a template of its own
    assert b.is_new
    assert miner.add("s", "op a r c").template == "op a <*> c"
    folded = miner.add("s", "op q r c")  # "op <*> <*> c" covers "op x y c"
    assert folded.template == "op <*> <*> c"
    assert set(folded.merged_ids) == {template_id("s", "op a <*> c"), b.template_id}
    assert a.template_id not in folded.merged_ids  # it was merged before, reported then
    assert [(t.template, t.size) for t in miner.templates()] == [("op <*> <*> c", 4)]
    assert miner.add("s", "op x y c").template_id == folded.template_id


def test_a_template_that_comes_under_another_joins_it():
    """A template another one covers exists only when that one was out of reach at its creation
    (here, beyond ``max_fallback``)."""
    miner = Miner(DrainConfig(depth=3, max_fallback=1))
    miner.add("s", "aa x y z")
    miner.add("s", "7 p q r")
    wide = miner.add("s", "ab12 p q t")
    assert wide.template == "<*> p q <*>"
    narrow = miner.add("s", "cc p q s")
    assert narrow.is_new  # only "aa x y z" was compared
    joined = miner.add("s", "cc p q u")
    assert joined == TemplateMatch(wide.template_id, wide.template, merged_ids=(narrow.template_id,))
    assert [t.template for t in miner.templates()] == ["aa x y z", "<*> p q <*>"]


def test_random_streams_keep_one_template_per_text_and_every_message_fits_its_template():
    rng = random.Random(5)
    for depth in (3, 4):
        miner, seen = Miner(DrainConfig(depth=depth)), {}
        for _ in range(3000):
            message = " ".join(rng.choice("abcd") for _ in range(rng.randint(1, 6)))
            match = miner.add("s", message)
            for old in match.merged_ids:
                for earlier in seen.pop(old, []):
                    seen.setdefault(match.template_id, []).append(earlier)
            seen.setdefault(match.template_id, []).append(message)
        templates = {t.template_id: t for t in miner.templates()}
        assert set(templates) == set(seen)
        assert len({t.template for t in templates.values()}) == len(templates)
        for key, messages in seen.items():
            assert templates[key].size == len(messages)
            assert wildcard_values(templates[key].template, messages).skipped == 0
        longer = [t.template.split() for t in templates.values() if len(t.template.split()) > depth - 2]
        for general in longer:
            for specific in longer:
                if general is not specific and len(general) == len(specific):
                    assert not drain._covers(general, specific), (general, specific)


# --- state --------------------------------------------------------------------------------------

def test_mining_in_two_halves_with_a_restart_gives_what_one_pass_gives():
    messages = [*generated(20_000, seed=1), ("svc", "bad \udcff byte"), ("svc", ""), ("svc", "ユーザー u1 ok")]
    half = len(messages) // 2
    one_pass = Miner()
    expected = [one_pass.add(s, m) for s, m in messages]

    first = Miner()
    got = [first.add(s, m) for s, m in messages[:half]]
    state = first.to_json()
    json.loads(state)  # plain JSON
    second = Miner.from_json(state)
    assert second.to_json() == state
    got += [second.add(s, m) for s, m in messages[half:]]

    assert got == expected
    assert second.templates() == one_pass.templates()
    assert second.to_json() == one_pass.to_json()


def test_state_keeps_the_configuration():
    config = DrainConfig(depth=5, sim_threshold=0.4, max_children=7, max_fallback=9, max_chars=300, max_tokens=20)
    miner = Miner(config)
    miner.add("s", "a b c d e f")
    assert Miner.from_json(miner.to_json()).config == config


@pytest.mark.parametrize(("text", "error"), [
    ("[]", "not a Drain template state"),
    ('{"format": "other"}', "not a Drain template state"),
    ('{"format": "drain-templates", "version": 99}', "version 99"),
])
def test_foreign_states_are_refused(text, error):
    with pytest.raises(ValueError, match=error):
        Miner.from_json(text)


@pytest.mark.parametrize(("kwargs", "error"), [
    ({"depth": 2}, "depth"), ({"sim_threshold": 1.5}, "sim_threshold"), ({"max_children": 1}, "max_children"),
    ({"max_fallback": 0}, "max_fallback"), ({"max_chars": 0}, "max_chars"), ({"max_tokens": 0}, "max_tokens"),
])
def test_bad_configurations_are_refused(kwargs, error):
    with pytest.raises(ValueError, match=error):
        DrainConfig(**kwargs)


# --- values behind the wildcards ---------------------------------------------------------------

def test_wildcard_values_are_counted_per_position():
    template = "<*> <id> <*> amount=<num> <*>"
    messages = [
        "payment pay_0a1b2c3d4e authorized amount=33.12 EUR",
        "payment pay_0a1b2c3d4f captured amount=3.10 EUR",
        "refund re_0a1b2c3d4e issued amount=1.00 USD",
        "payment pay_0a1b2c3d40 authorized amount=9.99 GBP",
        "payment pay_0a1b2c3d41 authorized amount=9.99 EUR\nwith a second line",
        "something else entirely",
        "payment pay_0a1b2c3d42 authorized total=9.99 EUR",
    ]
    summary = wildcard_values(template, messages, top=2)
    assert (summary.matched, summary.skipped) == (5, 2)
    assert [(p.position, p.top, p.distinct) for p in summary.positions] == [
        (0, (("payment", 4), ("refund", 1)), 2),
        (2, (("authorized", 3), ("captured", 1)), 3),
        (4, (("EUR", 3), ("GBP", 1)), 3),  # ties by value
    ]


def test_a_template_without_wildcards_has_no_positions():
    summary = wildcard_values("connection refused", ["connection refused", "connection reset"])
    assert (summary.matched, summary.skipped, summary.positions) == (1, 1, ())
    with pytest.raises(ValueError, match="top"):
        wildcard_values("x", [], top=0)


# --- the generator's own templates ---------------------------------------------------------------

def test_the_labeller_names_each_generated_message_by_its_template():
    labeller = TemplateLabeller(["{method} {path} not found", "{method} {path} not modified"])
    assert labeller.label("GET /x not modified") == "{method} {path} not modified"
    with pytest.raises(ValueError, match="none of the generator"):
        labeller.label("unknown message")


def test_quality_follows_merged_ids_like_a_caller_would():
    miner = Miner()
    triples = [("s", "t1", "user alice logged in"), ("s", "t1", "user bob logged in"),
               ("s", "t2", "disk full"), ("s", "t1", "user carol logged in")]
    counts = mined_counts(triples, miner)
    assert {key: dict(c) for key, c in counts["s"].items()} == {
        template_id("s", "user <*> logged in"): {"t1": 3}, template_id("s", "disk full"): {"t2": 1}}
    quality = service_quality("s", counts["s"])
    assert (quality.one_to_one_share, quality.templates_per_true_template, quality.pure_share) == (1.0, 1.0, 1.0)


def test_mined_templates_match_the_generators_templates():
    """Per service: >= 95% of messages come from a template that maps to exactly one mined template,
    and <= 1.2 mined templates per generator template (NewErrorMessage adds a template mid-run)."""
    config = GeneratorConfig(count=30_000, start=START, end=START + timedelta(hours=1), seed=0,
                             scenario=NewErrorMessage())
    counts = mined_counts(labelled_messages(config), Miner())
    qualities = [service_quality(service, by_id) for service, by_id in counts.items()]
    assert {q.service for q in qualities} == {"gateway", "auth", "search", "inventory", "checkout", "payment"}
    for quality in qualities:
        assert quality.one_to_one_share >= 0.95, quality
        assert quality.templates_per_true_template <= 1.2, quality
        assert quality.mined_templates <= quality.true_templates, quality
    assert sum(q.messages for q in qualities) == 30_000
    assert any(NEW_ERROR_TEMPLATE in truths for truths in counts["checkout"].values())


def test_generator_quality_scores_every_service():
    config = GeneratorConfig(count=2000, start=START, end=START + timedelta(hours=1), seed=2)
    qualities = generator_quality(config, DrainConfig())
    assert [q.service for q in qualities] == sorted(q.service for q in qualities)
    assert sum(q.messages for q in qualities) == 2000


def test_wildcard_values_with_masked_parts_give_the_messages_own_text():
    template = "<*> unavailable: connection pool exhausted (<num>/<num> in use)"
    messages = ["user-db unavailable: connection pool exhausted (32/32 in use)",
                "user-db unavailable: connection pool exhausted (32/32 in use)",
                "order-db unavailable: connection pool exhausted (64/64 in use)",
                "order-db unavailable: circuit breaker open"]
    summary = wildcard_values(template, messages, masked_parts=True)
    assert (summary.matched, summary.skipped) == (3, 1)
    assert [p.position for p in summary.positions] == [0, 5]
    assert summary.positions[0].top == (("user-db", 2), ("order-db", 1))
    assert summary.positions[1].top == (("(32/32", 2), ("(64/64", 1)) and summary.positions[1].distinct == 2
    # without masked parts: only the wildcard
    assert [p.position for p in wildcard_values(template, messages).positions] == [0]
