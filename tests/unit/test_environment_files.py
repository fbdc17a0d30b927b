"""pyproject.toml, requirements.lock and environment.yml describe one environment."""

from __future__ import annotations

import re
import tomllib

import yaml

from pipeline.settings import PROJECT_ROOT


def _name(requirement: str) -> str:
    return re.split(r"[\[=<>!~ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _pins(requirements: list[str]) -> dict[str, str]:
    pins = {}
    for requirement in requirements:
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)(?:\[[^\]]+\])?==([^\s;]+)", requirement.strip())
        assert match, f"not pinned with ==: {requirement!r}"
        pins[_name(match.group(1))] = match.group(2)
    return pins


def _pyproject() -> dict[str, str]:
    with (PROJECT_ROOT / "pyproject.toml").open("rb") as handle:
        return _pins(tomllib.load(handle)["project"]["dependencies"])


def test_environment_yml_has_the_same_python_and_pins_as_pyproject():
    env = yaml.safe_load((PROJECT_ROOT / "environment.yml").read_text(encoding="utf-8"))
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))

    assert "python=3.11" in conda
    assert _pins(pip_section) == _pyproject()


def test_lock_pins_every_top_level_package_at_the_same_version():
    lines = (PROJECT_ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines()
    lock = _pins([line for line in lines if line and not line.startswith("#")])

    mismatched = {name: (version, lock.get(name)) for name, version in _pyproject().items()
                  if lock.get(name) != version}
    assert mismatched == {}, "pyproject pin vs lock pin; run 'make lock'"
