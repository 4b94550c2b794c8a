"""A REST market maker's requote, for the demo and the drills: cancel its open orders, then post
``levels`` levels a side around the mark."""

from __future__ import annotations

from decimal import Decimal

import httpx

PERP = "BTC-PERP"
TICK = Decimal("0.5")  # BTC-PERP's tick (config/catalog.toml)


async def requote(
    http: httpx.AsyncClient, key: str, maker: str, mark: Decimal, offset: int, size: str, levels: int = 3
) -> list[httpx.Response]:
    """Quote ``size`` coins at mark -/+ ``offset`` x level USD (on the tick); returns the answers to
    the new orders, in order (bids and asks alternating). ``httpx.HTTPError`` if the venue is away."""
    headers = {"X-API-Key": key}
    held = (await http.get(f"/accounts/{maker}", headers=headers)).json()
    for order in held.get("open_orders", []):
        await http.delete(f"/orders/{order['order_id']}", params={"account": maker}, headers=headers)
    answers = []
    for level in range(1, levels + 1):
        away = Decimal(offset * level)
        for side, price in (("buy", mark - away), ("sell", mark + away)):
            on_tick = (price / TICK).to_integral_value() * TICK
            body = {"account": maker, "symbol": PERP, "side": side, "quantity": size, "price": str(on_tick)}
            answers.append(await http.post("/orders", json=body, headers=headers))
    return answers
