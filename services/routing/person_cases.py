"""People's cases: a `case.decided` message names a decision a person stored; its case goes
to the unit's queue, confirmed, exactly once in effect.

The message is only a trigger: the decision (with who decided, their role and reason) and
the report version it names are read from PostgreSQL, and the case is published with the
deciding act's id as its `message_id`, so every copy of it, however often published, is the
same message. A unit's queue confirming it is recorded (`person_case_deliveries`, once per
decision) before the message is acknowledged; a redelivered message whose case was
recorded is acknowledged without publishing again. A case the broker returns (no queue for
its unit) is not delivered: it waits in `person_waiting_cases`, and `retry_due` publishes it
again 2 s later, doubling with each return, at most 60 s apart, until a queue takes it. A
message that cannot be read, or names no stored decision, is dead-lettered with its reason
and acknowledged. Logs carry ids, units and roles, never a subject id, name or reason.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass

import aio_pika
import asyncpg
import msgspec

from schemas.decision import Decision
from schemas.envelope import CASE_DECIDED_TYPE, CaseDecided
from services.common.logging import get_logger
from services.common.topology import Topology
from services.routing import metrics, person_store
from services.routing.cases import (
    FIRST_WAIT_SECONDS,
    MAX_WAIT_SECONDS,
    CaseWire,
    case_headers,
    publish_case,
    returned,
)
from services.routing.consumer import Outcome
from services.routing.deadletters import to_dead_letters
from services.routing.deliveries import Pending, Refused, redacted, report_id_or_not
from services.routing.person_store import PersonCase

log = get_logger("router")
Message = aio_pika.abc.AbstractIncomingMessage

UNKNOWN_DECISION = "no such decision of a person in the intake's database"
_decided = msgspec.json.Decoder(CaseDecided)
_decision = msgspec.json.Decoder(Decision)
_UNREADABLE = (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError)


def read_decided(body: bytes, message_id: str | None) -> CaseDecided | Refused:
    """The message's `CaseDecided`, or why it must be dead-lettered: a body that is no JSON
    (`undecodable`), one that breaks the contract (`contract`), or a message id that is not
    the decision's (`message_id_mismatch`: the relay sends each under the decision's id)."""
    try:
        decided = _decided.decode(body)
    except _UNREADABLE as exc:
        code = "contract" if isinstance(exc, msgspec.ValidationError) else "undecodable"
        return Refused(code, f"not a {CASE_DECIDED_TYPE} message: {redacted(exc)}")
    if message_id and message_id != str(decided.decision_id):
        return Refused("message_id_mismatch", "message_id differs from the decision id")
    return decided


@dataclass(frozen=True, slots=True)
class Ready:
    """A person's case ready to publish: the stored row and its decision, decoded."""

    case: PersonCase
    decision: Decision

    def wire(self) -> CaseWire:
        """`CaseRouted` as written: the report version as stored, the whole decision."""
        assert self.case.report is not None
        return CaseWire(self.case.report_id, msgspec.Raw(self.case.report.encode()), self.decision)


def ready(decided: CaseDecided, case: PersonCase | None) -> Ready | Refused:
    """The stored case the message names, checked, or why it must be dead-lettered: no such
    decision (`unknown_decision`), a message naming another report than the decision's
    (`report_differs`), or a stored decision that cannot be sent as it is
    (`decision_failed`: unreadable, naming no person or another unit, or its report version
    missing). Pure."""
    if case is None:
        return Refused("unknown_decision", UNKNOWN_DECISION)
    if case.report_id != decided.report_id:
        reason = "the message names another report than the stored decision"
        return Refused("report_differs", reason)
    try:
        decision = _decision.decode(case.decision)
    except _UNREADABLE as exc:
        reason = f"the stored decision does not read as the contract: {redacted(exc)}"
        return Refused("decision_failed", reason)
    if decision.decided_by is None or decision.decided_by.act_id != case.decision_id:
        return Refused("decision_failed", "the stored decision names no person's act of its own")
    if decision.unit != case.unit or decision.report_id != case.report_id:
        reason = "the stored decision's unit or report differs from its row"
        return Refused("decision_failed", reason)
    if case.report is None:
        return Refused("decision_failed", f"report version {case.version} is not stored")
    return Ready(case, decision)


def headers(decision: Decision) -> dict[str, object]:
    """The case's headers: the rules' case headers and the act that sent it (no person)."""
    made = case_headers(decision)
    if decision.decided_by is not None:
        made["x-fsi-act"] = decision.decided_by.act
    return made


@dataclass
class PersonCases:
    """Routes batches of `case.decided` deliveries (`route`, a `consumer.Sequencer`'s route
    callable) and publishes the waiting cases again (`retry_due`), on a confirming channel
    of its own: the consumer's `multiple` acknowledgements are per channel, so the reports'
    consumer and this one never share one."""

    pool: asyncpg.Pool
    topology: Topology
    delivered: int = 0  # people's cases a queue confirmed for the first time, since start
    _channel: aio_pika.abc.AbstractChannel | None = None
    _cases: str = ""
    _dead_letters: aio_pika.abc.AbstractExchange | None = None

    async def bind(self, channel: aio_pika.abc.AbstractChannel) -> None:
        """Consume, publish cases and dead letters on this confirming channel."""
        self._cases = (await channel.get_exchange(self.topology.cases_exchange.name)).name
        self._dead_letters = await channel.get_exchange(self.topology.dead_letter_exchange.name)
        self._channel = channel

    async def route(self, batch: list[Pending]) -> Outcome:
        """Read, load the stored decisions (one statement), publish with confirm, record (one
        statement); the deliveries to acknowledge and those to put back. Raises a database
        or broker error (`deliveries.TRANSIENT`) when the batch must be tried again."""
        read: list[tuple[Message, CaseDecided]] = []
        for message, _ in batch:
            decided = read_decided(message.body, message.message_id)
            if isinstance(decided, Refused):
                await self._dead_letter(message, decided)
            else:
                read.append((message, decided))
        if not read:
            return Outcome()
        stored = await person_store.person_cases(self.pool, [d.decision_id for _, d in read])
        todo: list[tuple[Message, Ready]] = []
        already: list[Message] = []
        for message, decided in read:
            case = ready(decided, stored.get(decided.decision_id))
            if isinstance(case, Refused):
                await self._dead_letter(message, case)
            elif case.case.delivered:
                already.append(message)  # a redelivery: its queue has it, recorded
                log.info(
                    "person's case delivered before; acknowledged without publishing",
                    decision_id=str(decided.decision_id),
                    redelivered=bool(message.redelivered),
                )
            else:
                todo.append((message, case))
        results = await asyncio.gather(*(self._publish(c) for _, c in todo), return_exceptions=True)
        outcomes = list(zip(todo, results, strict=True))
        confirmed = [(m, c) for (m, c), r in outcomes if r is None]
        bounced = [(m, c) for (m, c), r in outcomes if returned(r)]
        recorded = await self._record([c for _, c in confirmed], [c for _, c in bounced])
        return Outcome(
            done=[m for m, _ in confirmed + bounced] + already,
            failed=[(m, r) for (m, _), r in outcomes if r is not None and not returned(r)],
            acknowledged=functools.partial(
                self._count, [c for _, c in confirmed], [c for _, c in bounced], recorded
            ),
        )

    async def retry_due(self, limit: int = 200) -> int:
        """Publish the waiting cases due now, once each (locked: other routers skip them);
        how many were due. Raises a database or broker error when it must be tried again."""
        async with self.pool.acquire() as conn, conn.transaction():
            due = await person_store.due_person_cases(conn, limit)
            cases = [c for c in (self._again(case) for case in due) if c is not None]
            results = await asyncio.gather(
                *(self._publish(c) for c in cases), return_exceptions=True
            )
            outcomes = list(zip(cases, results, strict=True))
            confirmed = [c for c, r in outcomes if r is None]
            bounced = [c for c, r in outcomes if returned(r)]
            # A case neither confirmed nor returned (the channel failed) keeps its time.
            recorded = await self._record(confirmed, bounced, conn)
        self._count(confirmed, bounced, recorded)
        return len(due)

    def _again(self, case: PersonCase) -> Ready | None:
        checked = ready(CaseDecided(case.decision_id, case.report_id), case)
        if isinstance(checked, Refused):  # it was read before it waited: only a bug gets here
            log.error("waiting person's case unreadable", decision_id=str(case.decision_id))
            return None
        return checked

    async def _publish(self, ready_case: Ready) -> None:
        assert self._channel is not None
        channel = await self._channel.get_underlay_channel()
        decision = ready_case.decision
        await publish_case(
            channel,
            self._cases,
            ready_case.wire(),
            headers(decision),
            message_id=str(ready_case.case.decision_id),
        )

    async def _record(
        self,
        confirmed: list[Ready],
        bounced: list[Ready],
        conn: asyncpg.Connection | None = None,
    ) -> person_store.Recorded:
        if not confirmed and not bounced:
            return person_store.Recorded(set(), {})
        return await person_store.record_outcomes(
            conn or self.pool,
            [c.case for c in confirmed],
            [c.case for c in bounced],
            FIRST_WAIT_SECONDS,
            MAX_WAIT_SECONDS,
        )

    def _count(
        self, confirmed: list[Ready], bounced: list[Ready], recorded: person_store.Recorded
    ) -> None:
        """Count and log once the deliveries are acknowledged: a case at its first
        confirmation, a return each time."""
        for c in confirmed:
            if c.case.decision_id not in recorded.new:
                continue
            by = c.decision.decided_by
            act = by.act if by is not None else ""
            metrics.person_cases.labels(c.decision.unit, act).inc()
            self.delivered += 1
            log.info(
                "person's case routed",
                report_id=str(c.case.report_id),
                decision_id=str(c.case.decision_id),
                unit=c.decision.unit,
                act=act,
                role=by.role if by is not None else None,
            )
        for c in bounced:
            metrics.unroutable.labels(c.decision.unit).inc()
            log.warning(
                "person's case returned: no queue for its unit; it waits and is published again",
                report_id=str(c.case.report_id),
                decision_id=str(c.case.decision_id),
                unit=c.decision.unit,
                queue=self.topology.case_queue(c.decision.unit).name,
                returns=recorded.returns.get(c.case.decision_id),
            )

    async def _dead_letter(self, message: Message, refused: Refused) -> None:
        """To the dead-letter queue (confirmed) with the reason, then acknowledged. Nothing
        is recorded for the report: the message is not the report's own."""
        assert self._dead_letters is not None
        queue = self.topology.decisions_queue.name
        await to_dead_letters(self._dead_letters, message, refused.reason, queue)
        await message.ack()
        metrics.dead_letters.labels(refused.code).inc()
        log.warning(
            "person's decision message dead-lettered",
            message_id=report_id_or_not(message.message_id),
            code=refused.code,
        )
