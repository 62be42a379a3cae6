"""Content codings undone within the size limit (RFC 9110 section 8.4, RFC 7694)."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import pytest
from litestar.plugins.problem_details import ProblemDetailsException

from services.intake.body import ACCEPT_ENCODING, Inflater, coding_of

REAL_INPUTS = Path(__file__).parents[2] / "data" / "real_inputs"
LIMIT = 1_048_576


def inflate(coding: str, data: bytes, limit: int = LIMIT, chunk: int = 7) -> bytes:
    inflater = Inflater(coding, limit)
    for start in range(0, len(data), chunk):
        inflater.feed(data[start : start + chunk])
    return inflater.body()


def refused(coding: str, data: bytes, limit: int = LIMIT) -> ProblemDetailsException:
    with pytest.raises(ProblemDetailsException) as caught:
        inflate(coding, data, limit)
    return caught.value


@pytest.mark.parametrize(
    ("values", "coding"),
    [
        ([], None),
        (["identity"], None),
        (["gzip"], "gzip"),
        ([" GZip "], "gzip"),
        (["x-gzip"], "gzip"),  # RFC 9110 section 8.4.1.3
        (["deflate"], "deflate"),
        (["identity, deflate"], "deflate"),
    ],
)
def test_the_codings_undone(values: list[str], coding: str | None) -> None:
    assert coding_of(values) == coding


@pytest.mark.parametrize(
    "values",
    [["br"], ["compress"], ["zstd"], ["gzip, gzip"], ["gzip", "deflate"], ["gzip, br"]],
)
def test_other_codings_and_lists_are_415_with_accept_encoding(values: list[str]) -> None:
    with pytest.raises(ProblemDetailsException) as caught:
        coding_of(values)
    assert caught.value.status_code == 415
    assert caught.value.headers == {"Accept-Encoding": "gzip, deflate"}
    detail = caught.value.detail
    # What is accepted, never what was sent.
    assert detail.endswith("in one of: gzip, deflate")
    assert "`" not in detail
    several = len(values) > 1 or "," in values[0]
    assert detail.startswith("more than one" if several else "this content coding")
    assert ACCEPT_ENCODING == "gzip, deflate"


def test_the_gzip_example_decodes_to_its_json() -> None:
    sent = (REAL_INPUTS / "gzip.json.gz").read_bytes()
    assert inflate("gzip", sent) == gzip.decompress(sent)
    assert inflate("gzip", sent).startswith(b'{"source": "politiet-nettanmeldelse"')


def test_deflate_is_the_zlib_form_and_gzip_may_have_several_members() -> None:
    text = b'{"a": "' + b"x" * 5000 + b'"}'
    assert inflate("deflate", zlib.compress(text)) == text
    half = len(text) // 2
    assert inflate("gzip", gzip.compress(text[:half]) + gzip.compress(text[half:])) == text


@pytest.mark.parametrize(
    ("coding", "data", "why"),
    [
        ("gzip", b'{"a": 1}', "incorrect header check"),
        ("deflate", zlib.compress(b"{}")[2:-4], "incorrect header check"),  # no RFC 1950 header
        ("gzip", gzip.compress(b'{"a": 1}')[:-6], "the data ends before the end of the stream"),
        ("gzip", b"", "the data ends before the end of the stream"),
        ("deflate", zlib.compress(b"{}") + b"{}", "data after the end of the stream"),
    ],
    ids=["plain json as gzip", "raw deflate", "cut short", "empty", "trailing bytes"],
)
def test_a_body_that_is_not_its_coding_is_400_naming_the_coding(
    coding: str, data: bytes, why: str
) -> None:
    problem = refused(coding, data)
    assert problem.status_code == 400
    assert problem.detail.startswith(f"the Content-Encoding is `{coding}` but the body is not")
    assert problem.detail.endswith(why)


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_a_bomb_is_refused_without_inflating_it(coding: str) -> None:
    # 64 MiB of zeros compress to about 64 KiB: over the limit long before the end.
    zeros = bytes(64 * LIMIT)
    bomb = gzip.compress(zeros, 9) if coding == "gzip" else zlib.compress(zeros, 9)
    assert len(bomb) < LIMIT // 8
    inflater = Inflater(coding, LIMIT)
    with pytest.raises(ProblemDetailsException) as caught:
        inflater.feed(bomb)
    assert caught.value.status_code == 413
    assert caught.value.detail == f"at most {LIMIT} bytes"
    # What was held when it was refused: the limit and one byte, never the 64 MiB.
    assert sum(map(len, inflater._parts)) <= LIMIT


def test_a_body_of_exactly_the_limit_decodes() -> None:
    text = b"[" + b" " * (LIMIT - 2) + b"]"
    assert inflate("gzip", gzip.compress(text), chunk=65536) == text
    assert refused("gzip", gzip.compress(text + b" ")).status_code == 413
