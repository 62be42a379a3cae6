"""The closure grounds (henleggelse) a person may propose a closure on, each with its legal
basis: read from FSI_TRIAGE_CLOSURE_GROUNDS_FILE (deploy/triage/closure-grounds.yaml)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec

from services.common import yamltext
from services.common.rules.reading import nearest
from services.common.settings import SettingsError
from services.intake.settings import TriageSettings

# The checkout's catalogue: the default of a source checkout. It is the deployment's policy,
# not package data, so an installed package has none and the setting is required there.
CHECKOUT_FILE = Path(__file__).resolve().parents[3] / "deploy" / "triage" / "closure-grounds.yaml"
SETTING = "FSI_TRIAGE_CLOSURE_GROUNDS_FILE"
_CODE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class Names(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A ground's name in Norwegian (bokmål) and English."""

    nb: str
    en: str


class Ground(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One closure ground: its code (`no-offence`), names and legal basis (text)."""

    code: str
    name: Names
    basis: str


class _File(msgspec.Struct, forbid_unknown_fields=True):
    version: Literal[1]
    grounds: list[Ground]


class GroundsFileError(ValueError):
    """A closure grounds file that cannot be used: `file:line: problem`."""


@dataclass(frozen=True, slots=True)
class ClosureGrounds:
    """The grounds in file order, by code."""

    by_code: dict[str, Ground]

    def get(self, code: str) -> Ground | None:
        """The ground of a code; None when the catalogue has none."""
        return self.by_code.get(code)

    @property
    def grounds(self) -> tuple[Ground, ...]:
        return tuple(self.by_code.values())

    def nearest(self, text: str, limit: int = 3) -> list[str]:
        """Up to `limit` codes closest to `text` (a code or a name written another way)."""
        aliases = {n: g.code for g in self.grounds for n in (g.name.nb, g.name.en)}
        return nearest(text, self.by_code, aliases, limit=limit)


def _fail(file: str, line: int | None, problem: str) -> GroundsFileError:
    return GroundsFileError(f"{file}{f':{line}' if line else ''}: {problem}")


def read_grounds(text: str, file: str) -> ClosureGrounds:
    """The grounds of a file's text; `GroundsFileError` naming the file, the line and the
    problem (not YAML, an unknown key, a missing or empty name or basis, a code that is no
    slug or is given twice, no grounds)."""
    try:
        document = yamltext.load(text, file)
        parsed = yamltext.convert(document, _File, file)
    except yamltext.YamlTextError as exc:
        raise GroundsFileError(str(exc)) from None
    # Converted, so the document is a mapping and each ground one too (`Located`, with lines).
    if not parsed.grounds:
        raise _fail(file, document.key_lines.get("grounds"), "no grounds given")
    by_code: dict[str, Ground] = {}
    for spec, ground in zip(document["grounds"], parsed.grounds, strict=True):
        line = spec.key_lines.get("code", spec.line)
        if not _CODE.match(ground.code):
            problem = f"code `{ground.code}` must be lowercase letters and digits joined by `-`"
            raise _fail(file, line, problem)
        if ground.code in by_code:
            raise _fail(file, line, f"code `{ground.code}` is given twice")
        for what, value in (("name.nb", ground.name.nb), ("name.en", ground.name.en)):
            if not value.strip():
                raise _fail(file, line, f"ground {ground.code}: `{what}` is empty")
        if not ground.basis.strip():
            raise _fail(file, line, f"ground {ground.code}: `basis` (the legal basis) is empty")
        by_code[ground.code] = ground
    return ClosureGrounds(by_code)


def grounds_file(settings: TriageSettings) -> Path:
    """The file the settings name, or the checkout's; `SettingsError` when neither is."""
    if settings.closure_grounds_file:
        return Path(settings.closure_grounds_file)
    if CHECKOUT_FILE.is_file():
        return CHECKOUT_FILE
    raise SettingsError(
        f"invalid setting {SETTING}: required; the installed package has no default closure "
        "grounds (deploy/triage/closure-grounds.yaml of the source holds the example)"
    )


def load_grounds(settings: TriageSettings) -> ClosureGrounds:
    """The closure grounds the settings name; `SettingsError` naming the setting, the file
    and the line when the file cannot be read or used."""
    path = grounds_file(settings)
    try:
        return read_grounds(yamltext.read_text(path), str(path))
    except OSError as exc:
        raise SettingsError(
            f"invalid setting {SETTING}: cannot read {path}: {exc.strerror}"
        ) from None
    except (yamltext.YamlTextError, GroundsFileError) as exc:
        raise SettingsError(f"invalid setting {SETTING}: {exc}") from None
