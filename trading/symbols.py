"""What a ticker symbol may be, in one place: import, scanner results, the API and the admin
all ask here, so a path, an SQL fragment or a 34-character name never becomes a symbol."""

import re

# A letter, then up to 11 letters, digits, dots or dashes (BRK.B, BF-B); upper case.
SYMBOL_PATTERN = re.compile(r"[A-Z][A-Z0-9.\-]{0,11}")
MAX_LENGTH = 12


class InvalidSymbol(ValueError):
    """Not a ticker symbol we store."""


def symbol_clean(raw: object) -> str:
    """The symbol as stored (stripped, upper-cased), or InvalidSymbol saying what is wrong."""
    text = str(raw if raw is not None else "").strip().upper()
    if SYMBOL_PATTERN.fullmatch(text):
        return text
    shown = text if len(text) <= 40 else text[:40] + "…"
    raise InvalidSymbol(
        f"{shown!r} is not a ticker symbol (a letter, then up to {MAX_LENGTH - 1} letters, digits, '.' or '-')"
    )


def symbol_is_valid(raw: object) -> bool:
    try:
        symbol_clean(raw)
    except InvalidSymbol:
        return False
    return True
