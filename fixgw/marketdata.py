"""Market data over FIX: MarketDataRequest (V) -> snapshot (W), incremental refresh (X), reject (Y).

A subscription remembers the levels it last sent per symbol (its depth, 0 for the whole book), and
each durable record that moves a subscribed book is answered with one X holding the differences:
MDUpdateAction 0 new, 1 change, 2 delete, so a depth-limited view stays exact when levels move into
or out of it. Trades are sent as new entries of type 2 (MDEntryID = the trade id).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from fixgw import fields as f
from fixgw.reports import price, qty
from fixgw.wire import FixMessage, utc_timestamp
from matching.events import Trade
from matching.instruments import Instrument

BID, OFFER, TRADE = "0", "1", "2"
SUPPORTED_TYPES = frozenset({BID, OFFER, TRADE})
MAX_SYMBOLS = 200
SNAPSHOT_TRADES = 20

Levels = dict[int, tuple[int, int]]  # price ticks -> (lots, orders)


class MdRefused(Exception):
    """MDReqRejReason (281): 0 unknown symbol, 1 duplicate MDReqID, 4 unsupported subscription type,
    5 unsupported market depth, 6 unsupported MDUpdateType, 8 unsupported MDEntryType."""

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(text)
        self.reason = reason
        self.text = text


@dataclass(slots=True)
class Subscription:
    request_id: str
    symbols: tuple[str, ...]
    depth: int  # 0: full book
    types: frozenset[str]
    sent: dict[str, tuple[Levels, Levels]] = field(default_factory=dict)  # symbol -> (bids, asks)


@dataclass(frozen=True, slots=True)
class Request:
    request_id: str
    kind: str  # SubscriptionRequestType: 0 snapshot, 1 subscribe, 2 unsubscribe
    symbols: tuple[str, ...]
    depth: int
    types: frozenset[str]


def parse_request(message: FixMessage, instruments: Mapping[str, Instrument]) -> Request:
    request_id = message.get(f.MD_REQ_ID)
    kind = message.get(f.SUBSCRIPTION_REQUEST_TYPE)
    if kind not in ("0", "1", "2"):
        raise MdRefused("4", "SubscriptionRequestType (263) must be 0, 1 or 2")
    if kind == "2":
        return Request(request_id, kind, (), 0, frozenset())
    depth_raw = message.get(f.MARKET_DEPTH, "0")
    if not depth_raw.isdigit() or len(depth_raw) > 4:
        raise MdRefused("5", "MarketDepth (264) must be 0 (full book) or a number of levels")
    if kind == "1" and message.get(f.MD_UPDATE_TYPE, "1") != "1":
        raise MdRefused("6", "only incremental refresh (MDUpdateType 265=1) is offered")
    types = frozenset(
        entry.get(f.MD_ENTRY_TYPE, "") for entry in message.group(f.NO_MD_ENTRY_TYPES, f.MD_ENTRY_TYPE)
    )
    if not types or not types <= SUPPORTED_TYPES:
        raise MdRefused("8", "MDEntryType (269) must be 0 (bid), 1 (offer) or 2 (trade)")
    symbols = tuple(entry.get(f.SYMBOL, "") for entry in message.group(f.NO_RELATED_SYM, f.SYMBOL))
    if not symbols or len(symbols) > MAX_SYMBOLS:
        raise MdRefused("0", f"NoRelatedSym (146) must name 1 to {MAX_SYMBOLS} symbols")
    unknown = [s for s in symbols if s not in instruments]
    if unknown:
        raise MdRefused("0", f"unknown symbol {unknown[0]!r}")
    return Request(request_id, kind, symbols, int(depth_raw), types)


def level_entries(
    inst: Instrument | None, symbol: str, side: str, levels: list[tuple[int, int, int]]
) -> list[tuple[int, str]]:
    pairs: list[tuple[int, str]] = []
    for position, (ticks, lots, orders) in enumerate(levels, 1):
        pairs += [
            (f.MD_ENTRY_TYPE, side),
            (f.MD_ENTRY_PX, price(inst, ticks)),
            (f.MD_ENTRY_SIZE, qty(inst, lots)),
            (f.NUMBER_OF_ORDERS, str(orders)),
            (f.MD_ENTRY_POSITION_NO, str(position)),
        ]
    return pairs


def trade_entry(
    inst: Instrument | None, trade: Trade, ts_ns: int, *, incremental: bool
) -> list[tuple[int, str]]:
    pairs: list[tuple[int, str]] = []
    if incremental:
        pairs += [(f.MD_UPDATE_ACTION, "0")]
    pairs += [(f.MD_ENTRY_TYPE, TRADE)]
    if incremental:
        pairs += [(f.SYMBOL, trade.symbol)]
    pairs += [
        (278, str(trade.trade_id)),  # MDEntryID
        (f.MD_ENTRY_PX, price(inst, trade.price_ticks)),
        (f.MD_ENTRY_SIZE, qty(inst, trade.qty_lots)),
        (273, utc_timestamp(ts_ns)[9:]),  # MDEntryTime
    ]
    return pairs


def diff(inst: Instrument | None, symbol: str, side: str, old: Levels, new: Levels) -> list[tuple[int, str]]:
    """X entries turning ``old`` into ``new`` (deletes first, then changes and new levels)."""
    pairs: list[tuple[int, str]] = []
    for ticks in sorted(old.keys() - new.keys()):
        pairs += [
            (f.MD_UPDATE_ACTION, "2"),
            (f.MD_ENTRY_TYPE, side),
            (f.SYMBOL, symbol),
            (f.MD_ENTRY_PX, price(inst, ticks)),
        ]
    for ticks, (lots, orders) in sorted(new.items()):
        before = old.get(ticks)
        if before == (lots, orders):
            continue
        pairs += [
            (f.MD_UPDATE_ACTION, "1" if before is not None else "0"),
            (f.MD_ENTRY_TYPE, side),
            (f.SYMBOL, symbol),
            (f.MD_ENTRY_PX, price(inst, ticks)),
            (f.MD_ENTRY_SIZE, qty(inst, lots)),
            (f.NUMBER_OF_ORDERS, str(orders)),
        ]
    return pairs


def as_levels(rows: list[tuple[int, int, int]]) -> Levels:
    return {ticks: (lots, orders) for ticks, lots, orders in rows}
