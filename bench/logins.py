"""The benchmarks' database logins: each service runs as production runs it, a login of its
own that is a member of its role (made when missing, kept for the next run, like `make run`'s)."""

from __future__ import annotations

import asyncpg

_LOGIN = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{login}') THEN
        CREATE ROLE {login} LOGIN IN ROLE {role};
    END IF;
END
$$
"""


async def service_url(admin_url: str, role: str) -> str:
    """`admin_url`'s database as `fsi_bench_<service>` (a member of `role`, `fsi_intake` or
    `fsi_router`; no password: the local server trusts it)."""
    login = "fsi_bench_" + role.removeprefix("fsi_")
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(_LOGIN.format(login=login, role=role))
    finally:
        await conn.close()
    scheme, rest = admin_url.split("://", 1)
    return f"{scheme}://{login}@{rest.rpartition('@')[2]}"
