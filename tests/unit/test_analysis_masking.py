"""Masking of error messages' variable parts (the same rules Trino applies in the patterns query)."""

from __future__ import annotations

import random
import re

import pytest

from pipeline.analysis.patterns import MASK_RULES, mask_message, masked_sql
from pipeline.generate.messages import MessageBook
from pipeline.generate.traffic import DEFAULT_SERVICES


@pytest.mark.parametrize(("message", "masked"), [
    ("payment pay_0a1b2c3d4e authorized amount=33.12 EUR", "payment <id> authorized amount=<num> EUR"),
    ("user u000123 logged in from 10.1.2.3", "user <id> logged in from <ip>"),
    ("GET /api/v1/products/4521 not found", "GET /api/v1/products/<num> not found"),
    ('query "red dress" returned 12 results', 'query "<str>" returned <num> results'),
    ("card-processor unavailable: connection pool exhausted (32/32 in use)",
     "card-processor unavailable: connection pool exhausted (<num>/<num> in use)"),
    ("timeout after 10000 ms waiting for card-processor", "timeout after <num> ms waiting for card-processor"),
    ("conflict updating order 1234567: version 3 is stale", "conflict updating order <num>: version <num> is stale"),
    ("reserved 3 units of sku SKU-01234", "reserved <num> units of sku <id>"),
    ("mail to bob.smith@example.com failed", "mail to <email> failed"),
    ("request 3f2a1b4c-1d2e-4f5a-8b9c-0123456789ab failed", "request <uuid> failed"),
    ("invalid request to /checkout/cart/12: field 'email' is required",
     "invalid request to /checkout/cart/<num>: field '<str>' is required"),
    ("session s-0123456789ab validated", "session <id> validated"),
    ("checksum 0xDEADBEEF mismatch", "checksum <hex> mismatch"),
    ("unhandled KeyError in OrderService.place", "unhandled KeyError in OrderService.place"),
])
def test_variable_parts_are_masked(message, masked):
    assert mask_message(message) == masked


def test_messages_of_one_template_share_one_pattern():
    """Every generated 5xx message of a service collapses to a handful of patterns."""
    rng, book = random.Random(7), MessageBook()
    for profile in DEFAULT_SERVICES:
        for status in (500, 502, 503, 504, 404, 409):
            messages = {book.message(rng, profile, status) for _ in range(300)}
            patterns = {mask_message(m) for m in messages}
            # a template can have at most a few fixed choices (exception names, handlers)
            assert len(patterns) <= 25, (profile.name, status, sorted(patterns)[:5])
            assert len(patterns) < len(messages) or len(messages) <= 25


def test_trino_expression_binds_every_rule_as_a_parameter():
    expression, params = masked_sql()
    assert expression.count("regexp_replace(") == len(MASK_RULES)
    for pattern, _replacement in MASK_RULES:  # no rule text is pasted into the SQL
        assert pattern not in expression
    assert set(params.values()) >= {p for p, _ in MASK_RULES}
    assert re.fullmatch(r"(regexp_replace\()+message(, :mask_p\d+, :mask_r\d+\))+", expression)
