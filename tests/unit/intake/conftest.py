"""Fixtures of the in-process HTTP tests: the intake app over the store in memory, built once
per module with the default and with `SMALL` limits, started afresh for each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from litestar import Litestar
from litestar.testing import TestClient

from services.intake.settings import HttpSettings
from tests.unit.intake.inprocess import DEFAULTS, SMALL, Client, apps_in


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> dict[HttpSettings, Litestar]:
    """The app with the default and with `SMALL` limits, built once for the module."""
    return apps_in(tmp_path_factory.mktemp("clients"))


@pytest.fixture
def intake(apps: dict[HttpSettings, Litestar]) -> Iterator[Client]:
    """The intake with the default limits, started for this test: no reports, full rates."""
    with TestClient(apps[DEFAULTS]) as client:
        yield client


@pytest.fixture
def small(apps: dict[HttpSettings, Litestar]) -> Iterator[Client]:
    """The intake with `SMALL` limits, started for this test."""
    with TestClient(apps[SMALL]) as client:
        yield client
