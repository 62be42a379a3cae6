"""Every operation of the real intake fuzzed from its own OpenAPI (schemathesis): never a 5xx,
and every answer as the document says (status, content type, schema, headers); every request
the document allows is accepted, or refused with the 422 its descriptions name, and every one
it forbids refused. The health routes' answers, /readyz's 503 with PostgreSQL cut off
included, are in the document."""

from __future__ import annotations

import collections
import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema
import msgspec
import pytest
import schemathesis
from schemathesis import engine
from schemathesis.engine import StopReason, events
from schemathesis.openapi.checks import RejectedPositiveData

from schemas.report import as_utc
from services.common.settings import DatabaseSettings
from services.intake.access import ANY, hash_key
from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from tests.support.clients import CLIENTS_YAML
from tests.support.documented_times import refused_as_documented
from tests.support.proxy import TcpProxy
from tests.support.server import served

ROOT = Path(__file__).parents[3]
EXAMPLES = ROOT / "schemas" / "examples"
SUMMARY = ROOT / "artifacts" / "fuzz-summary.txt"
EVERYTHING_KEY = "everything-key-" + "e" * 32
SEED = 20261127
MAX_EXAMPLES = 25
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "positive_data_acceptance",
    "negative_data_rejection",
    "missing_required_header",
    "ignored_auth",
    "unsupported_method",
    "use_after_free",
    "ensure_resource_availability",
)
# A body over the limits (a batch of more items than allowed) is refused with 413 (RFC 9110
# section 15.5.14), besides the statuses schemathesis expects for data the schema forbids.
REFUSED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]


@pytest.fixture
def clients_file(tmp_path: Path) -> Path:
    """The suite's clients, and one allowed everything: both roles, every source and format."""
    path = tmp_path / "clients.yaml"
    path.write_text(
        CLIENTS_YAML
        + f"""  - id: everything
    key_sha256: {hash_key(EVERYTHING_KEY)}
    roles: [submitter, operator]
    sources: ['{ANY}']
    formats: ['{ANY}']
    rate: {{per_second: 100000, burst: 100000}}
""",
        "utf-8",
    )
    return path


@pytest.fixture
def server(intake_settings: Callable[..., IntakeSettings]) -> Iterator[str]:
    with served(create_app(intake_settings(), configure_logging=False)) as url:
        yield url


@pytest.fixture(scope="module")
def summary() -> Iterator[list[str]]:
    """Lines for artifacts/fuzz-summary.txt, written when the module is done."""
    lines: list[str] = []
    yield lines
    SUMMARY.parent.mkdir(exist_ok=True)
    SUMMARY.write_text("\n".join(lines) + "\n", "utf-8")


def with_examples(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document with the repository's example reports as request body examples,
    so the examples phase sends reports that are accepted (and then repeated)."""
    reports = [json.loads(p.read_text("utf-8")) for p in sorted(EXAMPLES.glob("report.*.json"))]
    for index, report in enumerate(reports):
        report["external_id"] = f"fuzz-example-{index}"
    bodies = {
        "/v1/reports": reports,
        "/v1/reports/batch": [{"reports": reports}],
        **{
            f"/v1/sources/{p.stem}/reports": [json.loads(p.read_text("utf-8"))]
            for p in sorted(EXAMPLES.glob("sources/*.json"))
        },
    }
    for path, values in bodies.items():
        content = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        content["examples"] = {f"example-{i}": {"value": v} for i, v in enumerate(values)}
    return document


def _instant(value: Any, form: str | None = None) -> dt.datetime | None:
    """A time as the intake reads it (a naive one is Europe/Oslo), None if it is not one."""
    try:
        if form is not None:
            return as_utc(dt.datetime.strptime(value, form))
        if isinstance(value, str) and len(value) == len("2026-11-30"):
            return as_utc(dt.datetime.combine(msgspec.convert(value, dt.date), dt.time()))
        return as_utc(msgspec.convert(value, dt.datetime))
    except (TypeError, ValueError, OverflowError, msgspec.ValidationError):
        return None


def _ordered(body: Any, start: str, end: str, form: str | None = None) -> bool:
    if not isinstance(body, dict):
        return True
    begun, ended = _instant(body.get(start), form), _instant(body.get(end), form)
    return begun is None or ended is None or ended >= begun


def keeps_rules_across_fields(path: str, body: Any) -> bool:
    """The rules across fields that the document states in words (JSON Schema cannot)."""
    if not isinstance(body, dict):
        return True
    if path == "/v1/reports":
        incident = body.get("incident") if isinstance(body.get("incident"), dict) else {}
        return _ordered(incident, "occurred_from", "occurred_to")
    if path == "/v1/sources/citizen/reports":
        people = [body.get("anmelder"), *body.get("mistenkte", []), *body.get("vitner", [])]
        names = [
            " ".join(str(p[k]) for k in ("fornavn", "etternavn") if p.get(k))
            for p in people
            if isinstance(p, dict)
        ]
        return _ordered(body, "hendelse_fra", "hendelse_til", "%d.%m.%Y %H:%M") and all(
            len(name) <= 200 for name in names
        )
    if path == "/v1/sources/patrol/reports":
        return _ordered(body, "started", "ended")
    if path == "/v1/sources/agency/reports":
        return _ordered(body.get("gjerningsperiode"), "fra", "til")
    return True


# How the intake words a time or date it refuses: not one (msgspec's, the citizen form's), or
# one whose instant is outside the contract's years.
TIME_REFUSED = re.compile(
    r"Invalid RFC3339 encoded date(?:time)?|not a valid date or time"
    r"|`\w+` must lie between [0-9]+ and [0-9]+"
)


def _strings(value: Any, path: str = "$") -> Iterator[tuple[str, str]]:
    """Every string in a JSON body with its JSON path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def _at_or_around(error_path: str, value_path: str) -> bool:
    """The error names the value's path, or the object holding it (a check of its Struct)."""
    return value_path == error_path or value_path.startswith((f"{error_path}.", f"{error_path}["))


def refused_as_described(body: Any, answer: bytes) -> bool:
    """A 422 the document's descriptions name: the body holds a time or date they say is
    refused (29 February of a year that is not a leap year, an instant outside the years),
    and every problem the answer lists refuses a time or date at one of those values."""
    refused = [path for path, text in _strings(body) if refused_as_documented(path, text)]
    try:
        errors = json.loads(answer).get("errors") or []
    except (ValueError, AttributeError):
        return False
    return bool(refused and errors) and all(
        isinstance(error, dict)
        and TIME_REFUSED.fullmatch(str(error.get("message")))
        and any(_at_or_around(str(error.get("path")), path) for path in refused)
        for error in errors
    )


def filter_failure(ctx: Any, failure: Any, case: Any, response: Any) -> bool:
    """A 422 for a body the schema allows but that the document's words refuse (a rule
    across fields, a leap day of a year that has none, an instant outside the years) is what
    the document says, not a failure; every other failure stays."""
    return not (
        isinstance(failure, RejectedPositiveData)
        and response.status_code == 422
        and (
            not keeps_rules_across_fields(case.operation.path, case.body)
            or refused_as_described(case.body, response.content)
        )
    )


def is_problem(status: int, headers: dict[str, list[str]], body: bytes) -> bool:
    if headers.get("content-type", [""])[0] != "application/problem+json":
        return False
    problem = json.loads(body)
    return problem.get("status") == status and all(
        isinstance(problem.get(k), str) and problem[k] for k in ("type", "title", "detail")
    )


@dataclass
class Fuzzed:
    """What one schemathesis run tried and what came back."""

    cases: int = 0
    answers: collections.Counter[tuple[str, str, int]] = field(default_factory=collections.Counter)
    failures: list[str] = field(default_factory=list)
    not_problems: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    excused: int = 0  # 422s the document's words name (rules across fields, times, dates)
    stop_reason: StopReason | None = None

    def take(self, event: events.EngineEvent) -> None:
        if isinstance(event, events.ScenarioFinished):
            self._scenario(event.recorder)
        elif isinstance(event, events.NonFatalError):
            self.errors.append(f"{event.label}: {event.info.title}: {event.info.message}")
        elif isinstance(event, events.FatalError):
            self.errors.append(repr(event.exception))
        elif isinstance(event, events.EngineFinished):
            self.stop_reason = event.stop_reason

    def _scenario(self, recorder: Any) -> None:
        self.cases += len(recorder.cases)
        self.excused += sum(recorder.filtered_failures.values())
        for interaction in recorder.interactions.values():
            response, method = interaction.response, interaction.request.method
            if response is None:
                continue
            self.answers[(recorder.label, method, response.status_code)] += 1
            status, headers = response.status_code, response.headers
            # HEAD answers as GET does, without the body (the problem).
            body_sent = method != "HEAD"
            if status >= 400 and body_sent and not is_problem(status, headers, response.content):
                self.not_problems.append(f"{method} {interaction.request.uri} -> {status}")
        for checks in recorder.checks.values():
            for check in checks:
                if check.failure_info is not None:
                    failure = check.failure_info.failure
                    self.failures.append(f"{recorder.label}: {check.name}: {failure.title}")

    @property
    def server_errors(self) -> int:
        return sum(n for (_, _, status), n in self.answers.items() if status >= 500)

    def statuses(self, operation: str) -> set[int]:
        return {status for (label, _, status) in self.answers if label == operation}

    def lines(self, name: str) -> list[str]:
        by_status = collections.Counter[int]()
        for (_, _, status), n in self.answers.items():
            by_status[status] += n
        counts = ", ".join(f"{status}: {n}" for status, n in sorted(by_status.items()))
        return [
            f"{name}: {self.cases} cases, {sum(by_status.values())} responses, "
            f"{self.server_errors} 5xx, {len(self.failures)} check failures "
            f"({self.excused} 422s the document's words name)",
            f"  statuses: {counts}",
        ]


def fuzz(url: str, headers: dict[str, str]) -> Fuzzed:
    """Every phase (examples, coverage with negative data, fuzzing, stateful), seeded."""
    document = with_examples(httpx.get(f"{url}/schema/openapi.json").json())
    config = schemathesis.Config.from_dict(
        {
            "base-url": url,
            "seed": SEED,
            "headers": headers,
            "request-timeout": 10,
            "cache": {"enabled": False},
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "phases": {
                phase: {"enabled": True}
                for phase in ("examples", "coverage", "fuzzing", "stateful")
            },
            "checks": {
                "enabled": False,
                **{name: {"enabled": True} for name in CHECKS},
                "negative_data_rejection": {"enabled": True, "expected-statuses": REFUSED},
            },
        }
    )
    schema = schemathesis.openapi.from_dict(document, config=config)
    schema.hook(filter_failure)
    run = Fuzzed()
    for event in engine.from_schema(schema).execute():
        run.take(event)
    return run


def operations(url: str) -> set[str]:
    document = httpx.get(f"{url}/schema/openapi.json").json()
    return {f"{m.upper()} {p}" for p, item in document["paths"].items() for m in item}


def test_fuzzing_as_a_client_allowed_everything_finds_no_server_error(
    server: str, summary: list[str]
) -> None:
    run = fuzz(server, {"Authorization": f"Bearer {EVERYTHING_KEY}"})
    summary.extend(run.lines("allowed everything"))
    print("\n".join(run.lines("allowed everything")))
    assert run.stop_reason is StopReason.COMPLETED
    assert (run.server_errors, run.failures, run.errors) == (0, [], [])
    assert run.not_problems == []
    assert operations(server) <= {label for (label, _, _) in run.answers}
    assert {202, 200, 409, 422, 400, 415} <= run.statuses("POST /v1/reports")
    for name in ("citizen", "patrol", "agency"):
        assert {202, 422} <= run.statuses(f"POST /v1/sources/{name}/reports")
    assert 200 in run.statuses("Stateful tests")


def test_fuzzing_without_a_key_finds_no_server_error_and_nothing_served(
    server: str, summary: list[str]
) -> None:
    run = fuzz(server, {})
    summary.extend(run.lines("without a key"))
    print("\n".join(run.lines("without a key")))
    assert run.stop_reason is StopReason.COMPLETED
    assert (run.server_errors, run.failures, run.errors) == (0, [], [])
    assert run.not_problems == []
    for (label, method, status), _ in run.answers.items():
        documented_method = label.split(" ")[0]
        if label.split(" ")[-1].startswith("/v1/") and method == documented_method:
            assert status in {401, 404}, (label, status)


def conforms(document: dict[str, Any], operation: dict[str, Any], answer: httpx.Response) -> None:
    """The answer is one the operation documents: its status, content type and schema."""
    documented = operation["responses"].get(str(answer.status_code))
    assert documented is not None, (answer.status_code, sorted(operation["responses"]))
    content = documented.get("content")
    if not content or not answer.content:
        return
    media = answer.headers["content-type"].split(";")[0]
    assert media in content, (media, sorted(content))
    if media == "application/json":
        schema = {**content[media]["schema"], "components": document["components"]}
        jsonschema.Draft202012Validator(schema).validate(answer.json())


async def test_every_answer_of_the_health_routes_is_in_the_document(
    database_url: str, intake_settings: Callable[..., IntakeSettings]
) -> None:
    target = urlsplit(database_url)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.start()
    settings = msgspec.structs.replace(
        intake_settings(),
        db=DatabaseSettings(
            url=database_url.replace(f":{target.port or 5432}", f":{proxy.port}", 1),
            pool_min=1,
            pool_max=2,
        ),
    )
    answers: list[tuple[str, str, httpx.Response]] = []
    try:
        with served(create_app(settings, configure_logging=False)) as url:
            async with httpx.AsyncClient(base_url=url) as client:
                document = (await client.get("/schema/openapi.json")).json()
                for path in ("/healthz", "/readyz", "/metrics"):
                    for method in ("get", "head"):
                        answers.append((path, method, await client.request(method, path)))
                await proxy.cut()  # PostgreSQL out of reach: /readyz says 503
                for method in ("get", "head"):
                    answers.append(("/readyz", method, await client.request(method, "/readyz")))
    finally:
        await proxy.stop()
    assert [answer.status_code for _, _, answer in answers] == [200] * 6 + [503, 503]
    for path, method, answer in answers:
        conforms(document, document["paths"][path][method], answer)
    not_ready = answers[-2][2].json()
    assert (not_ready["status"], not_ready["database"]) == ("not ready", "down")
