"""The canonical contract: schema files up to date, examples valid, structural rules hold."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from schemas import export
from schemas.report import Report

EXAMPLES = sorted((Path(export.__file__).parent / "examples").glob("report.*.json"))


def test_json_schema_files_are_up_to_date() -> None:
    assert export.stale(export.rendered()) == []


def test_stale_detects_a_changed_struct(tmp_path: Path) -> None:
    class Extra(msgspec.Struct):
        field: int

    files = export.rendered({"extra.v1": Extra})
    for name, text in files.items():
        (tmp_path / name).write_text(text, "utf-8")
    (tmp_path / "report.v1.schema.json").write_text("{}", "utf-8")
    assert export.stale(files, tmp_path) == ["report.v1.schema.json"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_decode_as_reports(path: Path) -> None:
    report = msgspec.json.decode(path.read_bytes(), type=Report)
    assert report.offences
    assert json.loads(path.read_bytes())["external_id"] == report.external_id


def _minimal(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "source": "s",
        "external_id": "x",
        "reported_at": "2026-01-01T10:00:00+01:00",
        "incident": {"occurred_from": "2026-01-01T09:00:00", "description": "d"},
        "offences": [{"code": "strl-321"}],
    }
    body.update(changes)
    return body


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"offences": [{}]}, "$.offences[0]"),
        ({"offences": []}, "$.offences"),
        ({"offences": [{"code": "strl-321"}] * 21}, "$.offences"),
        ({"external_id": ""}, "$.external_id"),
        ({"external_id": "x" * 129}, "$.external_id"),
        ({"source": "Has Spaces"}, "$.source"),
        ({"persons": [{"role": "bystander"}]}, "$.persons[0].role"),
        ({"unknown": 1}, "unknown"),
        (
            {
                "incident": {
                    "occurred_from": "2026-01-02T00:00:00",
                    "occurred_to": "2026-01-01T00:00:00",
                    "description": "d",
                }
            },
            "$.incident",
        ),
        (
            {
                "incident": {
                    "occurred_from": "2026-01-01T00:00:00",
                    "description": "d",
                    "municipality": "301",
                }
            },
            "$.incident.municipality",
        ),
    ],
)
def test_structural_errors_name_their_path(changes: dict[str, object], where: str) -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.convert(_minimal(**changes), Report)
    assert where in str(caught.value)


def test_minimal_report_is_valid_and_naive_time_kept_naive() -> None:
    report = msgspec.convert(_minimal(), Report)
    assert report.incident.occurred_from.tzinfo is None
    assert report.reported_at.utcoffset() is not None


@pytest.mark.parametrize(
    ("changes", "where"),
    [
        ({"reported_at": "0001-01-01T00:30:00+01:00"}, "$"),
        ({"reported_at": "9999-12-31T23:30:00Z"}, "$"),
        ({"incident": {"occurred_from": "0001-01-01T00:00:00", "description": "d"}}, "$.incident"),
        ({"persons": [{"role": "victim", "birth_date": "1800-01-01"}]}, "$.persons[0]"),
    ],
)
def test_times_outside_1900_to_2100_are_refused(changes: dict[str, object], where: str) -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.convert(_minimal(**changes), Report)
    assert "between 1900 and 2100" in str(caught.value)
    # msgspec names no path for the top level.
    assert (
        (f"at `{where}`" in str(caught.value))
        if where != "$"
        else (" - at " not in str(caught.value))
    )


def test_naive_times_are_oslo_time_when_ordering_an_incident() -> None:
    # 09:30 in Oslo (winter) is 08:30Z: after 08:00Z, before 09:00Z.
    ok = {
        "occurred_from": "2026-01-01T08:00:00Z",
        "occurred_to": "2026-01-01T09:30:00",
        "description": "d",
    }
    assert msgspec.convert(_minimal(incident=ok), Report).incident.occurred_to is not None
    wrong = {
        "occurred_from": "2026-01-01T09:00:00Z",
        "occurred_to": "2026-01-01T09:30:00",
        "description": "d",
    }
    with pytest.raises(msgspec.ValidationError, match="before"):
        msgspec.convert(_minimal(incident=wrong), Report)
