"""Arbitrary input through decoding, the adapters and standardisation: named problems, no loss."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import msgspec
import msgspec.inspect as mi
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from schemas import reference
from schemas.reference import visible_text
from schemas.report import Report
from services.common.standardise import Options, standardise
from services.intake.adapters import ADAPTERS
from services.intake.service import (
    CANONICAL,
    IntakeService,
    Submission,
    contract_problems,
    from_source,
)
from services.intake.validation import NotJson, Problem, ReportProblems, decode
from tests.unit.intake.fakes import MemoryReportStore

REF = reference.load()
NOW = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
SERVICE = IntakeService(store=MemoryReportStore(), reference=REF, options=Options())
FORMATS = [CANONICAL, *sorted(ADAPTERS)]
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- strategies: JSON shaped by a contract type, with each kind of field's awkward edges ---

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)


def rarely(common: st.SearchStrategy[Any], rare: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly `common`, now and then `rare`: enough reports get through to the later steps."""
    return st.integers(0, 11).flatmap(lambda i: rare if i == 0 else common)


offsets = st.none() | st.integers(-1439, 1439).map(lambda m: dt.timezone(dt.timedelta(minutes=m)))
# hypothesis's overloads pair bounds with zones that are all naive or all aware, not a mix as
# `offsets` gives (which datetimes() itself accepts)
plausible = st.datetimes(
    dt.datetime(1900, 1, 2),
    dt.datetime(2100, 12, 30),
    timezones=offsets,  # type: ignore[arg-type]
)
times = rarely(plausible, st.datetimes(timezones=offsets))  # rarely: years 1 to 9999
dates = times.map(lambda t: t.date())


def _local(fmt: str) -> st.SearchStrategy[str]:
    return rarely(times.map(lambda t: t.strftime(fmt)), st.from_regex(r"\A[0-9.: ]{1,16}\Z"))


offence_codes = st.sampled_from([*sorted(REF.offences)[:30], "strl. 321", "straffeloven § 282"])
offence_labels = st.sampled_from([*sorted(REF.offence_labels)[:30], "noe ukjent"])


# Fields whose values mean something beyond their type (by struct and field): the codes the
# mappings know, municipalities, local times the formats write as text.
municipalities = st.sampled_from([*sorted(REF.municipalities)[:20], "9998", "0000"])
SPECIAL: dict[str, st.SearchStrategy[Any]] = {
    "CitizenReport.innsendt": _local("%d.%m.%Y %H:%M"),
    "CitizenReport.hendelse_fra": _local("%d.%m.%Y %H:%M"),
    "CitizenReport.hendelse_til": _local("%d.%m.%Y %H:%M"),
    "CitizenPerson.fodselsdato": _local("%d.%m.%Y"),
    "CitizenReport.kommunenummer": municipalities,
    "CitizenReport.kommune": st.sampled_from(
        ["Oslo", "Herøy", "Bergen", "Atlantis", " ", "A\u030alesund", "Guovdageaidnu", "\u200b"]
    ),
    "Incident.municipality_name": st.sampled_from(["Våler", "Kárášjohka", "Svalbard", "x"]),
    "PatrolScene.kommune": municipalities,
    "AgencyPlace.kommunenummer": municipalities,
    "Incident.municipality": municipalities,
    "PatrolPerson.r": rarely(st.sampled_from(["F", "M", "S", "V", "A", "f"]), st.just("X")),
    "AgencyParty.rolle": rarely(
        st.sampled_from(["mistenkt", "Fornærmet", "vitne", "melder"]), st.just("tilskuer")
    ),
    "PatrolReport.markers": st.lists(
        rarely(st.sampled_from(["VNR", "HAT", "våpen", "FARE"]), st.just("UFO")), max_size=3
    ),
    "Report.offences": st.lists(
        st.fixed_dictionaries({"code": offence_codes}, optional={"label": offence_labels})
        | st.fixed_dictionaries({"label": offence_labels}),
        min_size=1,
        max_size=3,
    ),
}


def _text(t: mi.StrType) -> st.SearchStrategy[str]:
    if t.pattern:
        return st.from_regex(t.pattern)
    low, high = t.min_length or 0, t.max_length or 200
    edges = [" " * max(low, 1), "a\x00b", "x" * high, "\u0958" * high]  # NFC doubles U+0958
    return rarely(st.text(min_size=max(low, 1), max_size=min(high, 30)), st.sampled_from(edges))


def shaped(t: mi.Type, name: str = "", wild: bool = False) -> st.SearchStrategy[Any]:
    """JSON values of contract type `t` (`name`: its struct and field); `wild`: now and then
    any JSON value instead."""
    tame = SPECIAL[name] if name in SPECIAL else _shaped(t, wild)
    return rarely(tame, json_values) if wild else tame


def _shaped(t: mi.Type, wild: bool) -> st.SearchStrategy[Any]:
    if isinstance(t, mi.Metadata):
        return _shaped(t.type, wild)
    if isinstance(t, mi.StructType):
        where = t.cls.__name__
        fields = {f.encode_name: shaped(f.type, f"{where}.{f.name}", wild) for f in t.fields}
        required = {f.encode_name for f in t.fields if f.required}
        return st.fixed_dictionaries(
            {k: v for k, v in fields.items() if k in required},
            optional={k: v for k, v in fields.items() if k not in required},
        )
    if isinstance(t, mi.UnionType):
        return st.one_of([_shaped(u, wild) for u in t.types])
    if isinstance(t, mi.ListType):
        high = min(t.max_length if t.max_length is not None else 3, 3)
        return st.lists(shaped(t.item_type, wild=wild), min_size=t.min_length or 0, max_size=high)
    if isinstance(t, mi.StrType):
        return _text(t)
    if isinstance(t, mi.DateTimeType):
        return times.map(dt.datetime.isoformat)
    if isinstance(t, mi.DateType):
        return dates.map(dt.date.isoformat)
    if isinstance(t, mi.IntType):
        return st.integers(t.ge, t.le)
    if isinstance(t, mi.FloatType):
        return st.floats(t.ge, t.le, allow_nan=False)
    if isinstance(t, mi.BoolType):
        return st.booleans()
    if isinstance(t, mi.EnumType):
        return st.sampled_from([m.value for m in t.cls])
    assert isinstance(t, mi.NoneType), f"no strategy for {t}"
    return st.none()


def struct_of(name: str) -> type[msgspec.Struct]:
    return Report if name == CANONICAL else ADAPTERS[name].struct


def bodies(wild: bool) -> st.SearchStrategy[tuple[str, Any]]:
    return st.sampled_from(FORMATS).flatmap(
        lambda name: st.tuples(st.just(name), shaped(mi.type_info(struct_of(name)), wild=wild))
    )


# --- the intake's own path for one body: decode, adapt, standardise and prepare the rows ---


def named(problems: list[Problem]) -> bool:
    return bool(problems) and all(p.path.startswith("$") and p.message for p in problems)


def intake(name: str, body: bytes) -> tuple[str, Report | None]:
    """What the intake makes of `body`: refused at which step (every problem named), or the
    report as the adapter gave it, before standardisation."""
    try:
        parsed, problems = decode(body, struct_of(name))
    except NotJson:
        return "not json", None
    if parsed is None:
        assert named(problems)
        return "invalid", None
    try:
        if name == CANONICAL:
            assert isinstance(parsed, Report)
            report = parsed
        else:
            report = from_source(ADAPTERS[name], parsed, REF)
    except ReportProblems as exc:
        problems = exc.problems
    if problems:
        assert named(problems)
        return "not adaptable", None
    try:
        SERVICE.prepare(Submission("c", report, body, "application/json", name), NOW)
    except ReportProblems as exc:
        problems = exc.problems
    if problems:
        assert named(problems)
        return "not standardisable", report
    return "accepted", report


@FAST
@given(format_and_value=st.tuples(st.sampled_from(FORMATS), json_values))
def test_any_json_is_refused_with_named_problems(format_and_value: tuple[str, Any]) -> None:
    name, value = format_and_value
    outcome, _ = intake(name, json.dumps(value).encode())
    assert outcome in {"invalid", "not json"}


@FAST
@given(format_and_value=bodies(wild=True))
def test_nearly_valid_input_ends_in_a_named_outcome(format_and_value: tuple[str, Any]) -> None:
    name, value = format_and_value
    outcome, _ = intake(name, json.dumps(value).encode())
    event(f"{name}: {outcome}")
    assert outcome in {"accepted", "invalid", "not json", "not adaptable", "not standardisable"}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=shaped(mi.type_info(Report)))
def test_standardise_takes_every_report_the_contract_admits(value: dict[str, Any]) -> None:
    report, problems = decode(json.dumps(value).encode(), Report)
    if report is None:
        assert named(problems)
        return
    out = standardise(report, REF, NOW)
    problems = contract_problems(out, "after standardisation")
    assert problems == [] or named(problems)
    assert len(out.persons) == len(report.persons)
    assert len(out.offences) == len(report.offences)
    assert all(q.path.startswith("$.") for q in out.quality_issues)


# --- nothing lost without saying so ---------------------------------------------------------

# How every field of each source format reaches the canonical report. kept: its text appears
# there as sent; optional: kept when it holds a visible character, else not given (as a form
# sends an empty field); read: turned into another form (a time, a code, a flag, a role, a
# municipality number, a kommune's name, which is kept unless blank); dropped: the contract has
# no place for it (it stays in the stored raw body). A field in none of these fails the test.
_CITIZEN_PERSONS = ("$.anmelder", "$.mistenkte[*]", "$.vitner[*]")
_CITIZEN_PERSON_FIELDS = ("fornavn", "etternavn", "fodselsnummer", "telefon")
FIELDS: dict[str, dict[str, set[str]]] = {
    "citizen": {
        "kept": {"$.referanse", "$.kategori", "$.beskrivelse", "$.postnummer", "$.kommunenummer"},
        "optional": {"$.adresse"}
        | {f"{p}.{f}" for p in _CITIZEN_PERSONS for f in _CITIZEN_PERSON_FIELDS},
        "read": {"$.innsendt", "$.hendelse_fra", "$.hendelse_til", "$.kommune"}
        | {"$.anmelder_er_fornaermet", "$.hatmotiv", "$.nare_relasjoner"}
        | {f"{p}.fodselsdato" for p in _CITIZEN_PERSONS},
        "dropped": set(),
    },
    "patrol": {
        "kept": {"$.case_ref", "$.narrative", "$.scene.kommune", "$.codes[*]"},
        "optional": {"$.scene.address", "$.people[*].fnr", "$.people[*].name", "$.people[*].tlf"},
        "read": {"$.logged_at", "$.started", "$.ended", "$.markers[*]"}
        | {"$.people[*].r", "$.people[*].dob", "$.people[*].arrest.at"},
        "dropped": {"$.unit", "$.scene.lat", "$.scene.lon", "$.people[*].arrest.by"},
    },
    "agency": {
        "kept": {"$.meldingsId", "$.sammendrag", "$.gjerningssted.kommunenummer"},
        "optional": {"$.involverte[*].navn", "$.involverte[*].fodselsnummer"}
        | {"$.gjerningssted.beskrivelse"},
        "read": {"$.avsender.organisasjonsnummer", "$.meldingstidspunkt", "$.gjerningsperiode.fra"}
        | {"$.gjerningsperiode.til", "$.forhold[*].lovhenvisning", "$.involverte[*].rolle"}
        | {"$.involverte[*].type"},
        # Parties of type `virksomhet` (enterprises) are dropped whole, as the README says.
        "dropped": {"$.avsender.etat", "$.avsender.saksbehandler", "$.forhold[*].beskrivelse"}
        | {"$.involverte[*].organisasjonsnummer"},
    },
}


def leaves(value: Any, path: str = "$") -> Iterator[tuple[str, Any]]:
    """(path with [*] for list items, value) for every value that is not a container."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from leaves(inner, f"{path}.{key}")
    elif isinstance(value, list):
        for inner in value:
            yield from leaves(inner, f"{path}[*]")
    elif value is not None:
        yield path, value


def persons_expected(name: str, body: dict[str, Any]) -> int:
    if name == "citizen":
        return 1 + len(body.get("mistenkte", [])) + len(body.get("vitner", []))
    if name == "patrol":
        return len(body.get("people", []))
    return sum(p.get("type", "person") == "person" for p in body.get("involverte", []))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(format_and_value=bodies(wild=False).filter(lambda b: b[0] != CANONICAL))
def test_adapters_lose_no_field_silently(format_and_value: tuple[str, Any]) -> None:
    name, body = format_and_value
    outcome, report = intake(name, json.dumps(body).encode())
    event(f"{name}: {outcome}")
    if report is None:
        assert outcome in {"invalid", "not adaptable"}  # refused, every problem named
        return
    fields = FIELDS[name]
    if name == "agency":
        body = {
            **body,
            "involverte": [
                p for p in body.get("involverte", []) if p.get("type", "person") == "person"
            ],
        }
    texts = [v for _, v in leaves(msgspec.to_builtins(report)) if isinstance(v, str)]
    for path, value in leaves(body):
        accounted = fields["kept"] | fields["optional"] | fields["read"] | fields["dropped"]
        assert path in accounted, f"{path} is unaccounted for"
        if path in fields["kept"] or (path in fields["optional"] and visible_text(value)):
            assert any(value in text for text in texts), f"{path} lost"
    assert len(report.persons) == persons_expected(name, body)
    if name != "citizen":
        assert len(report.offences) == len(body.get("codes", body.get("forhold", [])))
