"""Log messages: fixed templates per service and status, with variable parts (ids, amounts, paths).

Real log lines are a handful of patterns repeated with different ids and numbers; pattern mining,
grouping by message and "top errors" only make sense on data shaped like that. Each template is a
``str.format`` string whose placeholders are filled by the functions in ``FILLERS``.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable

from pipeline.generate.traffic import ServiceProfile, pick

Filler = Callable[[random.Random, ServiceProfile], str]

SUCCESS_TEMPLATES: dict[str, tuple[str, ...]] = {
    "gateway": ("{method} {path} routed to {upstream}", "{method} {path} served from cache"),
    "auth": ("user {user} logged in from {ip}", "token refreshed for user {user}", "session {session} validated"),
    "search": ('query "{term}" returned {hits} results', 'suggestions served for prefix "{prefix}"'),
    "inventory": ("reserved {qty} units of sku {sku} in warehouse {warehouse}", "stock level of sku {sku} is {qty}"),
    "checkout": ("order {order} placed with {qty} items total={amount} {currency}", "cart {cart} updated: {qty} items"),
    "payment": ("payment {payment} authorized amount={amount} {currency}",
                "payment {payment} captured amount={amount} {currency}",
                "refund {refund} issued amount={amount} {currency}"),
}
GENERIC_SUCCESS = ("{method} {path} completed",)  # for services that have no templates of their own
REDIRECT_TEMPLATES = ("{method} {path} redirected to {location}", "{method} {path} not modified")
CLIENT_ERROR_TEMPLATES: dict[int, tuple[str, ...]] = {
    400: ("invalid request to {path}: field '{field}' is required",),
    401: ("authentication failed for user {user}: token expired", "missing bearer token on {path}"),
    403: ("user {user} is not allowed to {action} {path}",),
    404: ("{method} {path} not found",),
    409: ("conflict updating {entity} {entity_id}: version {version} is stale",),
    422: ("validation failed for {entity} {entity_id}: '{field}' is invalid",),
    429: ("rate limit exceeded for client {client}: {limit} requests/min",),
}
SERVER_ERROR_TEMPLATES: dict[int, tuple[str, ...]] = {
    500: ("unhandled {exception} in {handler}",),
    502: ("bad gateway: {dependency} closed the connection",),
    503: ("{dependency} unavailable: connection pool exhausted ({pool}/{pool} in use)",
          "{dependency} unavailable: circuit breaker open"),
    504: ("timeout after {timeout} ms waiting for {dependency}",),
}
# Not part of normal traffic: the 5xx message a bad deploy brings in the ``new-error`` scenario. Mining
# templates should find it as a pattern that appears at the deploy and never before.
NEW_ERROR_TEMPLATE = "schema mismatch in {handler}: unexpected field '{field}' in {entity} {entity_id} (v{version})"

_WORDS = ("shoes", "red dress", "laptop", "coffee", "usb-c cable", "headphones", "tent", "garden chair",
          "phone case", "running", "winter jacket", "desk lamp", "backpack", "watch", "book")
_FIELDS = ("email", "quantity", "address", "card_number", "sku", "currency", "postal_code")
_ENTITIES = ("order", "cart", "reservation", "customer", "payment")
_EXCEPTIONS = ("NullPointerException", "KeyError", "IllegalStateException", "TimeoutError", "ValueError")
_HANDLERS = ("RequestHandler.process", "OrderService.place", "TokenService.refresh", "StockRepository.update")
_ACTIONS = ("read", "update", "delete")


def _path(rng: random.Random, profile: ServiceProfile) -> str:
    return pick(rng, profile.paths).replace("{id}", str(rng.randrange(1, 100_000)))


FILLERS: dict[str, Filler] = {
    "method": lambda rng, _: pick(rng, ("GET", "GET", "GET", "POST", "PUT", "DELETE")),
    "path": _path,
    "location": _path,
    "upstream": lambda rng, _: pick(rng, ("auth", "search", "inventory", "checkout", "payment")),
    "user": lambda rng, _: f"u{rng.randrange(1_000_000):06d}",
    "ip": lambda rng, _: f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
    "session": lambda rng, _: f"s-{rng.getrandbits(48):012x}",
    "term": lambda rng, _: pick(rng, _WORDS),
    "prefix": lambda rng, _: pick(rng, _WORDS)[:3],
    "hits": lambda rng, _: str(int(rng.expovariate(1 / 200))),
    "qty": lambda rng, _: str(rng.randrange(1, 25)),
    "sku": lambda rng, _: f"SKU-{rng.randrange(100_000):05d}",
    "warehouse": lambda rng, _: pick(rng, ("AMS1", "FRA2", "DUB1", "IAD3")),
    "order": lambda rng, _: f"o-{rng.randrange(10_000_000):07d}",
    "cart": lambda rng, _: f"c-{rng.randrange(10_000_000):07d}",
    "payment": lambda rng, _: f"pay_{rng.getrandbits(40):010x}",
    "refund": lambda rng, _: f"re_{rng.getrandbits(40):010x}",
    "amount": lambda rng, _: f"{rng.lognormvariate(3.5, 0.9):.2f}",
    "currency": lambda rng, _: pick(rng, ("EUR", "EUR", "USD", "GBP")),
    "field": lambda rng, _: pick(rng, _FIELDS),
    "action": lambda rng, _: pick(rng, _ACTIONS),
    "entity": lambda rng, _: pick(rng, _ENTITIES),
    "entity_id": lambda rng, _: str(rng.randrange(1, 10_000_000)),
    "version": lambda rng, _: str(rng.randrange(1, 50)),
    "client": lambda rng, _: f"cl-{rng.randrange(1000):04d}",
    "limit": lambda rng, _: pick(rng, ("100", "600", "1000")),
    "exception": lambda rng, _: pick(rng, _EXCEPTIONS),
    "handler": lambda rng, _: pick(rng, _HANDLERS),
    "dependency": lambda _, profile: profile.dependency,
    "pool": lambda rng, _: pick(rng, ("32", "64", "128")),
    "timeout": lambda _, profile: str(int(profile.timeout_ms)),
}


class Template:
    """A format string with its placeholders listed once, so filling it costs no parsing."""

    __slots__ = ("fields", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.fields = tuple(name for _, name, _, _ in string.Formatter().parse(text) if name)
        unknown = [name for name in self.fields if name not in FILLERS]
        if unknown:
            raise ValueError(f"template {text!r} uses unknown placeholders {unknown}")

    def fill(self, rng: random.Random, profile: ServiceProfile) -> str:
        values: dict[str, str] = {}
        for name in self.fields:  # a repeated placeholder ({pool}/{pool}) gets one value
            if name not in values:
                values[name] = FILLERS[name](rng, profile)
        return self.text.format(**values)


class MessageBook:
    """All templates, compiled once; ``message`` picks one for a service and status and fills it."""

    def __init__(self) -> None:
        self._success = {name: _compile(texts) for name, texts in SUCCESS_TEMPLATES.items()}
        self._generic = _compile(GENERIC_SUCCESS)
        self._redirect = _compile(REDIRECT_TEMPLATES)
        self._errors = {code: _compile(texts) for code, texts in {**CLIENT_ERROR_TEMPLATES,
                                                                   **SERVER_ERROR_TEMPLATES}.items()}
        self._extra: dict[str, Template] = {}

    def message(self, rng: random.Random, profile: ServiceProfile, status: int) -> str:
        if status < 300:
            choices = self._success.get(profile.name, self._generic)
        elif status < 400:
            choices = self._redirect
        else:
            choices = self._errors.get(status) or self._errors[500 if status >= 500 else 400]
        template = choices[0] if len(choices) == 1 else pick(rng, choices)
        return template.fill(rng, profile)

    def fill(self, rng: random.Random, profile: ServiceProfile, text: str) -> str:
        """A message from a template outside the book (a scenario's), compiled on first use."""
        template = self._extra.get(text)
        if template is None:
            template = self._extra[text] = Template(text)
        return template.fill(rng, profile)

    def templates(self) -> list[str]:
        """Every template text: tests check that each message matches one of them."""
        groups = [*self._success.values(), self._generic, self._redirect, *self._errors.values()]
        return [template.text for group in groups for template in group]


def _compile(texts: tuple[str, ...]) -> tuple[Template, ...]:
    return tuple(Template(text) for text in texts)
