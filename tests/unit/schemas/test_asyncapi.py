"""The AsyncAPI document: checked in up to date, valid AsyncAPI 3.0.0, the Structs' schemas,
the topology's names and the services' headers and refusals; a broken one is refused."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aio_pika
import msgspec
import pytest

from clients.fsi_unit import contract
from clients.fsi_unit.event import EventProblem, make_event
from schemas import export, reference
from schemas.asyncapi import __main__ as cli
from schemas.asyncapi import channels, document, validate
from schemas.asyncapi.messages import EVENT_REFUSALS
from schemas.caseevents import CaseEventBody, field_problems
from schemas.decision import Deadline, DecidedBy, Decision, Priority
from services.common.caseevents.metrics import APPLIED, REPEAT, UNIT_MISMATCH, VERDICTS
from services.common.caseevents.model import Refusal
from services.common.rules.ruleset import load_ruleset
from services.common.topology import CASE_DECIDED_KEY, REPORT_ACCEPTED_KEY, TRIAGE_KEY, Topology
from services.routing.cases import case_headers
from services.routing.deadletters import to_dead_letters

DOC: dict[str, Any] = json.loads(document.OUT.read_text("utf-8"))
CHECK = validate.validator()
# The topology with the address expressions for names: its names are the document's.
NAMED = Topology(prefix="{prefix}")


def test_the_checked_in_document_is_up_to_date_and_valid() -> None:
    assert document.OUT.read_text("utf-8") == document.rendered()
    assert validate.problems(DOC, CHECK) == []
    assert cli.main(["--check"]) == 0


def _without(path: str) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split("/")

    def change(doc: dict[str, Any]) -> None:
        node = doc
        for part in parents:
            node = node[part]
        del node[last]

    return change


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split("/")

    def change(doc: dict[str, Any]) -> None:
        node = doc
        for part in parents:
            node = node[part]
        node[last] = value

    return change


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (_without("channels/unitQueue/bindings/amqp/queue"), "'queue' is a required property"),
        (_set("channels/cases/bindings/amqp/is", "exchange"), "is not one of"),
        (_set("channels/unitQueue/address", 5), "$.channels.unitQueue.address"),
        (_set("operations/receiveCases/action", "consume"), "$.operations.receiveCases.action"),
        (_set("asyncapi", "2.6.0"), "$.asyncapi"),
        (_without("info/title"), "'title' is a required property"),
        (
            _set("components/messages/caseRouted/payload", {"$ref": "#/components/schemas/No"}),
            "'#/components/schemas/No' points to nothing",
        ),
        (_set("operations/receiveCases/channel", {"$ref": "#/channels/no"}), "'#/channels/no'"),
        (
            _set("operations/receiveCases/messages", [{"$ref": "#/channels/cases/messages/x"}]),
            "an operation's message must be one of its channel's",
        ),
        (_without("channels/unitQueue/parameters/unit"), "`{unit}` is not among"),
        (
            _set("components/schemas/Report/properties/persons/type", "lst"),
            "$.components.schemas.Report.properties.persons.type",
        ),
    ],
)
def test_a_broken_document_is_refused_naming_where(
    change: Callable[[dict[str, Any]], None], named: str
) -> None:
    broken = copy.deepcopy(DOC)
    change(broken)
    found = validate.problems(broken, CHECK)
    assert any(named in problem for problem in found), found


def test_check_fails_when_stale_invalid_or_without_the_specs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "asyncapi.json"
    stale.write_text("{}\n", "utf-8")
    monkeypatch.setattr(cli, "OUT", stale)
    monkeypatch.setattr(cli, "ROOT", tmp_path)
    assert cli.main(["--check"]) == 1
    assert "out of date: asyncapi.json" in capsys.readouterr().err

    broken = copy.deepcopy(DOC)
    del broken["channels"]["cases"]["bindings"]["amqp"]["exchange"]
    text = json.dumps(broken, indent=2) + "\n"
    stale.write_text(text, "utf-8")
    monkeypatch.setattr(cli, "rendered", lambda: text)
    assert cli.main(["--check"]) == 1
    assert "$.channels.cases.bindings.amqp: 'exchange' is a required" in capsys.readouterr().err
    assert cli.main([]) == 1  # an invalid document is not written either

    monkeypatch.setattr(validate, "SPECS", tmp_path / "missing.json")
    assert cli.main(["--check"]) == 1
    assert "run `make node-modules`" in capsys.readouterr().err


def test_every_structs_schema_is_its_json_schema_files() -> None:
    schemas = DOC["components"]["schemas"]
    for name in document.PAYLOADS:
        file = json.loads((export.OUT / f"{name}.schema.json").read_text("utf-8"))
        text = json.dumps(file["$defs"]).replace('"#/$defs/', '"#/components/schemas/')
        for key, schema in json.loads(text).items():
            assert schemas[key] == schema, (name, key)
        top = file["$ref"].removeprefix("#/$defs/")
        payloads = [m["payload"] for m in DOC["components"]["messages"].values()]
        assert {"$ref": f"#/components/schemas/{top}"} in payloads


def _queue_channel(key: str) -> tuple[str, list[tuple[str, str]]]:
    channel = DOC["channels"][key]
    bound = [(b["exchange"], b["routingKey"]) for b in channel["x-amqp-bound-to"]]
    assert channel["bindings"]["amqp"]["queue"]["name"] == channel["address"]
    return channel["address"], bound


def test_names_are_the_topologys() -> None:
    t = NAMED
    queues = {
        "routingReports": t.routing_queue,
        "routingDecisions": t.decisions_queue,
        "routingCaseEvents": t.case_events_queue,
        "triage": t.triage_queue,
        "deadLetterQueue": t.dead_letter_queue,
        "unitQueue": t.unit_queue("{unit}"),
    }
    for key, queue in queues.items():
        assert _queue_channel(key) == (queue.name, list(queue.bindings)), key
    exchanges = {
        "reports": t.reports_exchange,
        "cases": t.cases_exchange,
        "caseEvents": t.case_events_exchange,
        "deadLetters": t.dead_letter_exchange,
    }
    for key, exchange in exchanges.items():
        channel = DOC["channels"][key]
        bound = channel["bindings"]["amqp"]["exchange"]
        assert (channel["address"], bound["name"]) == (exchange.name, exchange.name), key
        assert bound["type"] == exchange.type.value, key
    assert set(DOC["channels"]) == set(queues) | set(exchanges)
    keys = (channels.REPORT_ACCEPTED_KEY, channels.CASE_DECIDED_KEY, channels.TRIAGE_KEY)
    assert keys == (REPORT_ACCEPTED_KEY, CASE_DECIDED_KEY, TRIAGE_KEY)


def test_units_and_priorities_are_the_rules() -> None:
    ruleset = load_ruleset(document.RULES_FILE, document.UNITS_FILE, reference.load())
    assert DOC["components"]["parameters"]["unit"]["enum"] == list(ruleset.catalogue.units)
    assert document.amqp_priorities(document.RULES_FILE.read_text("utf-8")) == {
        p.value: n for p, n in ruleset.amqp_priorities.items()
    }
    described = DOC["components"]["messages"]["caseRouted"]["x-amqp-properties"]["priority"]
    for level, value in ruleset.amqp_priorities.items():
        assert f"`{level.value}` → {value}" in described


def test_headers_are_those_the_router_writes() -> None:
    decision = Decision(
        report_id=uuid.uuid4(),
        unit="oslo.vold-og-seksual",
        priority=Priority.HIGH,
        amqp_priority=7,
        ruleset_version="sha256:0",
        decided_at=dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        deadline=Deadline(dt.datetime(2026, 12, 2, tzinfo=dt.UTC), "basis", "rule"),
        decided_by=DecidedBy("subject", "assessor", "routed", uuid.uuid4()),
    )
    case = DOC["components"]["messages"]["caseRouted"]["headers"]
    assert set(case_headers(decision)) | {"x-fsi-act"} == set(case["properties"])

    published: list[aio_pika.Message] = []

    class Exchange:
        async def publish(self, message: aio_pika.Message, **_: Any) -> None:
            published.append(message)

    incoming: Any = aio_pika.Message(
        b"{}", message_id="m", type="t", content_type="application/json"
    )
    exchange: Any = Exchange()
    asyncio.run(to_dead_letters(exchange, incoming, "why", "q"))
    # A case event's dead letter also names its code and sender (the router's consumer).
    event = {"x-fsi-code": "not_held", "x-fsi-client": "amqp:-"}
    asyncio.run(to_dead_letters(exchange, incoming, "why", "q", event))
    refused = DOC["components"]["messages"]["refused"]["headers"]
    assert set(published[0].headers) == set(refused["required"])
    assert set(published[1].headers) == set(refused["properties"])


def test_the_event_refusals_are_the_stores_and_the_routers() -> None:
    assert set(EVENT_REFUSALS) == {r.value for r in Refusal} | {UNIT_MISMATCH}
    assert set(EVENT_REFUSALS) == set(VERDICTS) - {APPLIED, REPEAT}
    codes = DOC["components"]["messages"]["refused"]["headers"]["properties"]["x-fsi-code"]
    assert codes["enum"] == list(EVENT_REFUSALS)
    text = DOC["operations"]["sendCaseEvent"]["description"]
    assert all(f"`{code}`" in text for code in EVENT_REFUSALS)


def test_the_unit_client_writes_out_what_the_document_says() -> None:
    schemas = DOC["components"]["schemas"]
    # Sets: msgspec writes an enum's values sorted, the client in the lifecycle's order.
    assert set(contract.KINDS) == set(schemas["CaseEventKind"]["enum"])
    assert set(contract.RETURN_REASONS) == set(schemas["ReturnReason"]["enum"])
    assert set(contract.OUTCOMES) == set(schemas["CaseOutcome"]["enum"])
    event = DOC["components"]["messages"]["caseEvent"]
    assert event["bindings"]["amqp"]["messageType"] == contract.CASE_EVENT_TYPE
    assert event["contentType"] == contract.CONTENT_TYPE
    assert contract.unit_queue("{prefix}", "{unit}") == DOC["channels"]["unitQueue"]["address"]
    events = DOC["channels"]["caseEvents"]["address"]
    assert contract.case_events_exchange("{prefix}") == events
    assert DOC["components"]["parameters"]["prefix"]["default"] == contract.DEFAULT_PREFIX


@pytest.mark.parametrize("kind", contract.KINDS)
@pytest.mark.parametrize("reason", [None, "wrong_unit"])
@pytest.mark.parametrize("outcome", [None, "waiver"])
def test_the_unit_client_makes_the_events_the_contract_allows(
    kind: str, reason: str | None, outcome: str | None
) -> None:
    report = str(uuid.uuid4())
    try:
        made = make_event(report, kind, "oslo.vold-og-seksual", reason, outcome)
    except EventProblem:
        made = None
    body = CaseEventBody(
        event_id=uuid.uuid4(),
        unit="oslo.vold-og-seksual",
        kind=kind,  # type: ignore[arg-type]  # converted below
        occurred_at=dt.datetime.now(dt.UTC),
        reason=reason,  # type: ignore[arg-type]
        outcome=outcome,  # type: ignore[arg-type]
    )
    body = msgspec.convert(msgspec.to_builtins(body), CaseEventBody)
    assert (made is not None) == (field_problems(body) == [])
    if made is not None:
        decoded = msgspec.json.decode(json.dumps(made.body(with_report=False)), type=CaseEventBody)
        assert field_problems(decoded) == []
