"""Writes the JSON Schema of every public contract into `schemas/json/` (`--check` compares)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from schemas.caseevents import CaseEvent
from schemas.decision import Decision
from schemas.envelope import CaseDecided, CaseRouted, ReportAccepted
from schemas.report import Report
from schemas.sources import AgencyReport, CitizenReport, PatrolReport

OUT = Path(__file__).parent / "json"
BASE_ID = "https://fsi.politiet.example/schemas/"

CONTRACTS: dict[str, Any] = {
    "report.v1": Report,
    "decision.v1": Decision,
    "report-accepted.v1": ReportAccepted,
    "case-routed.v1": CaseRouted,
    "case-decided.v1": CaseDecided,
    "case-event.v1": CaseEvent,
    "source.citizen.v1": CitizenReport,
    "source.patrol.v1": PatrolReport,
    "source.agency.v1": AgencyReport,
}


def schema_of(name: str, contract: Any) -> dict[str, Any]:
    """The JSON Schema (2020-12) of one contract."""
    schema: dict[str, Any] = msgspec.json.schema(contract)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{BASE_ID}{name}.schema.json",
        "title": name,
        **schema,
    }


def rendered(extra: dict[str, Any] | None = None) -> dict[str, str]:
    """File name → file text for every contract."""
    contracts = {**CONTRACTS, **(extra or {})}
    return {
        f"{name}.schema.json": json.dumps(schema_of(name, c), indent=2, ensure_ascii=False) + "\n"
        for name, c in sorted(contracts.items())
    }


def stale(files: dict[str, str], directory: Path = OUT) -> list[str]:
    """Names of files that are missing or differ from what the Structs give."""
    return [
        n
        for n, text in files.items()
        if not (directory / n).exists() or (directory / n).read_text("utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if a file is out of date")
    args = parser.parse_args(argv)
    files = rendered()
    if args.check:
        out_of_date = stale(files)
        for name in out_of_date:
            print(f"out of date: schemas/json/{name} (run `python -m schemas.export`)")
        return 1 if out_of_date else 0
    OUT.mkdir(exist_ok=True)
    for name, text in files.items():
        (OUT / name).write_text(text, "utf-8")
    print(f"wrote {len(files)} schema files to schemas/json/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
