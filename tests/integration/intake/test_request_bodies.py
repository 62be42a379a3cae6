"""Bodies real clients send: a byte order mark, a gzip or deflate coding, a key given twice."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from services.intake.access import hash_key
from tests.integration.conftest import unique
from tests.support.clients import CLIENTS_YAML

ROOT = Path(__file__).parents[3]
REAL_INPUTS = ROOT / "tests" / "data" / "real_inputs"
EXAMPLES = ROOT / "schemas" / "examples"
BOM = b"\xef\xbb\xbf"
FORM_KEY = "form-key-" + "f" * 32
REPEATED = "Object key given more than once (RFC 7493 section 2.3): send each key once"


@pytest.fixture
def clients_file(tmp_path: Path) -> Path:
    """The suite's clients, and the online form's, which sends the real inputs' source."""
    path = tmp_path / "clients.yaml"
    path.write_text(
        CLIENTS_YAML
        + f"""  - id: form
    key_sha256: {hash_key(FORM_KEY)}
    sources: [politiet-nettanmeldelse, nettanmeldelse]
    formats: [canonical, citizen]
""",
        "utf-8",
    )
    return path


def headers(**extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {FORM_KEY}", "Content-Type": "application/json", **extra}


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def renamed(body: bytes, external_id: str) -> bytes:
    """The same bytes with another external id (each test posts its own report)."""
    text = body.decode("utf-8")
    start = text.index('"external_id": "') + len('"external_id": "')
    end = text.index('"', start)
    return (text[:start] + external_id + text[end:]).encode("utf-8")


def citizen() -> bytes:
    form = json.loads((EXAMPLES / "sources" / "citizen.json").read_text("utf-8"))
    form["referanse"] = unique("form")
    return json.dumps(form, ensure_ascii=False).encode()


# --- a UTF-8 byte order mark ------------------------------------------------------------------


async def test_the_example_with_a_byte_order_mark_is_accepted(
    intake: AsyncTestClient[Any],
) -> None:
    sent = renamed((REAL_INPUTS / "bom.json").read_bytes(), unique("bom"))
    assert sent.startswith(BOM)
    accepted = await intake.post("/v1/reports", content=sent, headers=headers())
    assert accepted.status_code == 202, accepted.text
    # The same report without the mark is the same report: a repeat, not a conflict.
    again = await intake.post("/v1/reports", content=sent[3:], headers=headers())
    assert again.status_code == 200, again.text
    assert again.json()["report_id"] == accepted.json()["report_id"]


async def test_a_byte_order_mark_is_ignored_by_source_formats_and_batches(
    intake: AsyncTestClient[Any],
) -> None:
    form = await intake.post(
        "/v1/sources/citizen/reports", content=BOM + citizen(), headers=headers()
    )
    report = renamed((REAL_INPUTS / "bom.json").read_bytes()[3:], unique("bom"))
    batch = await intake.post(
        "/v1/reports/batch", content=BOM + b'{"reports": [' + report + b"]}", headers=headers()
    )
    assert form.status_code == 202, form.text
    assert batch.status_code == 200, batch.text
    assert batch.json()["summary"] == {"accepted": 1}


async def test_a_utf16_body_is_named_as_such(intake: AsyncTestClient[Any]) -> None:
    sent = (REAL_INPUTS / "bom.json").read_bytes()[3:].decode("utf-8").encode("utf-16")
    response = await intake.post("/v1/reports", content=sent, headers=headers())
    assert problem(response, 400)["detail"] == (
        "the body is UTF-16 (it starts with a UTF-16 byte order mark); send UTF-8"
    )


# --- content codings ------------------------------------------------------------------------


async def test_the_gzip_example_is_accepted(intake: AsyncTestClient[Any]) -> None:
    plain = renamed(gzip.decompress((REAL_INPUTS / "gzip.json.gz").read_bytes()), unique("gz"))
    response = await intake.post(
        "/v1/reports",
        content=gzip.compress(plain),
        headers=headers(**{"Content-Encoding": "gzip"}),
    )
    assert response.status_code == 202, response.text
    stored = (await intake.get(response.headers["location"], headers=headers())).json()
    sent = json.loads(plain)
    assert stored["report"]["incident"]["description"] == sent["incident"]["description"]


@pytest.mark.parametrize(
    ("coding", "compress"),
    [("deflate", zlib.compress), ("x-gzip", gzip.compress), ("GZIP", gzip.compress)],
)
async def test_deflate_and_the_other_spellings_of_gzip_are_decoded_on_every_route(
    intake: AsyncTestClient[Any], coding: str, compress: Callable[[bytes], bytes]
) -> None:
    coded = headers(**{"Content-Encoding": coding})
    report = renamed(gzip.decompress((REAL_INPUTS / "gzip.json.gz").read_bytes()), unique("z"))
    batch = b'{"reports": [' + renamed(report, unique("z")) + b"]}"
    single = await intake.post("/v1/reports", content=compress(report), headers=coded)
    many = await intake.post("/v1/reports/batch", content=compress(batch), headers=coded)
    form = await intake.post(
        "/v1/sources/citizen/reports", content=compress(citizen()), headers=coded
    )
    assert [single.status_code, many.status_code, form.status_code] == [202, 200, 202]
    assert many.json()["summary"] == {"accepted": 1}


async def test_a_plain_body_labelled_gzip_is_400_naming_the_coding(
    intake: AsyncTestClient[Any],
) -> None:
    plain = gzip.decompress((REAL_INPUTS / "gzip.json.gz").read_bytes())
    for url in ("/v1/reports", "/v1/reports/batch", "/v1/sources/citizen/reports"):
        response = await intake.post(
            url, content=plain, headers=headers(**{"Content-Encoding": "gzip"})
        )
        assert problem(response, 400)["detail"] == (
            "the Content-Encoding is `gzip` but the body is not gzip data (RFC 1952): "
            "incorrect header check"
        )


@pytest.mark.parametrize("coding", ["br", "compress", "gzip, gzip", "zstd"])
async def test_other_codings_are_415_with_accept_encoding(
    intake: AsyncTestClient[Any], coding: str
) -> None:
    body = gzip.compress(b"{}")
    for url in ("/v1/reports", "/v1/reports/batch", "/v1/sources/citizen/reports"):
        response = await intake.post(
            url, content=body, headers=headers(**{"Content-Encoding": coding})
        )
        detail = problem(response, 415)["detail"]
        # What is accepted, never what was sent (a header is the client's text).
        assert detail.endswith("in one of: gzip, deflate")
        assert f"`{coding}`" not in detail
        assert coding not in detail.removesuffix("gzip, deflate")
        assert response.headers["accept-encoding"] == "gzip, deflate"


async def test_a_gzip_bomb_is_413_by_its_decoded_size(intake: AsyncTestClient[Any]) -> None:
    # 1 MiB is the single report's limit; 48 MiB of spaces inside a JSON string compress to
    # about 48 KiB, so the body as sent is small and only its decoded size is over.
    bomb = gzip.compress(b'{"a": "' + b" " * (48 * 1_048_576) + b'"}', 9)
    assert len(bomb) < 100_000
    coded = headers(**{"Content-Encoding": "gzip"})
    single = await intake.post("/v1/reports", content=bomb, headers=coded)
    form = await intake.post("/v1/sources/citizen/reports", content=bomb, headers=coded)
    assert problem(single, 413)["detail"] == "at most 1048576 bytes"
    assert problem(form, 413)["detail"] == "at most 1048576 bytes"


# --- keys given twice -------------------------------------------------------------------------


async def test_the_example_with_a_key_given_twice_is_422_naming_its_path(
    intake: AsyncTestClient[Any],
) -> None:
    sent = renamed((REAL_INPUTS / "dupkeys.json").read_bytes(), unique("dup"))
    response = await intake.post("/v1/reports", content=sent, headers=headers())
    assert problem(response, 422)["errors"] == [{"path": "$.source", "message": REPEATED}]


async def test_keys_given_twice_in_a_source_format_and_in_batch_items(
    intake: AsyncTestClient[Any],
) -> None:
    form = citizen().replace(b'"kategori": ', b'"kategori": "Innbrudd", "kategori": ', 1)
    in_form = await intake.post("/v1/sources/citizen/reports", content=form, headers=headers())
    good = renamed((REAL_INPUTS / "bom.json").read_bytes()[3:], unique("ok"))
    twice = good.replace(b'"incident": {', b'"incident": {"Kari": 1, "Kari": 2, ', 1)
    batch = await intake.post(
        "/v1/reports/batch",
        content=b'{"reports": [' + twice + b", " + renamed(good, unique("ok")) + b"]}",
        headers=headers(),
    )
    batch_twice = await intake.post(
        "/v1/reports/batch", content=b'{"reports": [], "reports": []}', headers=headers()
    )
    assert problem(in_form, 422)["errors"] == [{"path": "$.kategori", "message": REPEATED}]
    results = batch.json()["results"]
    assert [r["outcome"] for r in results] == ["invalid", "accepted"]
    # A key that is not a field of ours may be anything, a name too: it is not echoed.
    assert results[0]["problems"] == [{"path": "$.incident.…", "message": REPEATED}]
    assert "Kari" not in batch.text
    assert problem(batch_twice, 422)["errors"] == [{"path": "$.reports", "message": REPEATED}]
