"""Checks an AsyncAPI 3.0.0 document: the official JSON Schema (@asyncapi/specs) and its refs."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
from jsonschema.exceptions import ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT7

from schemas.asyncapi.document import ROOT

# The bundled schema of the pinned npm package (package.json): every definition it refers to,
# bindings included, is embedded under its own `$id`, so nothing is fetched.
SPECS = ROOT / "node_modules" / "@asyncapi" / "specs" / "schemas" / "3.0.0.json"
_ADDRESS_PARAMETER = re.compile(r"\{([^{}]+)\}")


class SpecsMissing(RuntimeError):
    """The @asyncapi/specs package is not installed (`make node-modules`)."""


def validator(specs: Path | None = None) -> jsonschema.Draft7Validator:
    """A draft-07 validator of the official AsyncAPI 3.0.0 schema (`specs`, by default the
    installed package's), its embedded definitions registered by `$id`. Raises
    `SpecsMissing` when the file is not there."""
    specs = specs or SPECS
    if not specs.exists():
        raise SpecsMissing(
            f"{specs.relative_to(ROOT) if specs.is_relative_to(ROOT) else specs} is missing: "
            "run `make node-modules` (npm ci of package-lock.json)"
        )
    schema = json.loads(specs.read_text("utf-8"))
    registry: Registry[Any] = Registry().with_resource(
        schema["$id"], DRAFT7.create_resource(schema)
    )
    return jsonschema.Draft7Validator(schema, registry=registry.crawl())


def _leaves(error: ValidationError) -> Iterator[ValidationError]:
    if not error.context:
        yield error
    for sub in error.context or ():
        yield from _leaves(sub)


def _only_not_a_reference(errors: list[ValidationError]) -> bool:
    return all(e.validator == "required" and e.validator_value == ["$ref"] for e in errors)


def _cause(error: ValidationError) -> ValidationError:
    """What is wrong under a oneOf/anyOf, which names no branch itself: the branch that
    failed least (a node that could also be a `$ref` fails that branch at once: it is
    passed over), and in it the failure deepest in the document."""
    if not error.context:
        return error
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)

    def failed(errors: list[ValidationError]) -> tuple[bool, int, int]:
        leaves = [leaf for e in errors for leaf in _leaves(e)]
        depth = max(len(leaf.absolute_path) for leaf in leaves)
        return _only_not_a_reference(errors), len(leaves), -depth

    closest = min(branches.values(), key=failed)
    return _cause(max(closest, key=lambda e: len(e.absolute_path)))


def _schema_problems(doc: dict[str, Any], check: jsonschema.Draft7Validator) -> Iterator[str]:
    seen: set[str] = set()
    for error in sorted(check.iter_errors(doc), key=lambda e: e.json_path):
        cause = _cause(error)
        text = cause.message
        # A long value is quoted whole in the message: keep its ends, where the verdict is.
        text = text if len(text) <= 300 else f"{text[:140]} … {text[-140:]}"
        line = f"{cause.json_path}: {text}"
        if line not in seen:
            seen.add(line)
            yield line


def _refs(node: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield path, value
            else:
                yield from _refs(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _refs(value, f"{path}[{i}]")


def resolve(doc: Any, ref: str) -> Any:
    """The node a local reference (`#/a/b`) points to; KeyError when there is none."""
    if not ref.startswith("#/"):
        raise KeyError(ref)
    node = doc
    for raw in ref[2:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(ref)
    return node


def _items_dict(node: Any) -> dict[str, Any]:
    return node if isinstance(node, dict) else {}


def _items(node: Any) -> list[tuple[str, dict[str, Any]]]:
    return [(k, v) for k, v in _items_dict(node).items() if isinstance(v, dict)]


def _reference_problems(doc: dict[str, Any]) -> Iterator[str]:
    # Read defensively: the JSON Schema has named any wrong shape already.
    for where, ref in _refs(doc, "$"):
        try:
            resolve(doc, ref)
        except KeyError:
            yield f"{where}: $ref {ref!r} points to nothing in the document"
    for key, op in _items(doc.get("operations")):
        channel = _items_dict(op.get("channel")).get("$ref", "")
        for i, message in enumerate(op.get("messages") or []):
            named = _items_dict(message).get("$ref")
            if not str(named).startswith(f"{channel}/messages/"):
                yield (
                    f"$.operations.{key}.messages[{i}]: an operation's message must be one of "
                    f"its channel's ({channel}/messages/…), not {named!r}"
                )
    for key, channel in _items(doc.get("channels")):
        address = channel.get("address")
        named = set(_ADDRESS_PARAMETER.findall(address if isinstance(address, str) else ""))
        declared = set(_items_dict(channel.get("parameters")))
        for name in sorted(named - declared):
            yield f"$.channels.{key}.address: `{{{name}}}` is not among the channel's parameters"
        for name in sorted(declared - named):
            yield f"$.channels.{key}.parameters.{name}: not in the address"


def problems(doc: dict[str, Any], check: jsonschema.Draft7Validator | None = None) -> list[str]:
    """Every way `doc` is not a valid AsyncAPI 3.0.0 document: the official JSON Schema's
    errors (path and message), then references that point to nothing, operations naming a
    message not of their channel, and address parameters not declared (or declared and not
    used), which the JSON Schema cannot see. Empty when valid. Raises `SpecsMissing`."""
    found = list(_schema_problems(doc, check or validator()))
    return found + list(_reference_problems(doc))
