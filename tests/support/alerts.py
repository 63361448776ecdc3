"""The messages the desk sends into a team's group on its own: alerts and digests."""

from __future__ import annotations

from typing import Any

from tests.support.desk import check_alerts, settled
from tests.support.scenario import Team, plain, sample


def read(message: dict[str, Any]) -> str:
    """A message as a person reads it (an alert's times carry CLDR's narrow no-break spaces)."""
    return plain(message["text"]).replace("\u202f", " ")


def mark(t: Team) -> int:
    """How many messages the bot has sent into the group so far: ``since`` for what follows."""
    return len(t.api.sent(t.group))


def alerts_in(t: Team, *, since: int = 0) -> list[dict[str, Any]]:
    """Messages the bot sent into the group on its own (not replies to someone)."""
    return [m for m in t.api.sent(t.group)[since:] if "reply_to_message" not in m]


async def wait_alerts(t: Team, n: int, *, since: int = 0, timeout: float = 10) -> list[dict[str, Any]]:
    await t.api.wait_for(lambda: len(alerts_in(t, since=since)) >= n, timeout=timeout,
                         what=f"{n} alert message(s) in the group")  # fmt: skip
    return alerts_in(t, since=since)


async def wait_alert(t: Team, head: str, *, since: int = 0, timeout: float = 10) -> dict[str, Any]:
    """The first alert since ``since`` with a line that starts with ``head`` (one check sends one
    message, its kinds each under their heading)."""

    def found() -> dict[str, Any] | None:
        return next((m for m in alerts_in(t, since=since) if any(x.startswith(head) for x in read(m).splitlines())),
                    None)  # fmt: skip

    return await t.api.wait_for(found, timeout=timeout, what=f"an alert starting {head!r}")


async def no_more_alerts(t: Team, since: int) -> None:
    """Nothing is due that was not sent: the check, run once more now, adds nothing to what the
    bot sent into the group on its own since ``since``."""
    await check_alerts(t.app)
    await settled(t.api, t.app)
    extra = alerts_in(t, since=since)
    assert extra == [], [m["text"] for m in extra]


def unshipped_report(*orders: tuple[str, str, str]) -> bytes:
    """An Unshipped Orders report of the sample's first order (USB-MIC-01 ×1) under other ids and
    dates: ``(order id, purchase date, ship-by)``, the dates as the report writes them."""
    lines = sample("unshipped-orders-us.txt").decode("utf-8").splitlines()
    row = lines[1].split("\t")
    out = [lines[0]]
    for n, (order_id, purchased, ship_by) in enumerate(orders):
        cells = list(row)
        cells[0], cells[1] = order_id, f"8100000000000{n}"
        cells[2] = cells[3] = cells[4] = purchased
        cells[5] = ship_by
        out.append("\t".join(cells))
    return ("\n".join(out) + "\n").encode()
