"""What the contracts allow in a text: each rule as a pattern and in the words a problem uses."""

from __future__ import annotations

# C0 controls, DEL and C1 controls. None is ever shown; a CR, LF or ESC in a name or an
# identifier changes how a unit's system prints, splits or matches it.
CONTROLS = r"\x00-\x1f\x7f-\x9f"
# Free text keeps tab and line breaks, CR included: browsers send a text area's lines with
# CRLF (HTML form submission) and Windows systems write them; the intake unifies them to LF.
ACCOUNT_CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
# White space that is not a control character (Python's str.isspace, spelt out so that the
# pattern means the same to Python's `re` and to ECMA-262, which JSON Schema validators use:
# their `\s` differ).
SPACES = r"\x20\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# What a line may not hold besides controls: the line and paragraph separators (U+2028,
# U+2029), a line break to every reader that follows Unicode (UAX #14). Invisible format
# characters (Unicode category Cf: zero-width spaces, direction marks, embeddings) stay:
# they come with text copied from elsewhere, and names are matched without them.
LINE_FORMATS = r"\u2028\u2029"
LINE_SPACES = r"\x20\xa0\u1680\u2000-\u200a\u202f\u205f\u3000"

# Each pattern puts every character in one place only (white space, then one visible
# character, then the rest), so a text that fails is refused in one pass: msgspec applies
# patterns with `re.search`, and a pattern that could try a text several ways (as
# `^[^\x00]*[^\x00\s][^\x00]*$` did) costs the square of its length.
LINE = rf"^[{LINE_SPACES}]*[^{SPACES}{CONTROLS}{LINE_FORMATS}][^{CONTROLS}{LINE_FORMATS}]*$"
ACCOUNT = rf"^[\t\n\r{SPACES}]*[^{SPACES}{CONTROLS}][^{ACCOUNT_CONTROLS}]*$"
NO_CONTROLS = rf"^[^{CONTROLS}{LINE_FORMATS}]*$"
OPTIONAL_ACCOUNT = rf"^[^{ACCOUNT_CONTROLS}]*$"
FOUR_DIGITS = r"^[0-9]{4}$"
ORGANISATION_NUMBER = r"^[0-9 ]{9,11}$"
SOURCE_ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
LOCAL_TIME = r"^[0-9]{2}\.[0-9]{2}\.[0-9]{4} [0-9]{2}:[0-9]{2}$"
LOCAL_DATE = r"^[0-9]{2}\.[0-9]{2}\.[0-9]{4}$"
PARTY_TYPE = r"^(person|virksomhet)$"

_CONTROL_WORDS = "control characters (U+0000-U+001F, U+007F-U+009F)"
_LINE_WORDS = "line or paragraph separators (U+2028, U+2029)"
# A problem says what the text must be, never the pattern: a reader of a 422 should not
# have to read a regular expression.
IN_WORDS = {
    LINE: f"Expected one line of text with a visible character and no {_CONTROL_WORDS}, "
    f"{_LINE_WORDS}: no line break, tab or escape",
    ACCOUNT: f"Expected text with a visible character and no {_CONTROL_WORDS} other than "
    "tab and line breaks (LF, CR)",
    NO_CONTROLS: f"Expected one line of text with no {_CONTROL_WORDS}, {_LINE_WORDS}: no "
    "line break, tab or escape",
    OPTIONAL_ACCOUNT: f"Expected text with no {_CONTROL_WORDS} other than tab and line "
    "breaks (LF, CR)",
    FOUR_DIGITS: "Expected 4 digits",
    ORGANISATION_NUMBER: "Expected an organisasjonsnummer: 9 digits, spaces allowed",
    SOURCE_ID: "Expected 1 to 64 lower case letters, digits, '_', '.' or '-', the first a "
    "letter or digit",
    LOCAL_TIME: "Expected a local time written 'dd.mm.åååå tt:mm'",
    LOCAL_DATE: "Expected a date written 'dd.mm.åååå'",
    PARTY_TYPE: "Expected `person` or `virksomhet`",
}
OTHER_FORM = "Expected text of the form the schema gives"


def in_words(message: str) -> str:
    """msgspec's message for a text that fails its pattern, in words; any other message as
    it is."""
    prefix = "Expected `str` matching regex "
    if not message.startswith(prefix):
        return message
    return next((w for p, w in IN_WORDS.items() if message == prefix + repr(p)), OTHER_FORM)
