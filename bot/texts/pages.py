"""Long answers, measured and cut the way Telegram reads them.

Telegram counts its limits (4096 for a message, 1024 for a caption) after it parsed the
HTML: tags do not count, ``&amp;`` counts as one character, and characters are counted in
UTF-16 code units (most emoji are two). A cut never falls inside a tag or an entity; a tag
open at a cut is closed at the end of the piece and opened again at the start of the next.

- :func:`measure` — a text's length as Telegram counts it.
- :func:`split` — one text cut into pieces that each fit (at line ends where possible,
  else at a space, else anywhere between two characters).
- :func:`paginate` — lines packed into pages under a heading that names the page.
- :func:`fit` — the first piece of a text, with "…" when something was left out.

Nothing here knows about Telegram's types: the handlers, the outbox and the alerts may all
use it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

#: Telegram's limits, in UTF-16 code units after entity parsing.
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024

_TOKENS = re.compile(r"<[^<>]*>|&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|amp|lt|gt|quot);|.", re.DOTALL)
_TAG = re.compile(r"<\s*(/?)\s*([a-zA-Z0-9-]+)")
_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"'}


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _decoded(entity: str) -> str:
    body = entity[1:-1]
    if body in _NAMED:
        return _NAMED[body]
    try:
        number = int(body[2:], 16) if body[1:2] in "xX" else int(body[1:])
        return chr(number)
    except (ValueError, OverflowError):
        return entity


@dataclass(frozen=True)
class _Token:
    raw: str
    size: int  # UTF-16 units Telegram counts (0 for a tag)
    tag: str = ""  # the tag's name, for a tag
    closing: bool = False


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    for match in _TOKENS.finditer(text):
        raw = match.group(0)
        if raw.startswith("<") and len(raw) > 1:
            name = _TAG.match(raw)
            out.append(_Token(raw, 0, name.group(2).lower() if name else "", bool(name and name.group(1))))
        elif raw.startswith("&") and len(raw) > 1:
            out.append(_Token(raw, _units(_decoded(raw))))
        else:
            out.append(_Token(raw, _units(raw)))
    return out


def _surely_fits(text: str, limit: int) -> bool:
    """Whether ``text`` fits ``limit`` without parsing it: the raw text's UTF-16 units bound
    what Telegram counts (a tag counts nothing, an entity no more than its own characters),
    and no character is more than two units. Most replies are short: they skip the parser."""
    return len(text) * 2 <= limit or _units(text) <= limit


def measure(text: str) -> int:
    """The length of HTML ``text`` as Telegram counts it: tags left out, entities as the
    character they stand for, in UTF-16 code units."""
    return sum(t.size for t in _tokens(text))


def _closing(stack: Sequence[_Token]) -> str:
    return "".join(f"</{t.tag}>" for t in reversed(stack))


def split(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """``text`` cut into pieces that each measure at most ``limit``.

    Cuts fall at a line end where one is in reach (the line end itself is dropped), else
    at a space, else between two characters; never inside a tag or an entity. Tags open at
    a cut are closed before it and opened again after it. A text that fits comes back whole.
    """
    if limit < 2:
        raise ValueError("a limit under 2 cannot hold every character")
    if _surely_fits(text, limit):
        return [text]
    tokens = _tokens(text)
    if sum(t.size for t in tokens) <= limit:
        return [text]
    pieces: list[str] = []
    opened: list[_Token] = []
    i = 0
    while i < len(tokens):
        stack = list(opened)
        length = 0
        j = i
        newline: tuple[int, list[_Token]] | None = None
        space: tuple[int, list[_Token]] | None = None
        while j < len(tokens):
            token = tokens[j]
            if token.tag:
                if token.closing:
                    if stack and stack[-1].tag == token.tag:
                        stack.pop()
                else:
                    stack.append(token)
            else:
                if token.raw == "\n" and j > i:
                    newline = (j, list(stack))
                elif token.raw == " " and j > i:
                    space = (j, list(stack))
                if length + token.size > limit:
                    break
                length += token.size
            j += 1
        if j == len(tokens):
            pieces.append("".join(t.raw for t in opened) + "".join(t.raw for t in tokens[i:]))
            break
        best = newline or space
        if best is not None:
            cut, at_cut = best
            following = cut + 1  # the line end or space at the cut is dropped
        else:
            cut, at_cut = j, stack
            # Tags opened just before the cut go with what they open.
            while cut > i and tokens[cut - 1].tag and not tokens[cut - 1].closing:
                cut -= 1
                at_cut = at_cut[:-1]
            following = cut
        body = "".join(t.raw for t in tokens[i:cut])
        pieces.append("".join(t.raw for t in opened) + body + _closing(at_cut))
        opened = at_cut
        i = following
    return [p for p in pieces if _visible(p)]


def _visible(piece: str) -> bool:
    """Telegram refuses a message that is only white space after parsing."""
    return any(not t.tag and t.raw.strip() for t in _tokens(piece))


def fit(text: str, limit: int = TEXT_LIMIT) -> str:
    """``text`` if it fits, else its first piece ending in "…" (for answers that are not paged)."""
    if _surely_fits(text, limit) or measure(text) <= limit:
        return text
    first = split(text, limit - 2)[0]
    return first + "\n…"


def paginate(lines: Sequence[str], heading: Callable[[int, int], str], limit: int = TEXT_LIMIT, *,
             first: Sequence[str] = ()) -> list[str]:  # fmt: skip
    """``lines`` packed into pages of at most ``limit``, none split unless it alone is too long.

    Each page starts with ``heading(page, pages)`` (1-based) and a line end; the first page
    also carries ``first`` (lines that come before the rest: an order's state, say). Room for
    the heading is kept as if the page numbers had five digits.
    """
    room = limit - measure(heading(99999, 99999)) - 1
    if room < 2:
        raise ValueError("the heading leaves no room for the page")
    parts: list[str] = []
    for line in [*first, *lines]:
        parts.extend(split(line, room) if measure(line) > room else [line])
    groups: list[list[str]] = [[]]
    length = 0
    for part in parts:
        size = measure(part) + (1 if groups[-1] else 0)
        if groups[-1] and length + size > room:
            groups.append([])
            length = 0
            size = measure(part)
        groups[-1].append(part)
        length += size
    pages = len(groups)
    return [heading(n, pages) + "\n" + "\n".join(group) for n, group in enumerate(groups, 1)]
