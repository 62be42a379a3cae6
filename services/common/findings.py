"""What standardisation finds: quality issues (a person must look) and notes (for information)."""

from __future__ import annotations

import datetime as dt

from schemas.localtime import OSLO
from schemas.report import Note, QualityIssue


class Findings:
    """Collects quality issues and notes in the order they are found."""

    def __init__(self) -> None:
        self.issues: list[QualityIssue] = []
        self.notes: list[Note] = []

    def issue(self, code: str, path: str, message: str) -> None:
        """A soft problem: the report is kept and goes to triage."""
        self.issues.append(QualityIssue(code=code, path=path, message=message))

    def note(self, code: str, path: str, message: str) -> None:
        """A change the intake made that needs no person."""
        self.notes.append(Note(code=code, path=path, message=message))


def local(instant: dt.datetime) -> str:
    """An instant as Oslo wall-clock time with its zone and UTC: '03:30 CEST (01:30 UTC)'."""
    there = instant.astimezone(OSLO)
    return f"{there:%d.%m.%Y %H:%M} {there.tzname()} ({instant.astimezone(dt.UTC):%H:%M} UTC)"
