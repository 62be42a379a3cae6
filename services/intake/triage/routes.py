"""The triage workbench's route handlers, in one list the app includes."""

from __future__ import annotations

from typing import Any

from services.intake.triage.disposition_api import ApprovalController, DispositionController
from services.intake.triage.worklist_api import TriageController

# The work list and claims; the dispositions' and approvals' controllers are added here.
HANDLERS: list[Any] = [TriageController, DispositionController, ApprovalController]
