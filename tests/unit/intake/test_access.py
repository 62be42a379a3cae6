"""API clients: keys as hashes, roles and permissions, token-bucket rate limits."""

from __future__ import annotations

import pytest

from services.intake.access import Clients, ClientsFileError, RateLimiter, hash_key

YAML = f"""
clients:
  - id: a
    key_sha256: {hash_key("key-a")}
    sources: [src-a]
    formats: [canonical, citizen]
  - id: ops
    key_sha256: {hash_key("key-ops")}
    roles: [operator]
  - id: wild
    key_sha256: {hash_key("key-wild")}
    sources: ["*"]
    formats: ["*"]
    rate: {{per_second: 5, burst: 1}}
"""


def test_bearer_key_finds_its_client_and_nothing_else() -> None:
    clients = Clients.from_yaml(YAML)
    a = clients.authenticate("Bearer key-a")
    assert a is not None
    assert a.id == "a"
    for header in (None, "", "key-a", "Basic key-a", "Bearer key-b", "Bearer ", "Bearerkey-a"):
        assert clients.authenticate(header) is None
    lower = clients.authenticate("bearer key-a")  # the scheme is case-insensitive
    assert lower is not None
    assert lower.id == "a"


def test_permissions() -> None:
    clients = Clients.from_yaml(YAML)
    a, ops, wild = (clients.authenticate(f"Bearer key-{n}") for n in ("a", "ops", "wild"))
    assert a is not None
    assert ops is not None
    assert wild is not None
    assert a.may_submit("src-a")
    assert not a.may_submit("src-b")
    assert a.may_use_format("citizen")
    assert not a.may_use_format("agency")
    assert ops.is_operator
    assert not ops.may_submit("src-a")
    assert wild.may_submit("anything")
    assert wild.may_use_format("patrol")
    assert not wild.is_operator


def test_the_file_holds_hashes_not_keys() -> None:
    assert "key-a" not in YAML.replace("key_sha256", "")


@pytest.mark.parametrize(
    "text",
    [
        "clients: [{id: x}]",
        "clients: [{id: x, key_sha256: h, colour: red}]",
        ": : :",
        "- just a list",
    ],
)
def test_bad_clients_file_is_refused(text: str) -> None:
    with pytest.raises(ClientsFileError):
        Clients.from_yaml(text)


def test_reused_key_is_refused() -> None:
    with pytest.raises(ClientsFileError, match="reuses"):
        Clients.from_yaml("clients: [{id: x, key_sha256: h}, {id: y, key_sha256: h}]")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_burst_then_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2.0, burst=3, clock=clock)
    (a,) = [c for c in Clients.from_yaml(YAML).by_hash.values() if c.id == "a"]
    assert [limiter.take(a) for _ in range(3)] == [None, None, None]
    wait = limiter.take(a)
    assert wait == pytest.approx(0.5)
    clock.now = 0.5
    assert limiter.take(a) is None
    assert limiter.take(a) is not None


def test_client_override_and_separate_buckets() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=100.0, burst=100, clock=clock)
    by_id = {c.id: c for c in Clients.from_yaml(YAML).by_hash.values()}
    assert limiter.take(by_id["wild"]) is None
    assert limiter.take(by_id["wild"]) == pytest.approx(0.2)
    assert limiter.take(by_id["a"]) is None
