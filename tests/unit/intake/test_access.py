"""API clients: keys as hashes, roles and permissions, token-bucket rate limits."""

from __future__ import annotations

from pathlib import Path

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

# Key hashes of the form hash_key writes (64 lower-case hex digits).
H = "0" * 64
G = "1" * 64


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
        "clients: [{id: x, key_sha256: " + H + ", colour: red}]",
        ": : :",
        "- just a list",
    ],
)
def test_bad_clients_file_is_refused(text: str) -> None:
    with pytest.raises(ClientsFileError):
        Clients.from_yaml(text)


def test_reused_key_is_refused() -> None:
    with pytest.raises(ClientsFileError, match="reuses"):
        Clients.from_yaml(
            "clients: [{id: x, key_sha256: " + H + "}, {id: y, key_sha256: " + H + "}]"
        )


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


def test_the_clients_file_is_read_as_written() -> None:
    # YAML 1.1 reads `id: no` as false and a hash of digits with a leading zero as octal
    digits = "0" + "1" * 63
    clients = Clients.from_yaml(
        f"clients:\n  - id: no\n    key_sha256: {digits}\n    sources: [on, 0301]\n"
        "    rate: {per_second: 0.5, burst: 2}\n"
    )
    (client,) = clients.by_hash.values()
    assert (client.id, client.key_sha256, client.sources) == (
        "no",
        digits,
        frozenset({"on", "0301"}),
    )
    assert client.rate is not None
    assert client.rate.per_second == 0.5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "clients:\n  - id: a\n    key_sha256: "
            + H
            + "\n    rate: {per_second: 1:30, burst: 2}\n",
            "f.yaml:4: $.clients[0].rate.per_second: Expected `float`, got `str` (written `1:30`)",
        ),
        (
            "clients:\n  - id: a\n    key_sha256: " + H + "\n    key_sha256: " + G + "\n",
            "f.yaml:4: key `key_sha256` is given twice (lines 3 and 4)",
        ),
        (
            "clients:\n  - &a {id: a, key_sha256: " + H + "}\n  - *a\n",
            "f.yaml:3: aliases are not allowed here",
        ),
    ],
)
def test_a_clients_file_error_names_the_line_and_the_text(text: str, message: str) -> None:
    with pytest.raises(ClientsFileError) as caught:
        Clients.from_yaml(text, "f.yaml")
    assert str(caught.value) == message


def test_a_clients_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "clients.yaml"
    path.write_bytes("clients:\n  - id: kjøring\n".encode("latin-1"))
    with pytest.raises(ClientsFileError, match=r"clients.yaml:2: not UTF-8 text"):
        Clients.from_file(path)
