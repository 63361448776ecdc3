"""``pages.fit`` and ``pages.split`` skip the HTML parser for a text whose raw UTF-16 length
already fits (issue 11 point 4: most replies are short), and a text at or over that bound
still goes the full way: it is measured as Telegram counts it, and cut as before."""

from __future__ import annotations

from typing import Any

import pytest

from bot.texts import pages
from bot.texts.pages import fit, measure, split


@pytest.fixture
def parses(monkeypatch: Any) -> list[str]:
    """The texts the parser was asked to read (it still reads them)."""
    read: list[str] = []
    tokens = pages._tokens

    def spy(text: str) -> Any:
        read.append(text)
        return tokens(text)

    monkeypatch.setattr(pages, "_tokens", spy)
    return read


def test_a_short_reply_is_not_parsed(parses: list[str]) -> None:
    text = "<b>Order 111-2223334-4445556 shipped</b> &amp; told 😀"
    assert fit(text) == text and split(text) == [text]
    assert fit("x" * 20, 20) == "x" * 20 and split("😀" * 10, 20) == ["😀" * 10]  # exactly at the limit
    assert parses == []


def test_at_the_bound_the_parser_decides(parses: list[str]) -> None:
    # 21 raw units with a limit of 20: the tags do not count, so it fits, but only the parser can tell.
    tagged = "<b>" + "x" * 14 + "</b>" + "ab"
    assert measure(tagged) == 16
    assert fit(tagged, 20) == tagged and split(tagged, 20) == [tagged]
    assert parses.count(tagged) == 3  # measured here, then by fit and by split
    # One unit over: cut as before, with "…" from fit.
    assert split("x" * 21, 20) == ["x" * 20, "x"]
    assert fit("aaaa bbbb cccc dddd e", 20) == "aaaa bbbb cccc\n…"  # cut for 18, room for "\n…"
    assert split("😀" * 10 + "a", 20) == ["😀" * 10, "a"]  # an emoji is two units
    # Entities count as one character: 21 "&amp;" measure 21, over the limit though raw they are 105.
    assert split("&amp;" * 21, 20) == ["&amp;" * 20, "&amp;"]
