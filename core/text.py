"""Untrusted text made safe to show: control characters become visible escapes."""

from __future__ import annotations

import re

MAX_DISPLAY = 10_000
# Bidi controls and zero-width characters change how neighbouring text looks; show them.
INVISIBLE = {
    "\u200b",
    "\u200c",
    "\u200d",
    "\u2060",
    "\ufeff",
    "\u061c",
    "\u200e",
    "\u200f",
    *map(chr, range(0x202A, 0x202F)),
    *map(chr, range(0x2066, 0x206A)),
}


# Every character acts_on_terminals() names: categories Cc (C0, DEL, C1) and Cs (surrogates).
UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff" + "".join(sorted(INVISIBLE)) + "]")


def visible(text: str, limit: int = MAX_DISPLAY) -> str:
    """Escape C0/C1 controls (ESC, CR, BS, BEL, ...) and invisible formatting characters as
    \\xNN / \\uNNNN; cut overlong text with a marker. Tabs and newlines are escaped too: one
    record is one line."""
    shown = UNSAFE.sub(_escape, text[:limit])
    if len(text) > limit:
        shown += f" …[{len(text) - limit} more characters]"
    return shown


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def acts_on_terminals(char: str) -> bool:
    """A control, lone surrogate or invisible formatting character."""
    return UNSAFE.fullmatch(char) is not None


def storable(text: str) -> str:
    """Text that can be stored as UTF-8: lone surrogates (from file names that are not UTF-8)
    become \\udcNN escapes; everything else is kept as it is."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def printable_path(relative: str) -> str:
    """A path for display: bytes that are not UTF-8 become \\xNN escapes. Not a key: a name
    that spells `\\xff` and a name holding the byte 0xff print alike (see `path_key`)."""
    return relative.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def path_key(relative: str) -> str:
    """A path as a key: one text per byte string and back (injective). A backslash is
    doubled, then bytes that are not UTF-8 become \\xNN, so an escape is never ambiguous."""
    return printable_path(relative.replace("\\", "\\\\"))
