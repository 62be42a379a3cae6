"""Fault tests' shared fixture: the system as real processes under a prefix of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from services.common.topology import Topology
from services.routing.main import load_rules
from services.routing.settings import RoutingSettings
from tests.support.clients import KEYS
from tests.support.system import System


@pytest.fixture
async def system(
    tmp_path: Path,
    database_url: str,
    service_logins: dict[str, str],  # the logins the services use, made when missing
    amqp_url: str,
    clients_file: Path,
    make_topology: Callable[..., Topology],
) -> AsyncIterator[System]:
    """The intake and two routers, running, through proxies of their own."""
    units = load_rules(RoutingSettings()).catalogue.units
    running = System(
        tmp_path, database_url, amqp_url, make_topology(units=units), clients_file, KEYS["alpha"]
    )
    try:
        await running.start(routers=2)
        yield running
    finally:
        await running.stop()
