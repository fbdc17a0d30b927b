"""The house rules of pipeline/: stages import only earlier stages, the CLI is imported by nothing,
and the top level stays small."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from pipeline.settings import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "pipeline"
# Rank of each top-level part: a module may import parts of its own rank or lower.
RANKS = {"settings": 0, "common": 0, "stack": 1, "generate": 2, "ingest": 3, "windows": 4, "analysis": 5,
         "report": 6, "live": 7, "bench": 8, "cli": 9, "__main__": 10, "__init__": 0}


def _part(module: Path) -> str:
    relative = module.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py")


def _imported_parts(module: Path) -> set[str]:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "pipeline" and len(parts) > 1:
                found.add(parts[1])
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_runs_back_up_the_stages(module):
    part = _part(module)
    upward = {p for p in _imported_parts(module) if p in RANKS and RANKS[p] > RANKS[part]}
    assert not upward, f"{module.relative_to(PROJECT_ROOT)} imports {sorted(upward)}, a later stage"


def test_every_part_has_a_rank():
    assert {_part(m) for m in MODULES} <= set(RANKS)


def test_top_level_has_at_most_six_modules():
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(modules) <= 6, modules


def test_nothing_imports_the_cli_but_the_entry_point():
    importers = [m for m in MODULES if "cli" in _imported_parts(m) and _part(m) not in ("cli", "__main__")]
    assert not importers
