"""``${name}`` templates for SQL, Flink paragraphs and server configuration files.

Only the braced form is a placeholder: ``$$`` (PL/pgSQL), ``$1`` and ``${ENV:X}`` (Trino's own
secret syntax) stay as written, and a placeholder without a value is an error, not an empty string.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from string import Template


class NamedTemplate(Template):
    """``${name}`` only; no ``$name`` and no ``$$`` escape."""

    pattern = r"\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}(?P<named>(?!))?(?P<escaped>(?!))?(?P<invalid>(?!))?"


def render(text: str, values: Mapping[str, object]) -> str:
    """``text`` with every ``${name}`` replaced; KeyError names a placeholder without a value."""
    return NamedTemplate(text).substitute({key: str(value) for key, value in values.items()})


def sql_file(path: Path, values: Mapping[str, object] | None = None) -> str:
    """A ``.sql`` file's statements without its comment lines (a ``:name`` or ``%(name)s`` in a comment
    would be taken for a bind), with its ``${name}`` fragments filled in (identifiers and generated
    text, never values: values are bound)."""
    text = path.read_text(encoding="utf-8")
    return render("\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--")), values or {})
