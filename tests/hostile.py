"""The hostile-text corpus: what untrusted data may hold, and the check that it stayed inert."""

from __future__ import annotations

import unicodedata

from cronsole.core.text import INVISIBLE

CONTROL = {
    "osc-title": "\x1b]0;owned\x07",
    "osc-clipboard": "\x1b]52;c;cm0gLXJmIH4=\x07",
    "osc-hyperlink": "\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\",
    "csi-clear": "\x1b[2J\x1b[H",
    "dsr": "\x1b[6n",
    "dcs": "\x1bP+q544e\x1b\\",
    "c1": "\x9b31m\x9d0;x\x9c\x90q",
    "cr-bs-bel": "ok\rFAKE\x08\x08\x07",
}
MARKUP = {
    "close-all": "[/]",
    "click": "[@click=app.quit]quit[/]",
    "link": "[link=https://evil.example]y[/link]",
    "style": "[bold red]evil[/]",
}
UNICODE = {
    "bidi": "\u202egnp.exe\u2066x\u2069",
    "zero-width": "a\u200bb\ufeffc\u200d",
}
CORPUS = {**CONTROL, **MARKUP, **UNICODE}
ALL = " ".join(CORPUS.values())  # every entry in one string
HUGE = "A" * 10_000_000  # a 10 MB line
INVALID_UTF8_NAME = b"scan-\xff\xfe-\x1b[31m.pdf"  # a file name that is not UTF-8 at all


def offending(text: str) -> list[str]:
    """Characters that would act on a terminal or hide themselves: must never be shown raw."""
    return sorted(
        {
            f"U+{ord(c):04X}"
            for c in text
            if c in INVISIBLE or (unicodedata.category(c) in ("Cc", "Cs") and c != "\n")
        }
    )


def assert_inert(text: str, where: str = "") -> None:
    bad = offending(text)
    assert not bad, f"{where}: raw {', '.join(bad)} would reach the terminal"
