"""Writes schemas/asyncapi.json; `--check` fails when it is stale or not valid AsyncAPI 3.0.0."""

from __future__ import annotations

import argparse
import json
import sys

from schemas.asyncapi.document import OUT, ROOT, rendered
from schemas.asyncapi.validate import SpecsMissing, problems


def main(argv: list[str] | None = None) -> int:
    """0 when written (or, with `--check`, up to date and valid); 1 when the checked-in file
    differs from what the Structs and the catalogue give, when the document breaks the
    official AsyncAPI 3.0.0 schema, or when @asyncapi/specs is not installed."""
    parser = argparse.ArgumentParser(prog="python -m schemas.asyncapi", description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if stale or invalid")
    args = parser.parse_args(argv)
    text = rendered()
    where = OUT.relative_to(ROOT)
    try:
        found = problems(json.loads(text))
    except SpecsMissing as exc:
        print(f"cannot check the AsyncAPI document: {exc}", file=sys.stderr)
        return 1
    for problem in found:
        print(f"not valid AsyncAPI 3.0.0: {problem}", file=sys.stderr)
    if args.check:
        stale = not OUT.exists() or OUT.read_text("utf-8") != text
        if stale:
            print(f"out of date: {where} (run `python -m schemas.asyncapi`)", file=sys.stderr)
        return 1 if stale or found else 0
    if found:
        return 1
    OUT.write_text(text, "utf-8")
    print(f"wrote {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
