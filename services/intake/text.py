"""Text as the intake keeps it: Unicode NFC, trimmed, spacing made regular."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def normalise_text(value: str) -> str:
    """NFC, trimmed, inner runs of whitespace made one space."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", value)).strip()


def normalise_account(value: str) -> str:
    """A free-text account: NFC, trimmed, line endings unified, other spacing kept."""
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    return text.strip()
