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
from services.intake import access
from services.intake.access import Clients, RateLimiter, hash_key
from services.intake.app import create_app
from services.intake.settings import AccessSettings, IntakeSettings, OpsSettings, RelaySettings
from tests.conftest import RUN_ID
from tests.integration.conftest import unique
from tests.integration.stack import EXAMPLES, ROOT, example
from tests.support.clients import CLIENTS_YAML, KEYS, UNIT, auth
from tests.support.people import oidc_settings, token_for

ROLES = (
    "anonymous",
    "wrong-key",
    "alpha",
    "beta",
    "citizen-only",
    "ops",
    "slow",
    "slow-spent",
    "unit",
    "assessor",
    "prosecutor",
    "national",
    "operator",
)
# People with real access tokens of the local OpenID Connect provider (tests/support/people):
# an assessor and a prosecutor of Oslo, the national prosecutor, an operator (no triage role).
PERSONS = {"assessor": "anne", "prosecutor": "pia", "national": "nina", "operator": "ola"}
# The status each role gets for each call. {own}: a report the role submitted (alpha's for
# roles that submit none); {other}: another client's (beta's for alpha, else alpha's).
# alpha: submitter for four sources, every format; beta: one source, canonical only;
# citizen-only: the citizen format only; ops: operator; slow: a submitter limited to
# 0.5 requests/s with a burst of 3; slow-spent: slow once its burst is used up; unit: a unit's
# system (role unit), whose case events are its only calls.
# The persons' {own} is a report on Oslo's work list, {other} one on Vest's (the national
# prosecutor sees both). A disposition is sent with a well-formed body and a claim token
# nobody holds: 409 (not claimed by you) says the person got past access to the report's
# state; an approval of a report with no proposal, 409 likewise; 403 another district.
# The pages (/ops for an operator's key aside, /triage) open to a person's session cookie
# only (signed in with the identity provider; tests/integration/ops/test_sessions.py covers
# the signed-in cells): a key or a bearer token is no session, so they send the browser to
# sign in (303); a callback without a sign-in under way is refused (400).
# fmt: off
MATRIX = {
    #                                         anon wrong alpha beta citizen ops slow spent unit
    "POST /v1/reports":                       (401, 401,  202, 202,  403,  403, 202,  429,  403),
    "POST /v1/reports/batch":                 (401, 401,  200, 200,  403,  403, 200,  429,  403),
    "GET /v1/reports/{own}":                  (401, 401,  200, 200,  200,  200, 200,  429,  404),
    "GET /v1/reports/{other}":                (401, 401,  404, 404,  404,  200, 404,  429,  404),
    "POST /v1/sources/citizen/reports":       (401, 401,  202, 403,  202,  403, 403,  429,  403),
    "POST /v1/sources/patrol/reports":        (401, 401,  202, 403,  403,  403, 403,  429,  403),
    "POST /v1/sources/agency/reports":        (401, 401,  202, 403,  403,  403, 403,  429,  403),
    "GET /v1/ops/overview":                   (401, 401,  403, 403,  403,  200, 403,  403,  403),
    "GET /ops":                               (303, 303,  403, 403,  403,  200, 403,  403,  403),
    "GET /ops/login":                         (303, 303,  303, 303,  303,  303, 303,  303,  303),
    "GET /ops/callback":                      (400, 400,  400, 400,  400,  400, 400,  400,  400),
    "GET /ops/signed-out":                    (200, 200,  200, 200,  200,  200, 200,  200,  200),
    "POST /ops/logout":                       (303, 303,  303, 303,  303,  303, 303,  303,  303),
    "GET /triage":                            (303, 303,  303, 303,  303,  303, 303,  303,  303),
    "GET /triage/login":                      (303, 303,  303, 303,  303,  303, 303,  303,  303),
    "GET /triage/callback":                   (400, 400,  400, 400,  400,  400, 400,  400,  400),
    "GET /triage/signed-out":                 (200, 200,  200, 200,  200,  200, 200,  200,  200),
    "POST /triage/logout":                    (303, 303,  303, 303,  303,  303, 303,  303,  303),
    "GET /triage/{own}":                      (303, 303,  303, 303,  303,  303, 303,  303,  303),
    "POST /triage/{own}/claim":               (303, 303,  303, 303,  303,  303, 303,  303,  303),
    "GET /triage/reviews":                    (303, 303,  303, 303,  303,  303, 303,  303,  303),
    "POST /triage/reviews/{own}/approve":     (303, 303,  303, 303,  303,  303, 303,  303,  303),
    "POST /triage/reviews/{own}/reject":      (303, 303,  303, 303,  303,  303, 303,  303,  303),
    "POST /triage/reviews/downgrades/{act}":  (303, 303,  303, 303,  303,  303, 303,  303,  303),
    "GET /ops/static/ops.js":                 (200, 200,  200, 200,  200,  200, 200,  200,  200),
    "GET /metrics":                           (200, 200,  200, 200,  200,  200, 200,  200,  200),
    "GET /healthz":                           (200, 200,  200, 200,  200,  200, 200,  200,  200),
    "GET /readyz":                            (200, 200,  200, 200,  200,  200, 200,  200,  200),
    "GET /schema":                            (200, 200,  200, 200,  200,  200, 200,  200,  200),
    # A unit's case event: the unit client's own report holds no case of its units (404).
    "POST /v1/cases/{own}/events":            (401, 401,  403, 403,  403,  403, 403,  429,  404),
    # People's routes: an API key is no person's access token (401 for every client).
    "GET /v1/triage":                         (401, 401,  401, 401,  401,  401, 401,  401,  401),
    "POST /v1/triage/{own}/claim":            (401, 401,  401, 401,  401,  401, 401,  401,  401),
    "POST /v1/triage/{other}/claim":          (401, 401,  401, 401,  401,  401, 401,  401,  401),
    "DELETE /v1/triage/{own}/claim":          (401, 401,  401, 401,  401,  401, 401,  401,  401),
    "DELETE /v1/triage/{other}/claim":        (401, 401,  401, 401,  401,  401, 401,  401,  401),
    "POST /v1/triage/{own}/correct":          (401, 401,  401, 401,  401,  401, 401,  401,  401),
    "POST /v1/triage/{other}/correct":        (401, 401,  401, 401,  401,  401, 401,  401,  401),
    "POST /v1/triage/{own}/route":            (401, 401,  401, 401,  401,  401, 401,  401,  401),
    "POST /v1/triage/{other}/route":          (401, 401,  401, 401,  401,  401, 401,  401,  401),
    "POST /v1/triage/{own}/transfer":         (401, 401,  401, 401,  401,  401, 401,  401,  401),
    "POST /v1/triage/{other}/transfer":       (401, 401,  401, 401,  401,  401, 401,  401,  401),
    "POST /v1/triage/{own}/link":             (401, 401,  401, 401,  401,  401, 401,  401,  401),
    "POST /v1/triage/{other}/link":           (401, 401,  401, 401,  401,  401, 401,  401,  401),
    "POST /v1/triage/{own}/close":            (401, 401,  401, 401,  401,  401, 401,  401,  401),
    "POST /v1/triage/{other}/close":          (401, 401,  401, 401,  401,  401, 401,  401,  401),
    "GET /v1/triage/reviews":                 (401, 401,  401, 401,  401,  401, 401,  401,  401),
    "POST /v1/triage/{own}/approve":          (401, 401,  401, 401,  401,  401, 401,  401,  401),
    "POST /v1/triage/{other}/approve":        (401, 401,  401, 401,  401,  401, 401,  401,  401),
    "POST /v1/triage/{own}/reject":           (401, 401,  401, 401,  401,  401, 401,  401,  401),
    "POST /v1/triage/{other}/reject":         (401, 401,  401, 401,  401,  401, 401,  401,  401),
    "POST /v1/triage/reviews/{act}/reviewed": (401, 401,  401, 401,  401,  401, 401,  401,  401),
}
# The persons' columns of the same calls.
PEOPLE_MATRIX = {
    #                                         assessor prosecutor national operator
    "POST /v1/reports":                       (401, 401,  401, 401),
    "POST /v1/reports/batch":                 (401, 401,  401, 401),
    "GET /v1/reports/{own}":                  (200, 200,  200, 403),
    "GET /v1/reports/{other}":                (404, 404,  200, 403),
    "POST /v1/sources/citizen/reports":       (401, 401,  401, 401),
    "POST /v1/sources/patrol/reports":        (401, 401,  401, 401),
    "POST /v1/sources/agency/reports":        (401, 401,  401, 401),
    "GET /v1/ops/overview":                   (401, 401,  401, 401),
    "GET /ops":                               (303, 303,  303, 303),
    "GET /ops/login":                         (303, 303,  303, 303),
    "GET /ops/callback":                      (400, 400,  400, 400),
    "GET /ops/signed-out":                    (200, 200,  200, 200),
    "POST /ops/logout":                       (303, 303,  303, 303),
    "GET /triage":                            (303, 303,  303, 303),
    "GET /triage/login":                      (303, 303,  303, 303),
    "GET /triage/callback":                   (400, 400,  400, 400),
    "GET /triage/signed-out":                 (200, 200,  200, 200),
    "POST /triage/logout":                    (303, 303,  303, 303),
    "GET /triage/{own}":                      (303, 303,  303, 303),
    "POST /triage/{own}/claim":               (303, 303,  303, 303),
    "GET /triage/reviews":                    (303, 303,  303, 303),
    "POST /triage/reviews/{own}/approve":     (303, 303,  303, 303),
    "POST /triage/reviews/{own}/reject":      (303, 303,  303, 303),
    "POST /triage/reviews/downgrades/{act}":  (303, 303,  303, 303),
    "GET /ops/static/ops.js":                 (200, 200,  200, 200),
    "GET /metrics":                           (200, 200,  200, 200),
    "GET /healthz":                           (200, 200,  200, 200),
    "GET /readyz":                            (200, 200,  200, 200),
    "GET /schema":                            (200, 200,  200, 200),
    "POST /v1/cases/{own}/events":            (401, 401,  401, 401),
    # A person without a triage role: 403; a report of another district: 403.
    "GET /v1/triage":                         (200, 200,  200, 403),
    "POST /v1/triage/{own}/claim":            (200, 200,  200, 403),
    "POST /v1/triage/{other}/claim":          (403, 403,  200, 403),
    "DELETE /v1/triage/{own}/claim":          (409, 409,  409, 403),
    "DELETE /v1/triage/{other}/claim":        (403, 403,  409, 403),
    "POST /v1/triage/{own}/correct":          (409, 409,  409, 403),
    "POST /v1/triage/{other}/correct":        (403, 403,  409, 403),
    "POST /v1/triage/{own}/route":            (409, 409,  409, 403),
    "POST /v1/triage/{other}/route":          (403, 403,  409, 403),
    "POST /v1/triage/{own}/transfer":         (409, 409,  409, 403),
    "POST /v1/triage/{other}/transfer":       (403, 403,  409, 403),
    "POST /v1/triage/{own}/link":             (409, 409,  409, 403),
    "POST /v1/triage/{other}/link":           (403, 403,  409, 403),
    "POST /v1/triage/{own}/close":            (409, 409,  409, 403),
    "POST /v1/triage/{other}/close":          (403, 403,  409, 403),
    # Prosecutors' four eyes: an assessor 403; no proposal waits on either report: 409.
    "GET /v1/triage/reviews":                 (403, 200,  200, 403),
    "POST /v1/triage/{own}/approve":          (403, 409,  409, 403),
    "POST /v1/triage/{other}/approve":        (403, 403,  409, 403),
    "POST /v1/triage/{own}/reject":           (403, 409,  409, 403),
    "POST /v1/triage/{other}/reject":         (403, 403,  409, 403),
    "POST /v1/triage/reviews/{act}/reviewed": (403, 404,  404, 403),
}
# fmt: on
assert list(PEOPLE_MATRIX) == list(MATRIX)
CELLS = [
    pytest.param(call, role, status, id=f"{role} {call}")
    for call, row in MATRIX.items()
    for role, status in zip(ROLES, row + PEOPLE_MATRIX[call], strict=True)
]
WRONG_KEY = "wrong-key-" + "w" * 32
SOURCE = {"beta": "beta-src", "slow": "slow-src", "slow-spent": "slow-src"}
DEV_CLIENTS = ROOT / "deploy" / "clients.dev.yaml"
REFERENCE = {"citizen": "referanse", "patrol": "case_ref", "agency": "meldingsId"}


def key_of(role: str) -> str:
    return {"anonymous": "", "wrong-key": WRONG_KEY, "slow-spent": KEYS["slow"]}.get(
        role, KEYS.get(role, "")
    )


# Access tokens of the persons, fetched once by the module's fixture.
TOKENS: dict[str, str] = {}
# A body of the right shape for each disposition and approval: access and the report's
# state decide, not the body (the claim token is nobody's).
BODIES: dict[str, dict[str, Any]] = {
    "correct": {"changes": {"incident.municipality": "0301"}},
    "route": {"unit": "oslo.felles-etterforskning"},
    "transfer": {"to": {"district": "agder"}, "reason": "another district's case"},
    "link": {"report_id": str(uuid.uuid4())},
    "close": {"ground": "no-offence", "reason": "no offence"},
    "approve": {},
    "reject": {"reason": "not yet"},
    "reviewed": {},
}


def headers_of(role: str) -> dict[str, str]:
    if role in PERSONS:
        return {"Authorization": f"Bearer {TOKENS[role]}"}
    return {"Authorization": f"Bearer {key_of(role)}"} if key_of(role) else {}


def body_of(path: str) -> dict[str, Any]:
    kind = path.rsplit("/", 1)[1]
    claimed = kind in {"correct", "route", "transfer", "link", "close"}
    return {**({"claim": str(uuid.uuid4())} if claimed else {}), **BODIES[kind]}


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
    database_url: str

    async def fresh(self, role: str) -> None:
        """No session cookie, full rate buckets; for slow-spent, its burst used up."""
        self.client.cookies.clear()
        state = self.client.app.state.intake
        state.limiter = RateLimiter(state.limiter.rate, state.limiter.burst)
        if role in PERSONS:
            # Both work items waiting and free again: a claim of an earlier cell is gone.
            conn = await asyncpg.connect(self.database_url)
            try:
                await conn.execute(_FREE)
            finally:
                await conn.close()
        if role == "slow-spent":
            slow = state.clients.by_id("slow")
            for _ in range(slow.rate.burst):
                spent = await self.client.get(f"/v1/reports/{uuid.uuid4()}", headers=auth("slow"))
                assert spent.status_code == 404

    async def call(self, call: str, role: str) -> httpx.Response:
        method, path = call.split(" ", 1)
        path = path.format(own=self.own[role], other=self.other[role], act=uuid.uuid4())
        kwargs: dict[str, Any] = {"headers": headers_of(role), "follow_redirects": False}
        if path == "/v1/reports":
            kwargs["json"] = canonical(role)
        elif path == "/v1/reports/batch":
            kwargs["json"] = {"reports": [canonical(role)]}
        elif path.startswith("/v1/sources/"):
            kwargs["json"] = source_report(path.split("/")[3])
        elif path.startswith("/v1/cases/"):
            kwargs["json"] = {
                "event_id": str(uuid.uuid4()),
                "unit": UNIT,
                "kind": "received",
                "occurred_at": "2026-12-01T09:00:00Z",
            }
        elif path.startswith("/v1/triage/") and method == "POST" and not path.endswith("/claim"):
            kwargs["json"] = body_of(path)
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


_FREE = """
UPDATE work_items SET state = 'waiting', claimed_by = NULL, claim_role = NULL,
    claim_token = NULL, lease_until = NULL, pending_act = NULL
"""
_ITEM = """
INSERT INTO work_items (report_id, district, source, reason, priority, priority_rank,
                        received_at, waiting_since)
VALUES ($1, $2, 'alpha-src', 'rule', 'normal', 1, now(), now())
"""


async def _seed(client: AsyncTestClient[Any], database_url: str) -> Seeded:
    alpha = await _posted(client, "/v1/reports", canonical("alpha"), "alpha")
    beta = await _posted(client, "/v1/reports", canonical("beta"), "beta")
    slow = await _posted(client, "/v1/reports", canonical("slow"), "slow")
    citizen = await _posted(
        client, "/v1/sources/citizen/reports", source_report("citizen"), "citizen-only"
    )
    own = dict.fromkeys(ROLES, alpha) | {"beta": beta, "citizen-only": citizen}
    own |= {"slow": slow, "slow-spent": slow}
    other = dict.fromkeys(ROLES, alpha) | {"alpha": beta}
    # The persons' reports: alpha's waits on Oslo's work list, beta's on Vest's.
    own |= dict.fromkeys(PERSONS, alpha)
    other |= dict.fromkeys(PERSONS, beta)
    conn = await asyncpg.connect(database_url)
    try:
        for report, district in ((alpha, "oslo"), (beta, "vest")):
            await conn.execute(_ITEM, uuid.UUID(report), district)
    finally:
        await conn.close()
    for _ in range(100):  # the operations overview after the monitor's first reading
        if (await client.get("/v1/ops/overview", headers=auth("ops"))).status_code == 200:
            return Seeded(client, own, other, database_url)
        await asyncio.sleep(0.1)
    raise AssertionError("the operations overview was not ready within 10 s")


@pytest.fixture(scope="module")
async def seeded(
    admin_db_url: str,
    template_database_url: str,
    amqp_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Seeded]:
    """One intake for the whole matrix, with a database and prefix of its own, trusting the
    local OpenID Connect provider."""
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
        oidc=oidc_settings(),
    )
    TOKENS.update({role: await token_for(person) for role, person in PERSONS.items()})
    database_url = admin_db_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        async with AsyncTestClient(create_app(settings, configure_logging=False)) as client:
            yield await _seed(client, database_url)
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


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        (CLIENTS_YAML, list(KEYS.values())),
        (
            DEV_CLIENTS.read_text("utf-8"),
            ["fsi-dev-key-change-me", "fsi-citizen-key-change-me", "fsi-unit-oslo-key-change-me"],
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
        .replace("{act}", "{act_id:uuid}")
        # A case event's report id is read by its handler (a wrong one is a 422 naming it).
        .replace("/v1/cases/{report_id:uuid}", "/v1/cases/{report_id:str}")
        # The pages' forms are one route, `/triage/{report_id}/{action}`.
        .replace("POST /triage/{report_id:uuid}/claim", "POST /triage/{report_id:uuid}/{action}")
        .replace("{action}", "{action:str}")
        for call in MATRIX
    }
    assert routes == called
