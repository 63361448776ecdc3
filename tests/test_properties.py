"""No input crashes (issue 8 point 5): random text, random button data and random amounts go
through the parsers, the button codec, the page splitter and the real handlers; nothing raises
past the refusal layer.

The parsers either return or refuse (:class:`bot.domain.Refusal`, :class:`bot.buttons.BadButton`);
the running desk, fed the same kind of input through the fake Bot API, never answers "Sorry…"
and never logs an error. Examples are bounded so the file runs in a few seconds.
"""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bot import buttons as b
from bot.amounts import read_number, spoken_to_decimal
from bot.domain import Refusal
from bot.parsing import (
    is_command_line,
    named_order,
    parse_money,
    parse_order_ref,
    read_amount,
    read_args,
    read_refund,
    resolve_cancel_reason,
    resolve_decision,
    resolve_language,
    resolve_refund_reason,
)
from bot.texts.pages import measure, split
from handlers.files import export_day
from tests.support.desk import settled
from tests.support.fakebotapi import parse_html
from tests.support.scenario import MIC, says

FAST = settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

#: Text people type: any Unicode, with more of the characters the parsers care about.
TYPED = st.one_of(
    st.text(max_size=60),
    st.text(alphabet="0123456789.,'  -+$€¥£元块角分。，、；USDCNYEUR全额部分", max_size=40),
    st.from_regex(r"[0-9]{1,400}([.,][0-9]{0,5})?", fullmatch=True),
    st.from_regex(r"[0-9]{1,5}-[0-9]{1,2}-[0-9]{1,2}", fullmatch=True),
)
#: Button data: anything, and things shaped like this bot's buttons.
DATA = st.one_of(
    st.text(max_size=70),
    st.builds(lambda prefix, rest: f"{prefix}:{rest}", st.sampled_from(sorted(b.BUTTONS)),
              st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789:-_,/+", max_size=60)),
)  # fmt: skip


def refuses_or_returns(call, *args, **kwargs):  # type: ignore[no-untyped-def]
    try:
        return call(*args, **kwargs)
    except Refusal:
        return None


@FAST
@given(TYPED)
def test_the_parsers_return_or_refuse(text: str) -> None:
    for parse in (parse_order_ref, read_amount, parse_money, resolve_cancel_reason, resolve_decision,
                  resolve_refund_reason, export_day_today):  # fmt: skip
        refuses_or_returns(parse, text)
    refuses_or_returns(read_amount, text, strict=True)
    refuses_or_returns(read_refund, read_args(text))
    refuses_or_returns(read_number, spoken_to_decimal(text), text, strict=True)
    named_order(text)
    is_command_line(text)
    resolve_language(text)


def export_day_today(text: str) -> date:
    return export_day(text, date(2026, 11, 21))


@FAST
@given(st.decimals(allow_nan=False, allow_infinity=False), st.sampled_from(["", "$", "€", " USD", "元", "¥"]))
def test_any_amount_is_read_or_refused(amount: Decimal, marker: str) -> None:
    typed = f"{marker}{amount}" if marker in ("$", "€", "¥") else f"{amount}{marker}"
    result = refuses_or_returns(read_amount, typed, strict=True)
    if result is not None:
        assert result.amount > 0 and result.amount == result.amount.quantize(Decimal("0.01"))


@FAST
@given(DATA)
def test_button_data_decodes_or_is_refused(data: str) -> None:
    try:
        button = b.decode(data)
    except b.BadButton:
        return
    # What decodes is exactly what a button of this bot writes.
    assert button.encode() == data


@FAST
@given(st.sampled_from(b.ORDER_VIEWS), st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,39}", fullmatch=True),
       st.integers(0, 99999))  # fmt: skip
def test_an_order_page_button_comes_back_as_written(view: str, order_id: str, page: int) -> None:
    button = b.OrderPage(view, order_id, page)
    assert b.decode(button.encode()) == button


HTML_LINE = st.lists(
    st.one_of(
        st.text(alphabet="ab &<>\"'😀中\n", min_size=1, max_size=12).map(lambda s: s.replace("&", "&amp;")
                                                                         .replace("<", "&lt;").replace(">", "&gt;")),
        st.sampled_from(["&amp;", "&lt;", "&#128512;", "😀😀", "\n", " "]),
        st.tuples(st.sampled_from(["b", "i", "code"]), st.text(alphabet="xy😀 &", min_size=1, max_size=8)).map(
            lambda t: f"<{t[0]}>{t[1].replace('&', '&amp;')}</{t[0]}>"),
    ),
    max_size=60,
).map("".join)  # fmt: skip


@FAST
@given(HTML_LINE, st.integers(2, 80))
def test_split_pieces_fit_and_parse(text: str, limit: int) -> None:
    pieces = split(text, limit)
    for piece in pieces:
        assert measure(piece) <= limit
        parse_html(piece)  # Telegram's parser accepts every piece (raises "can't parse entities" otherwise)
    # Nothing visible is lost: the pieces hold every non-blank character of the text.
    shown = "".join(parse_html(p)[0] for p in pieces)
    assert "".join(shown.split()) == "".join(parse_html(text)[0].split())


def examples(strategy: st.SearchStrategy, count: int) -> list:  # type: ignore[type-arg]
    """``count`` examples drawn by Hypothesis (for a test that drives the running desk)."""
    drawn: list = []  # type: ignore[type-arg]

    @settings(max_examples=count, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(strategy)
    def collect(value: object) -> None:
        drawn.append(value)

    collect()
    return drawn[:count]


COMMANDS = ["/order", "/history", "/export", "/refund 6689831", "/ship 6689831", "/cancel 1122334", "/orders",
            "/alerts", "退款 4445556", "导出", "查询", "发货 7654321", "/lang", "/return 6689831"]  # fmt: skip


async def test_the_desk_never_crashes_on_random_input(team, caplog) -> None:
    t = team
    caplog.set_level(logging.ERROR)
    dm = t.api.private(t.alice)
    texts = examples(st.tuples(st.sampled_from(COMMANDS + [""]), TYPED), 40)
    amounts = examples(st.decimals(allow_nan=False, allow_infinity=False, places=None), 10)
    for n, (command, text) in enumerate(texts):
        line = f"{command} {text}".strip() or f"/order {n}"
        await t.api.send_text(dm, t.alice, line[:4000])
    for amount in amounts:
        await t.api.send_text(dm, t.alice, f"/refund {MIC} {amount}")
    await t.api.send_text(dm, t.alice, "/export 9999-12-31")
    await t.api.send_text(dm, t.alice, "/export 0001-01-01")
    card = (await t.api.ask(dm, t.alice, f"/order {MIC}"))[0]
    for data in examples(DATA, 30):
        if data:
            await t.api.press(dm, t.alice, card, data[:64], forged=True)
    await settled(t.api, t.app)
    sorry = says("en", "Sorry, something went wrong on my side and nothing was changed. Please try again in a moment.")
    said = [m.get("text", "") for m in t.api.sent(dm)]
    alerts = [a.get("text") or "" for a in t.api.answers.values()]
    assert not [s for s in said + alerts if s.startswith(sorry[:40])], "an input crashed a handler"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]


def test_measure_counts_as_telegram_does() -> None:
    # Tags do not count; an entity is the one character it stands for; an emoji is two UTF-16 units.
    assert measure("<b>a&amp;b</b> 😀") == 6
    assert measure("&lt;tag&gt; &#128512; &copy;") == len("<tag> ") + 2 + len(" &copy;")


def test_a_cut_inside_a_tag_closes_and_reopens_it() -> None:
    assert split("<b>aaaa bbbb</b>", 6) == ["<b>aaaa</b>", "<b>bbbb</b>"]
    assert split("<i>x&amp;y&amp;z</i>", 3) == ["<i>x&amp;y</i>", "<i>&amp;z</i>"]
    assert split("line one\nline two", 10) == ["line one", "line two"]
