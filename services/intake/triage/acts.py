"""A person's act, recorded once: the idempotency key of a disposition, the answer kept with
the act (`person_acts.response`) and replayed to a retry, and reading acts back."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec

from services.intake.triage.model import Refusal

HEADER = "Idempotency-Key"
# A key as a client sends it: visible ASCII, at most 200 characters (a UUID is usual).
_KEY = re.compile(r"[\x21-\x7e]{1,200}")
_json = msgspec.json.Encoder(order="sorted")


@dataclass(frozen=True, slots=True)
class Answer:
    """What a disposition answered: the HTTP status and the JSON body (builtins)."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One disposition request as idempotency sees it: its kind (the route's last word:
    `correct`, `route`, `approve`, ...), the key it is recorded under, and the fingerprint
    of what it asked (kind, report, body) that a retry must repeat."""

    kind: str
    key: str
    fingerprint: str
    # False: no header was sent and the key is the default one (the claim's token, the
    # proposal's or the downgrade's act id), which a refusal must say, not name the header.
    by_header: bool = True


def attempt(
    kind: str, report_id: uuid.UUID, body: Any, header: str | None, default: str
) -> Attempt:
    """The attempt of a request: keyed by the `Idempotency-Key` header when sent, else by
    `default` (`"<kind>:<claim token>"` for a disposition under a claim). A header that is
    not 1 to 200 visible ASCII characters is refused (400, naming the header)."""
    if header is not None and not _KEY.fullmatch(header):
        raise Refusal(
            400,
            "bad-idempotency-key",
            "Idempotency-Key not usable",
            f"the {HEADER} header must be 1 to 200 visible ASCII characters",
            header=HEADER,
        )
    digest = hashlib.sha256(_json.encode([kind, str(report_id), body])).hexdigest()
    if header is None:
        return Attempt(kind, default, digest, by_header=False)
    return Attempt(kind, header, digest)


def kept(answer: Answer, done: Attempt) -> dict[str, Any]:
    """What `person_acts.response` keeps: the answer and the fingerprint of the request."""
    return {
        "status": answer.status,
        "body": answer.body,
        "kind": done.kind,
        "request": done.fingerprint,
    }


def keyed(act: NewAct, done: Attempt, answer: Answer) -> NewAct:
    """The act with the attempt's key and the answer a retry is to get."""
    return msgspec.structs.replace(act, idempotency_key=done.key, response=kept(answer, done))


def replay(response: dict[str, Any], again: Attempt) -> Answer:
    """The first answer to a retry under the same key; 422 naming the header when the key
    was used for another kind of act, another report or another body."""
    if response.get("kind") != again.kind or response.get("request") != again.fingerprint:
        what = "act" if response.get("kind") != again.kind else "report or request body"
        if not again.by_header:
            raise _default_key_reused(again)
        raise Refusal(
            422,
            "idempotency-key-reused",
            "Idempotency-Key used for another request",
            f"this {HEADER} was used by you for another {what}; send a new {HEADER} for a "
            "new request",
            header=HEADER,
        )
    return Answer(int(response["status"]), dict(response["body"]))


# What a default key is made of, by the kind of request (`attempt`'s `default`).
_DEFAULT_KEY = {
    "approve": "the pending proposal's act id",
    "reject": "the pending proposal's act id",
    "reviewed": "the downgrade's act id",
}


def _default_key_reused(again: Attempt) -> Refusal:
    """422 for a request sent without the header whose default key (`<kind>:<claim token>`,
    `<kind>:<proposal>`, `reviewed:<act>`) already answered another body of that kind."""
    of = _DEFAULT_KEY.get(again.kind, "this claim's token")
    return Refusal(
        422,
        "idempotency-key-reused",
        "Request already answered under this key",
        f"without an {HEADER} header a `{again.kind}` request is keyed by {of}, and a "
        f"`{again.kind}` request with another body was already answered under it; to get "
        f"that answer send the same body again, for a new request send an {HEADER} header",
        header=HEADER,
    )


class NewAct(msgspec.Struct, frozen=True, kw_only=True):
    """A `person_acts` row: the act's id, report, kind, the person (subject id and the role
    they acted in), the free-text reason (None when none was given), the details (codes and
    ids only), and the key and answer a retry is answered from (None: not replayable)."""

    id: uuid.UUID
    report_id: uuid.UUID
    kind: str
    actor: str
    actor_role: str
    reason: str | None = None
    details: dict[str, Any] = {}
    idempotency_key: str | None = None
    response: dict[str, Any] | None = None


class ActRow(msgspec.Struct, frozen=True, kw_only=True):
    """A stored act as read back (`acted_at` UTC)."""

    id: uuid.UUID
    report_id: uuid.UUID
    kind: str
    actor: str
    actor_role: str
    acted_at: dt.datetime
    reason: str | None
    details: dict[str, Any]


async def answer_of(conn: asyncpg.Connection, actor: str, key: str) -> dict[str, Any] | None:
    """The response kept with the act `actor` recorded under `key`, None when there is none."""
    text = await conn.fetchval(
        "SELECT response::text FROM person_acts WHERE actor = $1 AND idempotency_key = $2",
        actor,
        key,
    )
    if text is None:
        return None
    found: dict[str, Any] = msgspec.json.decode(text)
    return found


async def act_of(conn: asyncpg.Connection, act_id: uuid.UUID) -> ActRow | None:
    """The act stored under `act_id`, None when there is none."""
    row = await conn.fetchrow(
        "SELECT id, report_id, kind, actor, actor_role, acted_at, reason, details::text"
        " FROM person_acts WHERE id = $1",
        act_id,
    )
    if row is None:
        return None
    return ActRow(
        id=row["id"],
        report_id=row["report_id"],
        kind=row["kind"],
        actor=row["actor"],
        actor_role=row["actor_role"],
        acted_at=row["acted_at"],
        reason=row["reason"],
        details=msgspec.json.decode(row["details"]),
    )
