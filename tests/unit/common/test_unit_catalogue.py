"""The unit catalogue's national units (Kripos, Økokrim): ids without a district, one queue
each, never mistaken for a district's unit; unit id parts are slugs."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas import reference
from services.common.rules.reading import RulesError
from services.common.rules.units import Catalogue, district_slug, load_catalogue
from services.common.topology import Topology

UNITS = Path(__file__).resolve().parents[3] / "deploy" / "routing" / "units.yaml"
TEXT = UNITS.read_text("utf-8")


def load(text: str) -> Catalogue:
    return load_catalogue(text, "units.yaml", reference.load())


def refused(text: str) -> RulesError:
    with pytest.raises(RulesError) as caught:
        load(text)
    return caught.value


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_national_units_are_units_without_a_district() -> None:
    catalogue = load(TEXT)
    assert list(catalogue.national) == ["kripos", "okokrim"]
    assert catalogue.unit_name("kripos") == "Kripos"
    assert catalogue.unit_name("okokrim") == "Økokrim"
    assert catalogue.district_of_unit("okokrim") is None
    # 12 police districts with 8 sections each, then the national units.
    assert len(catalogue.units) == 12 * 8 + 2
    assert catalogue.units[-2:] == ("kripos", "okokrim")
    oslo = catalogue.district_of_unit("oslo.barn-og-unge")
    assert oslo is not None
    assert oslo.name == "Oslo"
    assert catalogue.unit_name("oslo.barn-og-unge") == "Seksjon for barn og unge"
    assert catalogue.district_of_unit("oslo.kripos") is None
    assert catalogue.unit_name("vest.nowhere") is None


def test_each_national_unit_gets_its_queue_bound_by_its_id() -> None:
    topology = Topology(prefix="fsi.", units=load(TEXT).units)
    queue = topology.unit_queue("kripos")
    assert queue.name == "fsi.unit.kripos"
    assert queue.bindings == (("fsi.cases", "kripos"),)
    assert {"fsi.unit.kripos", "fsi.unit.okokrim"} <= {q.name for q in topology.queues}


def test_a_catalogue_without_national_units_has_none() -> None:
    text = TEXT[: TEXT.index("national:")]
    assert load(text).national == {}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("  kripos: {name: Kripos}", "  kri.pos: {name: Kripos}", "the id of a national unit"),
        ("  kripos: {name: Kripos}", "  triage: {name: Kripos}", "the id is triage's"),
        ("  kripos: {name: Kripos}", "  oslo: {name: Kripos}", "the id is a district's slug"),
        ("  kripos: {name: Kripos}", "  kripos: {}", "the `name` of national unit kripos"),
        ("  kripos: {name: Kripos}", "  kripos: {name: K, queue: x}", "unknown key 'queue'"),
    ],
    ids=["dot", "triage", "district slug", "no name", "unknown key"],
)
def test_a_wrong_national_unit_is_refused_on_its_line(old: str, new: str, expected: str) -> None:
    text = TEXT.replace(old, new)
    error = refused(text)
    assert expected in error.reason
    assert error.line == line_of(text, new.strip())


def test_a_district_slug_must_be_a_slug_and_its_own() -> None:
    text = TEXT.replace("{slug: oslo,", "{slug: Oslo By,")
    error = refused(text)
    assert "the slug of district Oslo `Oslo By` must be lowercase" in error.reason
    assert error.line == line_of(text, "Oslo By")
    text = TEXT.replace("{slug: oslo,", "{slug: vest,")
    error = refused(text)
    assert error.reason == "slug `vest` is used by two districts"
    assert error.line == line_of(text, "  Oslo: {slug: vest")


def test_a_district_slug_is_the_spelling_of_its_name_that_access_is_read_by() -> None:
    # Migration 0018's district_slug: the twelve districts as the catalogue names them.
    catalogue = load(TEXT)
    assert {name: d.slug for name, d in catalogue.districts.items()} == {
        name: district_slug(name) for name in catalogue.districts
    }
    assert district_slug("Møre og Romsdal") == "more-og-romsdal"
    assert district_slug("Sør-Øst") == "sor-ost"
    assert district_slug("Trøndelag") == "trondelag"
    text = TEXT.replace("{slug: sor-ost,", "{slug: sorost,")
    error = refused(text)
    assert error.reason.startswith("the slug of district Sør-Øst must be `sor-ost`, not `sorost`")
    assert error.line == line_of(text, "{slug: sorost,")
