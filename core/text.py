"""Untrusted text made safe to show: control characters become visible escapes."""

from __future__ import annotations

import unicodedata

MAX_DISPLAY = 10_000
# Bidi controls and zero-width characters change how neighbouring text looks; show them.
INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u061c", "\u200e", "\u200f",
             *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))}


def visible(text: str, limit: int = MAX_DISPLAY) -> str:
    """Escape C0/C1 controls (ESC, CR, BS, BEL, ...) and invisible formatting characters as
    \\xNN / \\uNNNN; cut overlong text with a marker. Tabs and newlines are escaped too: one
    record is one line."""
    cut = len(text) > limit
    out = []
    for char in text[:limit]:
        if char in INVISIBLE or unicodedata.category(char) in ("Cc", "Cs"):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    if cut:
        out.append(f" …[{len(text) - limit} more characters]")
    return "".join(out)
