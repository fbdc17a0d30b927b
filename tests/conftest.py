"""Fixtures shared by every test: the settings and, for integration tests, the running stack."""

from __future__ import annotations

import uuid

import pytest

from pipeline.settings import Settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return Settings()


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Settings:
    """The local stack, started if it is not running. Fails loudly when it cannot be started."""
    from pipeline.stack import manager

    if not all(row.ok for row in manager.status(settings)):
        try:
            manager.up(settings)
        except Exception as exc:  # noqa: BLE001 - turned into a loud failure
            pytest.fail(f"the local stack is not running and could not be started: {exc}", pytrace=False)
    return settings


@pytest.fixture
def unique_name() -> str:
    """A name no other test (or earlier run) uses: tests never depend on each other's data."""
    return f"t{uuid.uuid4().hex[:10]}"
