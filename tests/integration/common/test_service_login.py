"""Outside development a service starts only with a login of its own role: the superuser, a
member of the tables' owner, or the other service's login is refused in one line (78)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from services.common import db, startup
from services.common.settings import DatabaseSettings
from tests.conftest import as_login

pytestmark = pytest.mark.integration


def settings(url: str) -> DatabaseSettings:
    return DatabaseSettings(url=url, pool_min=1, pool_max=1, migrate_on_start=False)


async def refusal(url: str, role: str) -> startup.StartupError:
    try:
        pool = await db.open_database(settings(url), service_role=role)
    except startup.StartupError as refused:
        return refused
    await pool.close()
    raise AssertionError(f"{role}: the login was accepted")


@pytest.fixture
async def owner_login(admin_db_url: str, database_url: str) -> AsyncIterator[str]:
    """A login that is a member of fsi_owner (as a migration login is), dropped afterwards."""
    name = f"fsi_test_owner_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_db_url)
    try:
        await conn.execute(f"CREATE ROLE {name} LOGIN IN ROLE fsi_owner")
        yield as_login(database_url, name)
    finally:
        await conn.execute(f"DROP ROLE IF EXISTS {name}")
        await conn.close()


async def test_the_superuser_is_refused(database_url: str) -> None:
    error = await refusal(database_url, "fsi_intake")
    assert error.exit_code == startup.EXIT_CONFIG
    assert "a superuser" in str(error)
    assert "member of fsi_intake only" in str(error)


async def test_a_member_of_the_owner_is_refused(owner_login: str) -> None:
    error = await refusal(owner_login, "fsi_router")
    assert error.exit_code == startup.EXIT_CONFIG
    assert "member of the tables' owner fsi_owner" in str(error)


async def test_the_other_services_login_is_refused(router_database_url: str) -> None:
    error = await refusal(router_database_url, "fsi_intake")
    assert "not a member of fsi_intake" in str(error)


async def test_each_service_login_is_accepted(
    intake_database_url: str, router_database_url: str
) -> None:
    for url, role, login in (
        (intake_database_url, "fsi_intake", "fsi_test_intake"),
        (router_database_url, "fsi_router", "fsi_test_router"),
    ):
        pool = await db.open_database(settings(url), service_role=role)
        try:
            assert await pool.fetchval("SELECT current_user") == login
        finally:
            await pool.close()
