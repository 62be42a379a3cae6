"""The prosecutors' use cases over a store in memory: four eyes on proposals and downgrades,
a rejection's reason, a proposal decided once, a retry answered from the first act."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from services.intake.people import Person, PersonRole
from services.intake.triage import approvals
from services.intake.triage.acts import ActRow, NewAct
from services.intake.triage.disposition_model import Decide
from services.intake.triage.dispositions import Context
from services.intake.triage.model import ItemRow, Refusal
from services.intake.triage.worklist import visible

NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
PIA = Person("pia", frozenset({PersonRole.PROSECUTOR}), frozenset({"oslo"}))
PAAL = Person("paal", frozenset({PersonRole.PROSECUTOR}), frozenset({"oslo"}))
VERA = Person("vera", frozenset({PersonRole.PROSECUTOR}), frozenset({"vest"}))


class MemoryTx:
    """The parts of `DispositionTx` approvals use, over the store's dicts."""

    def __init__(self, store: MemoryStore) -> None:
        self.s = store

    async def lock_item(self, report_id: uuid.UUID, person: Person) -> ItemRow:
        return visible(self.s.items.get(report_id), report_id, person)

    async def answer_of(self, actor: str, key: str) -> dict[str, Any] | None:
        found = [
            a.response for a in self.s.acts.values() if (a.actor, a.idempotency_key) == (actor, key)
        ]
        return found[0] if found else None

    async def act(self, act_id: uuid.UUID) -> ActRow | None:
        a = self.s.acts.get(act_id)
        if a is None:
            return None
        return ActRow(
            id=a.id,
            report_id=a.report_id,
            kind=a.kind,
            actor=a.actor,
            actor_role=a.actor_role,
            acted_at=NOW,
            reason=a.reason,
            details=a.details,
        )

    async def latest_proposal(self, report_id: uuid.UUID) -> uuid.UUID | None:
        found = [
            a.id
            for a in self.s.acts.values()
            if a.kind == "closure_proposed" and a.report_id == report_id
        ]
        return found[-1] if found else None

    async def review_of(self, act_id: uuid.UUID) -> ActRow | None:
        for a in self.s.acts.values():
            if a.kind == "downgrade_reviewed" and a.details.get("act") == str(act_id):
                return await self.act(a.id)
        return None

    async def record(self, act: NewAct) -> None:
        self.s.acts[act.id] = act

    async def update_item(self, report_id: uuid.UUID, changes: dict[str, Any]) -> None:
        row = self.s.items[report_id]
        self.s.items[report_id] = ItemRow(
            **{**{f: getattr(row, f) for f in row.__struct_fields__}, **changes}
        )


class MemoryStore:
    """Work items and acts in dicts; a transaction that raises leaves them as they were."""

    def __init__(self) -> None:
        self.items: dict[uuid.UUID, ItemRow] = {}
        self.acts: dict[uuid.UUID, NewAct] = {}

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[MemoryTx]:
        saved = copy.deepcopy((self.items, self.acts))
        try:
            yield MemoryTx(self)
        except BaseException:
            self.items, self.acts = saved
            raise


def proposed(store: MemoryStore, by: Person, district: str = "oslo") -> uuid.UUID:
    report_id, act_id = uuid.uuid4(), uuid.uuid4()
    store.acts[act_id] = NewAct(
        id=act_id,
        report_id=report_id,
        kind="closure_proposed",
        actor=by.subject,
        actor_role=by.acting_role,
        reason="r",
        details={"ground": "no-offence"},
    )
    store.items[report_id] = ItemRow(
        report_id=report_id,
        district=district,
        source="s",
        reason="rule",
        detail=None,
        priority="normal",
        priority_rank=1,
        deadline_at=None,
        received_at=NOW,
        waiting_since=NOW,
        version=1,
        state="proposed",
        pending_act=act_id,
    )
    return report_id


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


def ctx(store: MemoryStore) -> Context:
    return Context(store=store, rules=None, grounds=None, clock=lambda: NOW)  # type: ignore[arg-type]


async def decide(
    store: MemoryStore, who: Person, report_id: uuid.UUID, approve: bool, **body: Any
) -> Any:
    return await approvals.decide_proposal(
        ctx(store), who, report_id, approve, Decide(**body), body, None
    )


async def test_the_proposer_may_not_approve_and_another_prosecutor_may(store: MemoryStore) -> None:
    report_id = proposed(store, PIA)
    with pytest.raises(Refusal) as own:
        await decide(store, PIA, report_id, True)
    assert (own.value.status, own.value.slug) == (403, "four-eyes")
    assert store.items[report_id].state == "proposed"
    answer = await decide(store, PAAL, report_id, True)
    assert (answer.status, answer.body["outcome"]) == (200, "closed")
    assert (store.items[report_id].state, store.items[report_id].outcome) == ("done", "closed")


async def test_a_retry_gets_the_first_answer_and_a_second_approval_finds_none(
    store: MemoryStore,
) -> None:
    report_id = proposed(store, PIA)
    first = await decide(store, PAAL, report_id, True)
    again = await decide(store, PAAL, report_id, True)
    assert again == first
    with pytest.raises(Refusal) as late:
        await decide(
            store,
            Person("nina", frozenset({PersonRole.PROSECUTOR}), national=True),
            report_id,
            True,
        )
    assert (late.value.status, late.value.slug) == (409, "not-proposed")
    assert sum(a.kind == "closure_approved" for a in store.acts.values()) == 1


async def test_a_rejection_needs_a_reason_and_sends_it_back(store: MemoryStore) -> None:
    report_id = proposed(store, PIA)
    with pytest.raises(Refusal) as bare:
        await decide(store, PAAL, report_id, False)
    assert bare.value.slug == "reason-required"
    await decide(store, PAAL, report_id, False, reason="Mer etterforskning trengs.")
    item = store.items[report_id]
    assert (item.state, item.reason, item.detail, item.pending_act) == (
        "waiting",
        "closure_rejected",
        "no-offence",
        None,
    )


async def test_another_districts_prosecutor_is_refused(store: MemoryStore) -> None:
    report_id = proposed(store, PIA)
    with pytest.raises(Refusal) as refused:
        await decide(store, VERA, report_id, True)
    assert (refused.value.status, refused.value.slug) == (403, "other-district")


async def test_a_downgrade_is_reviewed_once_and_not_by_its_author(store: MemoryStore) -> None:
    report_id = proposed(store, PIA)
    act_id = uuid.uuid4()
    store.acts[act_id] = NewAct(
        id=act_id,
        report_id=report_id,
        kind="routed",
        actor="pia",
        actor_role="prosecutor",
        details={"downgrade": True},
    )
    review = Decide()
    with pytest.raises(Refusal) as own:
        await approvals.mark_reviewed(ctx(store), PIA, act_id, review, {}, None)
    assert own.value.status == 403
    done = await approvals.mark_reviewed(ctx(store), PAAL, act_id, review, {}, None)
    assert done.body["reviewed"] == str(act_id)
    with pytest.raises(Refusal) as twice:
        await approvals.mark_reviewed(
            ctx(store),
            Person("nina", frozenset({PersonRole.PROSECUTOR}), national=True),
            act_id,
            review,
            {},
            None,
        )
    assert (twice.value.status, twice.value.extra["reviewed_by"]) == (409, "paal")
    plain = uuid.uuid4()
    store.acts[plain] = NewAct(
        id=plain,
        report_id=report_id,
        kind="routed",
        actor="x",
        actor_role="assessor",
        details={"downgrade": False},
    )
    with pytest.raises(Refusal) as none:
        await approvals.mark_reviewed(ctx(store), PAAL, plain, review, {}, None)
    assert none.value.status == 404
