"""No personal data in metric labels, in error bodies, in dead-letter headers or in logs."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

import aio_pika
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.common.logging import get_logger
from services.common.topology import REPORT_ACCEPTED_KEY
from tests.conftest import LogCapture, forbidden_values, personal_data_in
from tests.integration.conftest import unique
from tests.integration.stack import EXAMPLES, Stack, example, reason, take, wait_routed
from tests.support.clients import auth

FORBIDDEN = forbidden_values()
REFERENCE = {"citizen": "referanse", "patrol": "case_ref", "agency": "meldingsId"}
NAME, NATIONAL_ID = "Kari Testesen", "24869023120"


def personal(text: str) -> list[str]:
    return personal_data_in(text, FORBIDDEN)


def source_report(name: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((EXAMPLES / "sources" / f"{name}.json").read_text())
    return {**body, REFERENCE[name]: unique(name), **changes}


@pytest.fixture(autouse=True)
def logs_stay_clean(log_capture: LogCapture) -> Iterator[None]:
    """What each test here made the services log is checked at once, not only at the end."""
    start = len(log_capture.lines)
    yield
    leaks = [(line, found) for _, line in log_capture.lines[start:] if (found := personal(line))]
    assert leaks == []


async def test_metric_labels_hold_no_personal_data(stack: Stack) -> None:
    for name in ("bicycle-theft", "domestic-violence", "youth-robbery"):
        answer = await stack.intake.post("/v1/reports", json=example(name), headers=auth("alpha"))
        assert answer.status_code == 202, answer.text
    for name in REFERENCE:
        answer = await stack.intake.post(
            f"/v1/sources/{name}/reports", json=source_report(name), headers=auth("alpha")
        )
        assert answer.status_code == 202, answer.text
    await wait_routed(stack.database_url, 6)
    # Refusals whose source, path or body is personal data are counted too.
    named = {**example("bicycle-theft"), "source": NAME}
    refused = [
        ("/v1/reports", named),
        ("/v1/reports", example("bicycle-theft", reported_at=NAME)),
        (f"/v1/sources/{NATIONAL_ID}/reports", source_report("citizen")),
        (f"/v1/sources/{NAME}/reports", source_report("citizen")),
    ]
    for path, body in refused:
        assert (await stack.intake.post(path, json=body, headers=auth("alpha"))).status_code >= 400
    await stack.intake.get(f"/v1/reports/{NAME}", headers=auth("alpha"))
    scraped = await stack.intake.get("/metrics")
    labels = {
        value
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
        for value in sample.labels.values()
    }
    assert {"alpha-src", "nettanmeldelse", "patrulje", "unknown"} <= labels
    assert [(value, personal(value)) for value in labels if personal(value)] == []


async def test_the_operations_overview_and_page_hold_no_personal_data(stack: Stack) -> None:
    for name in ("bicycle-theft", "domestic-violence", "youth-robbery"):
        await stack.intake.post("/v1/reports", json=example(name), headers=auth("alpha"))
    await wait_routed(stack.database_url, 3)
    routed = dt.datetime.now(dt.UTC)
    for _ in range(100):  # the monitor reads every second here
        overview = await stack.intake.get("/v1/ops/overview", headers=auth("ops"))
        if overview.status_code == 200 and dt.datetime.fromisoformat(
            overview.json()["generated_at"]
        ) > routed + dt.timedelta(seconds=0.1):
            break
        await asyncio.sleep(0.1)
    page = await stack.intake.get("/ops", headers=auth("ops"))
    assert len(overview.json()["latest"]) == 3
    assert page.status_code == 200
    assert (personal(overview.text), personal(page.text)) == ([], [])


async def test_another_clients_report_reads_as_missing_with_nothing_of_it(stack: Stack) -> None:
    posted = await stack.intake.post(
        "/v1/reports", json=example("domestic-violence"), headers=auth("alpha")
    )
    report_id = posted.json()["report_id"]
    other = await stack.intake.get(f"/v1/reports/{report_id}", headers=auth("beta"))
    missing = await stack.intake.get(f"/v1/reports/{uuid.uuid4()}", headers=auth("beta"))
    own = await stack.intake.get(f"/v1/reports/{report_id}", headers=auth("alpha"))
    assert personal(own.text)  # the submitter sees its report, so the check can see it
    assert (other.status_code, other.json()) == (missing.status_code, missing.json())
    assert personal(other.text) == []
    assert report_id not in other.text


async def test_conflict_bodies_hold_nothing_of_either_report(stack: Stack) -> None:
    first = example("domestic-violence")
    changed = {**first, "incident": {**first["incident"], "description": "Endret beskrivelse"}}
    await stack.intake.post("/v1/reports", json=first, headers=auth("alpha"))
    same_client = await stack.intake.post("/v1/reports", json=changed, headers=auth("alpha"))
    citizen = source_report("citizen")
    await stack.intake.post("/v1/sources/citizen/reports", json=citizen, headers=auth("alpha"))
    other_client = await stack.intake.post(
        "/v1/sources/citizen/reports",
        json={**citizen, "beskrivelse": "Endret beskrivelse"},
        headers=auth("citizen-only"),
    )
    for conflict in (same_client, other_client):
        assert conflict.status_code == 409
        assert set(conflict.json()) == {"type", "title", "status", "detail", "report_id"}
        assert personal(conflict.text) == []


async def test_invalid_bodies_name_paths_and_problems_never_values(stack: Stack) -> None:
    report = example("domestic-violence")
    report["reported_at"] = f"{NAME} {NATIONAL_ID}"
    report["incident"]["municipality"] = "Eksempelveien 12"
    report["incident"]["description"] = ["Nabo ringte om bråk og skrik fra leiligheten."]
    report["persons"][0]["role"] = f"{NAME} {NATIONAL_ID}"
    report["persons"][1]["national_id"] = int(NATIONAL_ID)
    report["persons"][2]["phone"] = 91234567
    report["flags"]["weapon"] = "Anne Testesen"
    citizen = source_report("citizen", innsendt=f"{NAME} {NATIONAL_ID}")
    patrol = source_report("patrol", people=[{"r": "Anne Testesen", "fnr": NATIONAL_ID}])
    agency = source_report("agency", involverte=[{"rolle": NAME, "fodselsnummer": NATIONAL_ID}])
    answers = [
        await stack.intake.post("/v1/reports", json=report, headers=auth("alpha")),
        await stack.intake.post(
            "/v1/reports/batch", json={"reports": [report]}, headers=auth("alpha")
        ),
        await stack.intake.post("/v1/sources/citizen/reports", json=citizen, headers=auth("alpha")),
        await stack.intake.post("/v1/sources/patrol/reports", json=patrol, headers=auth("alpha")),
        await stack.intake.post("/v1/sources/agency/reports", json=agency, headers=auth("alpha")),
    ]
    assert [a.status_code for a in answers] == [422, 200, 422, 422, 422]
    assert answers[1].json()["results"][0]["outcome"] == "invalid"
    assert len(answers[0].json()["errors"]) == 7
    assert [(a.request.url.path, personal(a.text)) for a in answers if personal(a.text)] == []


async def test_dead_letter_headers_hold_no_personal_data(stack: Stack) -> None:
    report = json.loads((EXAMPLES / "report.domestic-violence.json").read_text())
    envelope = {
        "report_id": str(uuid.uuid4()),
        "accepted_at": "2026-11-26T22:06:00Z",
        "source_format": "canonical",
        "report": report,
    }
    persons = report["persons"]
    poisons = [
        {**envelope, "report_id": f"{NAME} {NATIONAL_ID}"},
        {**envelope, "report": {**report, "persons": [{**persons[0], "role": NAME}]}},
        {**envelope, "report": {**report, "persons": [{**persons[0], NAME: NATIONAL_ID}]}},
        {**envelope, "report": {**report, "reported_at": f"{NAME} {NATIONAL_ID}"}},
    ]
    reports = await stack.channel.get_exchange(stack.topology.reports_exchange.name)
    for poison in poisons:
        await reports.publish(
            aio_pika.Message(json.dumps(poison).encode(), message_id=f"{NAME} {NATIONAL_ID}"),
            routing_key=REPORT_ACCEPTED_KEY,
        )
    dead = await take(await stack.queue(stack.topology.dead_letter_queue.name), len(poisons))
    assert len(dead) == len(poisons)
    assert all(reason(m).startswith("not a fsi.report.accepted.v1") for m in dead)
    leaks = [(k, v) for m in dead for k, v in m.headers.items() if personal(f"{k} {v!s}")]
    assert leaks == []


def test_report_ids_stay_whole_in_logs_while_id_shaped_numbers_go(
    log_capture: LogCapture,
) -> None:
    report_id = "7bc6e7bd-c4a6-4ce8-ab0f-e66579733542"  # 11 digits after a letter
    start = len(log_capture.lines)
    get_logger("test").info("report seen", report_id=report_id, note=f"caller {NATIONAL_ID}")
    (line,) = [json.loads(line) for _, line in log_capture.lines[start:]]
    assert (line["report_id"], line["note"]) == (report_id, "caller [id]")
