"""SQL of rule set loads: each rule set a router loads, with its unit catalogue, and each
rules file it refuses."""

from __future__ import annotations

import asyncpg
import msgspec

from schemas.catalogue import Catalogue, CatalogueUnit, District, NationalUnit
from services.common.rules.ruleset import RuleSet


def catalogue_json(ruleset: RuleSet) -> str:
    """The unit catalogue as the operations page reads it."""
    catalogue = ruleset.catalogue
    districts = [
        District(
            d.name,
            d.slug,
            d.unit(d.default),
            [CatalogueUnit(d.unit(s), s, catalogue.section_names[s]) for s in d.sections],
        )
        for d in catalogue.districts.values()
    ]
    national = [NationalUnit(u.id, u.name) for u in catalogue.national.values()]
    return msgspec.json.encode(Catalogue(districts, national)).decode()


async def record_load(pool: asyncpg.Pool, router: str, ruleset: RuleSet) -> None:
    """Note the rule set now in use by this router."""
    await pool.execute(
        "INSERT INTO rule_loads (router, outcome, version, rules, catalogue) "
        "VALUES ($1, 'loaded', $2, $3, $4::jsonb)",
        router,
        ruleset.version,
        len(ruleset.rules),
        catalogue_json(ruleset),
    )


async def record_refusal(pool: asyncpg.Pool, router: str, error: str) -> None:
    """Note a rules file this router refused (the error names file, line and rule)."""
    await pool.execute(
        "INSERT INTO rule_loads (router, outcome, error) VALUES ($1, 'refused', $2)",
        router,
        error[:1000],
    )
