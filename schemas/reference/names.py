"""The one key every lookup by name uses: the same text in any Unicode form finds the same row."""

from __future__ import annotations

import sys
import unicodedata

# Every format character (Unicode category Cf) of this Python's Unicode database, removed
# by one `str.translate` (a character-by-character test cost more than the rest of a key).
_FORMAT_CHARACTERS: dict[int, None] = dict.fromkeys(
    c for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"
)


def visible_text(text: str) -> str:
    """`text` as one line that shows the same: NFC, invisible and bidirectional control
    characters (Unicode category Cf) removed, runs of white space made one space, trimmed.
    Case is kept; '' when nothing visible is left."""
    if text.isascii():  # no format characters and nothing to compose: the common case
        return " ".join(text.split())
    # Removed before composing: a character between a letter and its accent keeps them apart.
    return " ".join(unicodedata.normalize("NFC", text.translate(_FORMAT_CHARACTERS)).split())


def name_key(text: str) -> str:
    """The lookup key of a name, label, alias or code as people and systems write it.

    NFC, invisible and bidirectional control characters removed (Unicode category Cf: zero
    width space U+200B, joiners, U+200E/U+200F marks, U+202A-U+202E and U+2066-U+2069
    embeddings and isolates, the byte order mark, soft hyphens), case folded, and runs of
    white space (any Unicode space, tabs, line breaks) made one space, trimmed.
    'Ålesund' decomposed (as macOS sends it), 'ÅLESUND' and 'Åle\u200bsund' share one key.
    """
    if text.isascii():  # ASCII case folding is lower case; nothing to compose or remove
        return " ".join(text.lower().split())
    composed = unicodedata.normalize("NFC", text)
    visible = composed.translate(_FORMAT_CHARACTERS)
    # Case folding can decompose (for example U+0130), so compose again after it.
    folded = unicodedata.normalize("NFC", visible.casefold())
    return " ".join(folded.split())
