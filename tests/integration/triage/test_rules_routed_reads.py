"""A report the rules route straight to a unit, end to end: the real router decides and
publishes it, its unit's queue confirms it, and people read it back with real access tokens
of the local OIDC provider. The rules name its district by the catalogue's name, people's
tokens by its slug: the district's people and the national role read it, others do not."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.integration.stack import Stack
from tests.integration.triage.flows import as_person, post, read_when

ROOT = Path(__file__).parents[3]


def oslo_slug() -> str:
    """The slug deploy/routing/units.yaml gives the district Oslo."""
    units = yaml.safe_load((ROOT / "deploy" / "routing" / "units.yaml").read_text("utf-8"))
    slug: str = units["districts"]["Oslo"]["slug"]
    return slug


async def test_a_report_the_rules_routed_to_an_oslo_unit_is_read_by_oslo_and_national(
    stack: Stack,
) -> None:
    # The bicycle theft example happens in 0301, Oslo municipality: Oslo police district.
    report_id = await post(stack)
    shown = await read_when(stack, report_id, "routed", "nina")
    decision = shown["decision"]
    assert decision["district"] == "Oslo"
    assert decision["unit"].startswith(oslo_slug() + "."), decision["unit"]
    assert decision.get("decided_by") is None  # the rules', never on the work list
    statuses = {
        who: (await as_person(stack, who, "GET", f"/v1/reports/{report_id}")).status_code
        for who in ("anne", "pia", "per", "nina")
    }
    # anne and pia work for Oslo, per for Vest; nina has the national role (deploy/oidc).
    assert statuses == {"anne": 200, "pia": 200, "per": 404, "nina": 200}
    history = {e["event"]: e["details"] for e in shown["history"]}
    assert history["decided"]["district"] == oslo_slug()
