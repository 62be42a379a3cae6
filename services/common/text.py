"""Text as the intake keeps it: one-line texts as they show, accounts as they were written."""

from __future__ import annotations

import unicodedata

from schemas.reference import visible_text


def normalise_text(value: str) -> str:
    """A one-line text (a name, label, municipality name, address, code): NFC, invisible
    and direction characters (Unicode category Cf: U+200B, U+00AD, U+200E, ...) removed as
    the name key removes them, runs of white space made one space, trimmed; '' when nothing
    visible is left (the caller then takes the field as not given). Identifiers others match
    on (`external_id`, `source`) are never passed through this."""
    return visible_text(value)


def normalise_account(value: str) -> str:
    """A free-text account: NFC, trimmed, line endings unified, other spacing and every
    character kept (a zero-width joiner there may be part of what was written, such as an
    emoji sequence)."""
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    return text.strip()
