"""Untrusted text is escaped character for character by one rule."""

from __future__ import annotations

import unicodedata

from cronsole.core.text import INVISIBLE, acts_on_terminals, visible


def test_the_escape_rule_is_exactly_controls_surrogates_and_invisible_formatting() -> None:
    for code in range(0x110000):
        char = chr(code)
        expected = char in INVISIBLE or unicodedata.category(char) in ("Cc", "Cs")
        assert acts_on_terminals(char) is expected, hex(code)


def test_visible_escapes_and_cuts_with_a_marker() -> None:
    assert visible("a\x1b[31mb\u202ec\udcff\t\x9b") == "a\\x1b[31mb\\u202ec\\udcff\\x09\\x9b"
    assert visible("фактура №7 [bold]x[/]") == "фактура №7 [bold]x[/]"
    assert visible("x" * 20, 5) == "xxxxx …[15 more characters]"
