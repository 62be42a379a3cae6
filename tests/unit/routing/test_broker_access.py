"""The broker users and permissions: exact, anchored patterns, one user per part, and the
checked-in definitions (the topology and its users) up to date."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.common.topology import Topology
from services.routing import brokeraccess_cli
from services.routing.brokeraccess import definitions, grants, password_hash, pattern

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "deploy" / "rabbitmq" / "definitions.json"
# The same for FSI_BROKER_QUEUE_TYPE=quorum (a cluster's).
EXAMPLES = {"classic": EXAMPLE, "quorum": EXAMPLE.with_suffix(".quorum.json")}
UNITS = ("oslo.felles-etterforskning", "oslo.vold-naere-relasjoner", "vest.barn-og-unge")
TOPOLOGY = Topology(prefix="fsi.", units=UNITS)


def allows(regex: str, name: str) -> bool:
    # RabbitMQ reads the empty pattern as "nothing", and otherwise searches (re:run) the name.
    return regex != "" and re.search(regex, name) is not None


def names(topology: Topology) -> set[str]:
    return {e.name for e in topology.exchanges} | {q.name for q in topology.queues}


@given(st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=4))
def test_a_pattern_matches_exactly_its_names(given_names: list[str]) -> None:
    regex = pattern(given_names)
    for name in given_names:
        assert allows(regex, name)
        assert not allows(regex, name + "x")
        assert not allows(regex, "x" + name)


def test_a_dot_is_a_dot_and_nothing_is_empty() -> None:
    regex = pattern(["fsi.unit.oslo.x"])
    assert regex == r"^fsi\.unit\.oslo\.x$"
    assert not allows(regex, "fsi-unit.oslo.x")
    assert pattern([]) == ""


def test_each_part_may_use_exactly_what_it_needs() -> None:
    t = TOPOLOGY
    by_user = {g.user: g for g in grants(t)}
    assert len(by_user) == len(grants(t)), "a user name twice"
    intake, router = by_user["fsi.intake"], by_user["fsi.router"]
    assert (intake.configure, intake.write, intake.read) == ((), ("fsi.reports",), ())
    assert router.configure == ()
    assert set(router.write) == {"fsi.cases", "fsi.dead-letter"}
    assert router.read == (
        "fsi.routing.reports",
        "fsi.routing.decisions",
        "fsi.routing.case-events",
    )
    for unit in UNITS:
        grant = by_user[f"fsi.unit.{unit}"]
        assert (grant.configure, grant.write, grant.read) == (
            (),
            ("fsi.case-events",),
            (f"fsi.unit.{unit}",),
        )
    assert set(by_user["fsi.declare"].configure) == names(t)
    assert [g.user for g in grants(t) if g.configure] == ["fsi.declare"]


def test_no_permission_reaches_the_default_or_amq_exchanges_or_another_prefix() -> None:
    other = Topology(prefix="fsi.test.", units=UNITS)
    for entry in definitions(TOPOLOGY, "/")["permissions"]:
        for kind in ("configure", "write", "read"):
            regex = entry[kind]
            for name in ("amq.default", "amq.direct", "amq.topic", "", "amq.gen-1"):
                assert not allows(regex, name), (entry["user"], kind, name)
            for name in names(other):
                assert not allows(regex, name), (entry["user"], kind, name)


def test_each_unit_may_publish_case_events_under_its_own_key_only() -> None:
    made = definitions(TOPOLOGY, "/")["topic_permissions"]
    assert [t["user"] for t in made] == [f"fsi.unit.{u}" for u in UNITS]
    for entry, unit in zip(made, UNITS, strict=True):
        assert (entry["vhost"], entry["exchange"]) == ("/", "fsi.case-events")
        assert allows(entry["write"], unit)
        for other in (*(u for u in UNITS if u != unit), unit + "x", "x" + unit, "#", ""):
            assert not allows(entry["write"], other), (unit, other)
        # A dot is a dot: `oslo.x` must not allow `osloax`.
        assert not allows(entry["write"], unit.replace(".", "a", 1))
        assert entry["read"] == "^$"  # RabbitMQ's own reading of the empty pattern


def test_password_hash_is_rabbitmqs_salted_sha256() -> None:
    stored = base64.b64decode(password_hash("correct horse", b"\x01\x02\x03\x04"))
    assert stored[:4] == b"\x01\x02\x03\x04"
    assert stored[4:] == hashlib.sha256(b"\x01\x02\x03\x04correct horse").digest()
    assert password_hash("same") != password_hash("same")  # a new salt each time


def test_users_without_a_secret_have_no_password_and_unknown_secrets_are_refused() -> None:
    made = definitions(TOPOLOGY, "fsi", {"fsi.intake": "s3cret"})
    hashes = {u["name"]: u["password_hash"] for u in made["users"]}
    assert hashes["fsi.intake"]
    assert not hashes["fsi.router"]
    assert {p["vhost"] for p in made["permissions"]} == {"fsi"}
    with pytest.raises(ValueError, match=r"fsi\.nobody"):
        definitions(TOPOLOGY, "fsi", {"fsi.nobody": "x"})


@pytest.fixture
def default_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FSI_BROKER_URL", "amqp://127.0.0.1:5672/")
    monkeypatch.setenv("FSI_BROKER_PREFIX", "fsi.")
    monkeypatch.setenv("FSI_RULES_UNITS_FILE", str(ROOT / "deploy" / "routing" / "units.yaml"))


@pytest.mark.parametrize("queue_type", list(EXAMPLES))
@pytest.mark.usefixtures("default_settings")
def test_the_checked_in_definitions_are_up_to_date(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, queue_type: str
) -> None:
    monkeypatch.setenv("FSI_BROKER_QUEUE_TYPE", queue_type)
    example = EXAMPLES[queue_type]
    assert brokeraccess_cli.main(["--check", str(example)]) == 0, (
        f"run `FSI_BROKER_QUEUE_TYPE={queue_type} fsi-broker-access --output "
        f"deploy/rabbitmq/{example.name}`"
    )
    stale = tmp_path / "stale.json"
    stale.write_text(example.read_text("utf-8").replace("oslo", "osl0"), "utf-8")
    assert brokeraccess_cli.main(["--check", str(stale)]) == 1
    made = json.loads(example.read_text("utf-8"))
    one_binding_less = {**made, "bindings": made["bindings"][1:]}
    stale.write_text(json.dumps(one_binding_less, indent=2, ensure_ascii=False) + "\n", "utf-8")
    assert brokeraccess_cli.main(["--check", str(stale)]) == 1
    users = {u["name"] for u in made["users"]}
    assert "fsi.unit.oslo.felles-etterforskning" in users
    # 12 districts with 8 sections each, and the national units Kripos and Økokrim.
    units = 12 * 8 + 2
    assert {"fsi.unit.kripos", "fsi.unit.okokrim"} <= users
    assert len(users) == 5 + units
    assert len(made["queues"]) == len(made["bindings"]) == 5 + units
    assert len(made["topic_permissions"]) == units
    kinds = {q["arguments"].get("x-queue-type", "classic") for q in made["queues"]}
    assert kinds == {queue_type}


@pytest.mark.usefixtures("default_settings")
def test_secrets_come_from_files_named_by_the_user(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "fsi.router").write_text("router-secret\n", "utf-8")
    out = tmp_path / "defs.json"
    assert brokeraccess_cli.main(["--secrets", str(secrets), "--output", str(out)]) == 0
    assert out.stat().st_mode & 0o077 == 0  # hashes kept from other users
    stored = {u["name"]: u["password_hash"] for u in json.loads(out.read_text())["users"]}
    raw = base64.b64decode(stored["fsi.router"])
    assert raw[4:] == hashlib.sha256(raw[:4] + b"router-secret").digest()
    (secrets / "fsi.nobody").write_text("x", "utf-8")
    with pytest.raises(SystemExit) as exit_:
        brokeraccess_cli.main(["--secrets", str(secrets)])
    assert exit_.value.code == 2
    assert "fsi.nobody" in capsys.readouterr().err
