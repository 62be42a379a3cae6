"""Who may call what: every role against every endpoint of the real intake; keys and rates."""

from __future__ import annotations

import asyncio
import hmac
import json
import re
import types
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aio_pika
import asyncpg
import httpx
import pytest
import yaml
from litestar.testing import AsyncTestClient

from services.common.settings import BrokerSettings, DatabaseSettings, LogSettings
from services.common.topology import Topology
from services.common.topology import delete as delete_topology
from services.intake import access, ops_signin
from services.intake.access import Clients, RateLimiter, hash_key
from services.intake.app import create_app
from services.intake.settings import AccessSettings, IntakeSettings, OpsSettings, RelaySettings
from tests.conftest import RUN_ID
from tests.integration.conftest import unique
from tests.integration.stack import EXAMPLES, ROOT, example
from tests.support.clients import CLIENTS_YAML, KEYS, auth

ROLES = ("anonymous", "wrong-key", "alpha", "beta", "citizen-only", "ops", "slow", "slow-spent")
# The status each role gets for each call. {own}: a report the role submitted (alpha's for
# roles that submit none); {other}: another client's (beta's for alpha, else alpha's).
# alpha: submitter for four sources, every format; beta: one source, canonical only;
# citizen-only: the citizen format only; ops: operator; slow: a submitter limited to
# 0.5 requests/s with a burst of 3; slow-spent: slow once its burst is used up.
# /ops/login takes the role's key in the form (none for anonymous), not as a header.
# fmt: off
MATRIX = {
    #                                     anon wrong alpha beta citizen ops slow spent
    "POST /v1/reports":                  (401, 401,  202, 202,  403,  403, 202,  429),
    "POST /v1/reports/batch":            (401, 401,  200, 200,  403,  403, 200,  429),
    "GET /v1/reports/{own}":             (401, 401,  200, 200,  200,  200, 200,  429),
    "GET /v1/reports/{other}":           (401, 401,  404, 404,  404,  200, 404,  429),
    "POST /v1/sources/citizen/reports":  (401, 401,  202, 403,  202,  403, 403,  429),
    "POST /v1/sources/patrol/reports":   (401, 401,  202, 403,  403,  403, 403,  429),
    "POST /v1/sources/agency/reports":   (401, 401,  202, 403,  403,  403, 403,  429),
    "GET /v1/ops/overview":              (401, 401,  403, 403,  403,  200, 403,  403),
    "GET /ops":                          (303, 303,  403, 403,  403,  200, 403,  403),
    "GET /ops/login":                    (200, 200,  200, 200,  200,  200, 200,  200),
    "POST /ops/login":                   (401, 401,  401, 401,  401,  303, 401,  401),
    "POST /ops/logout":                  (303, 303,  303, 303,  303,  303, 303,  303),
    "GET /ops/static/ops.js":            (200, 200,  200, 200,  200,  200, 200,  200),
    "GET /metrics":                      (200, 200,  200, 200,  200,  200, 200,  200),
    "GET /healthz":                      (200, 200,  200, 200,  200,  200, 200,  200),
    "GET /readyz":                       (200, 200,  200, 200,  200,  200, 200,  200),
    "GET /schema":                       (200, 200,  200, 200,  200,  200, 200,  200),
    # People's routes: an API key is no person's access token.
    "GET /v1/triage":                    (401, 401,  401, 401,  401,  401, 401,  401),
    "POST /v1/triage/{own}/claim":       (401, 401,  401, 401,  401,  401, 401,  401),
    "DELETE /v1/triage/{own}/claim":     (401, 401,  401, 401,  401,  401, 401,  401),
}
# fmt: on
CELLS = [
    pytest.param(call, role, status, id=f"{role} {call}")
    for call, row in MATRIX.items()
    for role, status in zip(ROLES, row, strict=True)
]
WRONG_KEY = "wrong-key-" + "w" * 32
SOURCE = {"beta": "beta-src", "slow": "slow-src", "slow-spent": "slow-src"}
DEV_CLIENTS = ROOT / "deploy" / "clients.dev.yaml"
REFERENCE = {"citizen": "referanse", "patrol": "case_ref", "agency": "meldingsId"}


def key_of(role: str) -> str:
    return {"anonymous": "", "wrong-key": WRONG_KEY, "slow-spent": KEYS["slow"]}.get(
        role, KEYS.get(role, "")
    )


def headers_of(role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key_of(role)}"} if key_of(role) else {}


def canonical(role: str) -> dict[str, Any]:
    body = example("bicycle-theft")
    body["source"] = SOURCE.get(role, "alpha-src")
    return body


def source_report(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((EXAMPLES / "sources" / f"{name}.json").read_text())
    body[REFERENCE[name]] = unique(name)
    return body


@dataclass
class Seeded:
    """The intake of this module, with a report of each submitting client."""

    client: AsyncTestClient[Any]
    own: dict[str, str]
    other: dict[str, str]

    async def fresh(self, role: str) -> None:
        """No session cookie, full rate buckets; for slow-spent, its burst used up."""
        self.client.cookies.clear()
        state = self.client.app.state.intake
        state.limiter = RateLimiter(state.limiter.rate, state.limiter.burst)
        if role == "slow-spent":
            slow = state.clients.by_id("slow")
            for _ in range(slow.rate.burst):
                spent = await self.client.get(f"/v1/reports/{uuid.uuid4()}", headers=auth("slow"))
                assert spent.status_code == 404

    async def call(self, call: str, role: str) -> httpx.Response:
        method, path = call.split(" ", 1)
        path = path.format(own=self.own[role], other=self.other[role])
        kwargs: dict[str, Any] = {"headers": headers_of(role), "follow_redirects": False}
        if path == "/v1/reports":
            kwargs["json"] = canonical(role)
        elif path == "/v1/reports/batch":
            kwargs["json"] = {"reports": [canonical(role)]}
        elif path.startswith("/v1/sources/"):
            kwargs["json"] = source_report(path.split("/")[3])
        elif path == "/ops/login":
            kwargs["data"] = {"key": key_of(role)}
        return await self.client.request(method, path, **kwargs)


async def _admin(url: str, statement: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _posted(client: AsyncTestClient[Any], path: str, body: Any, role: str) -> str:
    answer = await client.post(path, json=body, headers=auth(role))
    assert answer.status_code == 202, answer.text
    return str(answer.json()["report_id"])


async def _seed(client: AsyncTestClient[Any]) -> Seeded:
    alpha = await _posted(client, "/v1/reports", canonical("alpha"), "alpha")
    beta = await _posted(client, "/v1/reports", canonical("beta"), "beta")
    slow = await _posted(client, "/v1/reports", canonical("slow"), "slow")
    citizen = await _posted(
        client, "/v1/sources/citizen/reports", source_report("citizen"), "citizen-only"
    )
    own = dict.fromkeys(ROLES, alpha) | {"beta": beta, "citizen-only": citizen}
    own |= {"slow": slow, "slow-spent": slow}
    other = dict.fromkeys(ROLES, alpha) | {"alpha": beta}
    for _ in range(100):  # the operations overview after the monitor's first reading
        if (await client.get("/v1/ops/overview", headers=auth("ops"))).status_code == 200:
            return Seeded(client, own, other)
        await asyncio.sleep(0.1)
    raise AssertionError("the operations overview was not ready within 10 s")


@pytest.fixture(scope="module")
async def seeded(
    admin_db_url: str,
    template_database_url: str,
    amqp_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Seeded]:
    """One intake for the whole matrix (136 cells), with a database and prefix of its own."""
    name = f"fsi_test_{RUN_ID}_matrix_{uuid.uuid4().hex[:6]}"
    template = template_database_url.rsplit("/", 1)[1]
    await _admin(admin_db_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    clients_file = tmp_path_factory.mktemp("matrix") / "clients.yaml"
    clients_file.write_text(CLIENTS_YAML, "utf-8")
    topology = Topology(prefix=f"t{RUN_ID}.{uuid.uuid4().hex[:8]}.")
    settings = IntakeSettings(
        db=DatabaseSettings(
            url=admin_db_url.rsplit("/", 1)[0] + f"/{name}", pool_min=1, pool_max=4
        ),
        broker=BrokerSettings(url=amqp_url, prefix=topology.prefix),
        log=LogSettings(format="json", level="INFO"),
        access=AccessSettings(clients_file=str(clients_file)),
        relay=RelaySettings(poll_seconds=0.2),
        ops=OpsSettings(interval_seconds=1, cookie_secure=False),
    )
    try:
        async with AsyncTestClient(create_app(settings, configure_logging=False)) as client:
            yield await _seed(client)
    finally:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            await delete_topology(await connection.channel(), topology)
        await _admin(admin_db_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.parametrize(("call", "role", "status"), CELLS)
async def test_access(seeded: Seeded, call: str, role: str, status: int) -> None:
    await seeded.fresh(role)
    answer = await seeded.call(call, role)
    assert answer.status_code == status, answer.text
    if call.split(" ")[1].startswith("/v1/") and status >= 400:
        assert answer.headers["content-type"] == "application/problem+json"
    if status == 429:
        assert int(answer.headers["retry-after"]) >= 1


@pytest.mark.parametrize("role", ["alpha", "beta", "citizen-only", "slow"])
async def test_another_clients_report_is_indistinguishable_from_a_missing_one(
    seeded: Seeded, role: str
) -> None:
    await seeded.fresh(role)
    other = await seeded.client.get(f"/v1/reports/{seeded.other[role]}", headers=auth(role))
    missing = await seeded.client.get(f"/v1/reports/{uuid.uuid4()}", headers=auth(role))
    assert other.status_code == missing.status_code == 404
    assert other.content == missing.content
    assert {**other.headers, "date": ""} == {**missing.headers, "date": ""}


async def test_a_burst_gets_exactly_the_allowed_requests_through(
    intake: AsyncTestClient[Any],
) -> None:
    burst = [
        intake.post("/v1/reports", json=canonical("slow"), headers=auth("slow")) for _ in range(12)
    ]
    answers = await asyncio.gather(*burst)
    assert sorted(a.status_code for a in answers) == [202] * 3 + [429] * 9
    waits = [int(a.headers["retry-after"]) for a in answers if a.status_code == 429]
    assert min(waits) >= 1
    await asyncio.sleep(max(waits))  # Retry-After tells the truth: one more token by then
    again = await intake.post("/v1/reports", json=canonical("slow"), headers=auth("slow"))
    assert again.status_code == 202


async def test_api_keys_are_compared_in_constant_time(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[str, str]] = []

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return hmac.compare_digest(a, b)

    monkeypatch.setattr(access, "hmac", types.SimpleNamespace(compare_digest=spy))
    await seeded.fresh("alpha")
    answer = await seeded.client.get(f"/v1/reports/{seeded.own['alpha']}", headers=auth("alpha"))
    assert answer.status_code == 200
    assert compared == [(hash_key(KEYS["alpha"]), hash_key(KEYS["alpha"]))]


async def test_operator_sessions_compare_the_key_hash_in_constant_time(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    compared: list[tuple[str, str]] = []

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return hmac.compare_digest(a, b)

    monkeypatch.setattr(ops_signin, "hmac", types.SimpleNamespace(compare_digest=spy))
    await seeded.fresh("ops")
    signed = await seeded.client.post("/ops/login", data={"key": KEYS["ops"]})
    assert signed.status_code == 200  # followed to the page, by the session cookie alone
    prefix = hash_key(KEYS["ops"])[:16]
    assert compared == [(prefix, prefix)]


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        (CLIENTS_YAML, list(KEYS.values())),
        (
            DEV_CLIENTS.read_text("utf-8"),
            ["fsi-dev-key-change-me", "fsi-citizen-key-change-me"],
        ),
    ],
    ids=["test clients", "development clients"],
)
def test_clients_files_hold_keys_only_as_sha256_hashes(text: str, keys: list[str]) -> None:
    clients = Clients.from_yaml(text)
    assert all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in clients.by_hash)
    assert {hash_key(key) for key in keys} == set(clients.by_hash)
    stored = json.dumps(yaml.safe_load(text))  # comments aside: the dev file names its keys
    assert not any(key in stored for key in keys)


def test_the_matrix_covers_every_route_of_the_app() -> None:
    settings = IntakeSettings(
        access=AccessSettings(clients_file=str(DEV_CLIENTS)), environment="development"
    )
    app = create_app(settings, configure_logging=False)
    routes = {
        f"{method} {route.path}"
        for route in app.routes
        for method in getattr(route, "methods", set()) - {"HEAD", "OPTIONS"}
        if not route.path.startswith("/schema/")  # /schema in its other renderings
    }
    called = {
        re.sub(r"/v1/sources/\w+/", "/v1/sources/{format_name:str}/", call)
        .replace("/ops/static/ops.js", "/ops/static/{name:str}")
        .replace("{own}", "{report_id:uuid}")
        .replace("{other}", "{report_id:uuid}")
        for call in MATRIX
    }
    assert routes == called
