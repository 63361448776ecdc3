"""Numbers of money as people and Amazon write them: digit groups and the decimal mark.

One grammar for the whole desk. A person's ``/refund … 12,50`` (``bot.parsing``) and a
cell of a Seller Central report (``bot.amazon.cells``) are read by :func:`read_number`;
what each adds around it (currency markers and signs typed in the chat, currency codes and
negative amounts in files) stays with its reader. How Chinese is spoken (``12块5``,
``12元5角``, ``12。5``) is for the chat only (:func:`spoken_to_decimal`): file cells stay
strict.

Pure: no I/O. A number that cannot be read raises :class:`bot.domain.Refusal`.
"""

from __future__ import annotations

import re
from decimal import Decimal

from bot.domain import Refusal
from bot.refusal_codes import RefundCode

__all__ = ["MAX_INTEGER_DIGITS", "read_number", "spoken_to_decimal"]

#: More digits than this before the decimal mark is not an amount anyone means.
MAX_INTEGER_DIGITS = 12


def read_number(number: str, shown: str, *, strict: bool = False) -> Decimal:
    """Digits with ``.``/``,``/space/``'`` separators, US or European style, as a Decimal.

    ``shown`` is what a refusal quotes back. ``strict`` (money about to move): a lone mark
    before exactly three digits is refused as ambiguous instead of read as a thousands
    separator, and more than two decimals are refused with their own reason.
    """
    decimal_mark = ""
    if "." in number and "," in number:
        # Both present: whichever comes last is the decimal mark ("1,234.56", "1.234,56").
        decimal_mark = "." if number.rfind(".") > number.rfind(",") else ","
    elif "." in number or "," in number:
        mark = "." if "." in number else ","
        head, _, fraction = number.rpartition(mark)
        # A lone mark before exactly three digits groups thousands ("1,234", "1.234"): no
        # marketplace currency has three decimals. Repeated marks always group.
        lone_three = len(fraction) == 3 and head.replace(" ", "").replace("'", "").strip("0") != ""
        if strict and lone_three and number.count(mark) == 1 and fraction.isdigit():
            # "12.345" is 12345 to a German and a typo of 12.34 or 12.35 to an American: a
            # guess here once refunded $12,345.00 on an order whose total was unknown.
            raise Refusal(RefundCode.ambiguous_amount, text=shown, thousands=re.sub(r"\D", "", number).lstrip("0"))
        grouping = number.count(mark) > 1 or lone_three
        decimal_mark = "" if grouping else mark

    if decimal_mark:
        integer, _, fraction = number.rpartition(decimal_mark)
        if not re.fullmatch(r"[0-9]{1,2}", fraction):
            if strict and re.fullmatch(r"[0-9]{3,}", fraction):
                raise Refusal(RefundCode.amount_decimals, text=shown)
            raise Refusal(RefundCode.bad_amount, text=shown)
    else:
        integer, fraction = number, ""

    # Whatever separators remain group thousands, and there may be only one kind of them
    # ("1 234,56" in French, "1'234.56" in Swiss, "1.234.567" in German).
    group_marks = set(re.sub(r"[0-9]", "", integer))
    if len(group_marks) > 1:
        raise Refusal(RefundCode.bad_amount, text=shown)
    if group_marks:
        head, *groups = integer.split(group_marks.pop())
        if not re.fullmatch(r"[0-9]{1,3}", head) or not all(len(g) == 3 and g.isdigit() for g in groups):
            raise Refusal(RefundCode.bad_amount, text=shown)
        integer = head + "".join(groups)
    if not integer and not fraction:
        raise Refusal(RefundCode.bad_amount, text=shown)
    # Decimal's default context keeps 28 digits: a 30-digit number would raise
    # InvalidOperation on quantize. No order comes near a trillion in any currency.
    if len(integer.lstrip("0")) > MAX_INTEGER_DIGITS:
        raise Refusal(RefundCode.amount_too_large, text=shown)
    # As written: "39.99" stays 39.99 and "1,234" is 1234, not 1234.0.
    return Decimal(f"{integer or '0'}.{fraction}" if fraction else integer)


# 12块5 (12.5), 12元5角 (12.50), 12块5毛3分 (12.53), 12块50 (12.50), 12刀5 ($12.50): the unit
# word stands where the decimal mark would, the tenths and cents after it.
_SPOKEN_RE = re.compile(
    r"(?P<whole>[0-9]+)(?P<unit>块|塊|元|刀)(?:(?P<tenths>[0-9])(?:角|毛)(?:(?P<cents>[0-9])分)?|(?P<after>[0-9]{1,2}))"
)


def spoken_to_decimal(text: str) -> str:
    """An amount as Chinese is spoken, written with a decimal point: ``12块5`` → ``12.5块``,
    ``12元5角`` → ``12.50元``, ``12。5`` → ``12.5``. Anything else is returned unchanged."""
    text = re.sub(r"(?<=[0-9])[。｡](?=[0-9])", ".", text)
    match = _SPOKEN_RE.fullmatch(text.strip())
    if match is None:
        return text
    if match["after"] is not None:
        after = match["after"]
        fraction = after + "0" if len(after) == 1 else after
    else:
        fraction = match["tenths"] + (match["cents"] or "0")
    return f"{match['whole']}.{fraction}{match['unit']}"
