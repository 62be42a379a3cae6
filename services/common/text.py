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


# A value quoted back in a message (a quality issue, a problem) is cut to this many
# characters: a client's 100 000-character code must not come back as a 100 KB answer.
QUOTED_MAX = 80


def quoted(value: str, quote: str = "'") -> str:
    """`value` between `quote`s for a message; past `QUOTED_MAX` characters its start, `…`
    and its full length: `'strl-321xxx…' (100000 characters)`."""
    if len(value) <= QUOTED_MAX:
        return f"{quote}{value}{quote}"
    return f"{quote}{value[:QUOTED_MAX]}…{quote} ({len(value)} characters)"
