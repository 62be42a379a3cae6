"""A report file (`fsi-rules explain`, a rule test's `report_file`) is read as the intake
reads a body: a UTF-8 byte order mark is ignored (RFC 8259 section 8.1), a UTF-16 file and
an empty one are named as such, a key given twice is refused (RFC 8259 section 4), with
the byte offsets and lines of the file as it is."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from services.common import jsontext
from services.routing.cli import main

ROOT = Path(__file__).parents[3]
RULES = ROOT / "deploy" / "routing" / "rules.yaml"
EXAMPLE = ROOT / "schemas" / "examples" / "report.youth-robbery.json"
DATA = ROOT / "tests" / "data" / "real_inputs"
BOM = b"\xef\xbb\xbf"
NEWLINE = b"\n"


def run(*args: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def stable(explained: str) -> list[str]:
    """`explain`'s lines but the report id and the decision time, new on every run."""
    return [
        line
        for line in explained.splitlines()
        if not {"report_id", "decided_at"} & set(line.split('"'))
    ]


def cases(tmp_path: Path) -> Path:
    path = tmp_path / "cases.yaml"
    path.write_text(
        "cases:\n  - name: x\n    now: 2026-11-27 12:00\n    report_file: r.json\n"
        "    expect: {unit: vest.barn-og-unge}\n",
        "utf-8",
    )
    return path


def test_a_byte_order_mark_is_ignored_as_the_intake_ignores_it(tmp_path: Path) -> None:
    report = tmp_path / "r.json"
    report.write_bytes(BOM + EXAMPLE.read_bytes())
    code, out, err = run("explain", RULES, report)
    assert (code, err) == (0, "")
    assert stable(out) == stable(run("explain", RULES, EXAMPLE)[1])
    assert '"unit": "vest.barn-og-unge"' in out
    assert run("test", RULES, cases(tmp_path))[:2] == (0, "ok   x\n1 passed, 0 failed\n")


def test_the_intakes_example_with_a_byte_order_mark_is_read() -> None:
    assert DATA.joinpath("bom.json").read_bytes().startswith(BOM)
    code, out, err = run("explain", RULES, DATA / "bom.json")
    assert (code, err) == (0, "")
    assert '"unit":' in out


UNUSABLE = {
    "empty": (b"", "empty: no JSON in it"),
    "white space only": (b" \n\t\n", "empty: no JSON in it"),
    "a byte order mark only": (BOM, "empty: no JSON in it"),
    "UTF-16 LE": (
        "{}".encode("utf-16"),
        "UTF-16 text (it starts with a UTF-16 byte order mark); save it as UTF-8",
    ),
    "UTF-16 BE": (
        b"\xfe\xff\x00{\x00}",
        "UTF-16 text (it starts with a UTF-16 byte order mark); save it as UTF-8",
    ),
    # offsets and lines count the byte order mark: they are the file's own
    "not UTF-8 after a mark": (BOM + b'{"source":\n "\xff"}', "not UTF-8 text (byte 16)"),
    "malformed after a mark": (
        BOM + b'{"source": "s",\n "external_id": }',
        "JSON is malformed: invalid character (byte 35)",
    ),
    "a key given twice": (b'{"source": "a",\n "source": "b"}', "$.source: a key given twice"),
    "a key given twice deeper": (
        b'{"persons": [{"role": "victim"}, {"role": "suspect", "role": "victim"}]}',
        "$.persons[1].role: a key given twice",
    ),
}


@pytest.mark.parametrize(("data", "problem"), UNUSABLE.values(), ids=UNUSABLE.keys())
def test_a_report_file_that_cannot_be_used_is_named(
    tmp_path: Path, data: bytes, problem: str
) -> None:
    report = tmp_path / "r.json"
    report.write_bytes(data)
    line = ""
    if "(byte " in problem:  # the line of that byte in the file
        offset = int(problem.split("(byte ")[1].rstrip(")"))
        line = f":{data.count(NEWLINE, 0, offset) + 1}"
    code, out, err = run("explain", RULES, report)
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {report}{line}: {problem}")
    assert len(err.splitlines()) == 1
    code, out, err = run("test", RULES, cases(tmp_path))
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {report}{line}: {problem}")
    assert err.rstrip().endswith(f"(the report_file of {tmp_path / 'cases.yaml'}:2)")


def test_a_key_given_twice_is_said_before_what_the_contract_refuses() -> None:
    # the intake's order too: a key given twice may hide a field, so it comes first
    with pytest.raises(jsontext.JsonTextError) as caught:
        jsontext.decode(b'{"source": "a", "source": "b"}', dict[str, int])
    assert caught.value.problem.startswith("$.source: a key given twice")
    with pytest.raises(jsontext.JsonTextError) as caught:
        jsontext.decode(b'{"source": "a", "x": }', dict[str, int])
    assert caught.value.problem == "JSON is malformed: invalid character (byte 21)"
    assert jsontext.decode(BOM + b'{"a": 1}', dict[str, int]) == {"a": 1}
