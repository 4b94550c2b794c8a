"""RFQ messages of FIX 4.4 <-> RFQ commands and events. Pure translation: no state, no I/O.

Inbound: QuoteRequest (R) -> RfqCreate, Quote (S) -> RfqQuote, QuoteCancel (Z) -> RfqQuoteCancel,
QuoteResponse (AJ) and NewOrderSingle (D, OrdType D) -> RfqAccept / RfqCancel. A request that cannot
become a command raises ``rfq.requests.RequestError`` with a ``matching.reasons`` code.
Outbound: QuoteRequest to makers, Quote to takers, QuoteCancel, QuoteStatusReport (AI),
QuoteRequestReject (AG) and block-trade ExecutionReports, as tag/value pairs for ``outbound.build``.

Units on the wire: leg prices USD per coin, package prices (BidPx/OfferPx, Price on an accept,
Min/MaxPackagePrice) USD for the whole package, quantities coins. The field layout is documented in
``fixgw/quoting.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

from fixgw import fields as f
from fixgw.outbound import Pairs, clean, money
from fixgw.reports import fill_details, price, qty, rejection
from fixgw.wire import FieldError, FixMessage, decimal_field, parse_utc_timestamp, utc_timestamp
from matching.commands import RfqAccept, RfqCreate, RfqQuote, RfqQuoteCancel
from matching.events import BlockTrade, QuoteView, RfqOpened
from matching.instruments import Instrument
from matching.reasons import Reason
from rfq.requests import LegIn, RequestError, build_quote, build_rfq, usd_to_micro

MAX_ID_LENGTH = 64
LIQUIDITY_PROVIDER = "35"  # PartyRole of a maker named on a QuoteRequest
BLOCK_TRADE = "1"  # TrdType
FOK = "4"

# QuoteStatus (297) as the venue uses it
QS_ACCEPTED, QS_REMOVED, QS_EXPIRED, QS_REJECTED, QS_NOT_FOUND, QS_PENDING = "0", "6", "7", "5", "9", "10"
QS_CANCELED, QS_TRADED = "17", "22"  # values of later FIX versions, declared in config/FIX44.xml

# QuoteRequestRejectReason (658): 1 unknown symbol, 2 exchange closed, 3 exceeds limit, 5 invalid
# price, 6 not authorised, 8 no market for the instrument, 99 other
_AG_REASONS: dict[int, str] = {
    Reason.UNKNOWN_INSTRUMENT: "1",
    Reason.INSTRUMENT_NOT_ACTIVE: "1",
    Reason.VENUE_HALTED: "2",
    Reason.INSTRUMENT_HALTED: "2",
    Reason.RFQ_TOO_MANY_LEGS: "3",
    Reason.QTY_ABOVE_MAX: "3",
    Reason.QTY_BELOW_MIN: "3",
    Reason.INVALID_QTY_LOT: "3",
    Reason.PRICE_BAND: "5",
    Reason.INVALID_PRICE: "5",
    Reason.INVALID_PRICE_TICK: "5",
    Reason.UNKNOWN_ACCOUNT: "6",
    Reason.RFQ_NOT_PERMITTED: "6",
    Reason.NO_MARK: "8",
}


def reject_reason(reason: int) -> str:
    return _AG_REASONS.get(reason, "99")


def _id(message: FixMessage, tag: int, *, required: bool = True) -> str:
    value = message.get(tag)
    if required and not value:
        raise RequestError(Reason.RFQ_INVALID, f"tag {tag} is required")
    if len(value) > MAX_ID_LENGTH:
        raise RequestError(Reason.RFQ_INVALID, f"tag {tag} longer than {MAX_ID_LENGTH} characters")
    return value


def _int_id(raw: str, tag: int) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise RequestError(Reason.RFQ_NOT_FOUND, f"tag {tag}: {raw!r} is not a venue id")
    return int(raw)


def _decimal(message: FixMessage | dict[int, str], tag: int, *, required: bool = False) -> Decimal | None:
    if isinstance(message, dict):
        message = FixMessage("", message, ())
    try:
        return decimal_field(message, tag, required=required)
    except FieldError as exc:
        raise RequestError(Reason.RFQ_INVALID, str(exc)) from None


def _side(code: str, tag: int, *, two_way: bool = False) -> int:
    if two_way and code == "":
        return 0
    side = f.SIDES.get(code)
    if side is None:
        raise RequestError(Reason.RFQ_INVALID, f"tag {tag}: side must be 1 (buy) or 2 (sell)")
    return side


def _deadline_ns(message: FixMessage, tag: int, now_ns: int) -> int | None:
    """Nanoseconds from now until the UTCTimestamp in ``tag``; None when absent."""
    raw = message.get(tag)
    if not raw:
        return None
    moment = parse_utc_timestamp(raw)
    if moment is None:
        raise RequestError(Reason.RFQ_INVALID, f"tag {tag}: {raw!r} is not a UTCTimestamp")
    if moment <= now_ns:
        raise RequestError(Reason.RFQ_INVALID_WINDOW, f"tag {tag}: {raw} is in the past")
    return moment - now_ns


# -- inbound -------------------------------------------------------------------------------------------


def quote_request(
    message: FixMessage,
    account: str,
    instruments: Mapping[str, Instrument],
    defaults: tuple[int, int],
    now_ns: int,
) -> RfqCreate:
    """A taker's QuoteRequest: one NoRelatedSym entry, the package (see ``fixgw/quoting.py``)."""
    client_rfq_id = _id(message, f.QUOTE_REQ_ID)
    if message.get(f.NO_RELATED_SYM) != "1":
        raise RequestError(Reason.RFQ_INVALID, "one NoRelatedSym (146) entry, the package, per request")
    size = _decimal(message, f.ORDER_QTY, required=True)
    assert size is not None
    side = _side(message.get(f.SIDE), f.SIDE, two_way=True)
    legs: list[LegIn] = []
    hedge: LegIn | None = None
    hedge_qty = hedge_price = None
    for entry in message.group(f.NO_LEGS, f.LEG_SYMBOL):
        symbol = entry[f.LEG_SYMBOL]
        leg_side = _side(entry.get(f.LEG_SIDE, "1"), f.LEG_SIDE)
        if f.LEG_QTY in entry:  # a leg with its own quantity is the hedge, traded at the taker's price
            if hedge is not None:
                raise RequestError(Reason.RFQ_INVALID, "at most one hedge leg (a leg with LegQty 687)")
            hedge = LegIn(symbol, leg_side)
            hedge_qty = _decimal(entry, f.LEG_QTY)
            hedge_price = _decimal(entry, f.LEG_PRICE)
            continue
        ratio = _decimal(entry, f.LEG_RATIO_QTY) or Decimal(1)
        if ratio <= 0:
            raise RequestError(Reason.RFQ_INVALID, f"{symbol}: LegRatioQty must be positive")
        legs.append(LegIn(symbol, leg_side, ratio))
    if not legs:
        legs = [LegIn(message.get(f.SYMBOL), 1)]
    window_ns, validity_ns = defaults
    window_ms = message.get(f.AUCTION_WINDOW_MS)
    if window_ms:
        if not window_ms.isdigit() or len(window_ms) > 9:
            raise RequestError(Reason.RFQ_INVALID_WINDOW, "AuctionWindowMs (20034) must be whole ms")
        window_ns = int(window_ms) * 1_000_000
    validity_ns = _deadline_ns(message, f.EXPIRE_TIME, now_ns) or validity_ns
    makers = [
        p[f.PARTY_ID]
        for p in message.group(f.NO_PARTY_IDS, f.PARTY_ID)
        if p.get(f.PARTY_ROLE, LIQUIDITY_PROVIDER) == LIQUIDITY_PROVIDER
    ]
    return build_rfq(
        instruments,
        account=account,
        client_rfq_id=client_rfq_id,
        legs=legs,
        size=size,
        side=side,
        window_ns=window_ns,
        validity_ns=validity_ns,
        hedge=hedge,
        hedge_qty=hedge_qty,
        hedge_price=hedge_price,
        counterparties=makers,
        min_price=_decimal(message, f.MIN_PACKAGE_PRICE),
        max_price=_decimal(message, f.MAX_PACKAGE_PRICE),
    )


def quote(
    message: FixMessage,
    account: str,
    rfq_id: int,
    leg_symbols: Sequence[str],
    instruments: Mapping[str, Instrument],
    now_ns: int,
) -> RfqQuote:
    """A maker's Quote: per-leg LegBidPx/LegOfferPx by LegSymbol, or BidPx/OfferPx for one leg."""
    client_quote_id = _id(message, f.QUOTE_ID)
    bid: list[Decimal] | None = None
    offer: list[Decimal] | None = None
    entries = message.group(f.NO_LEGS, f.LEG_SYMBOL)
    if entries:
        by_symbol = {e[f.LEG_SYMBOL]: e for e in entries}
        if len(by_symbol) != len(entries) or set(by_symbol) != set(leg_symbols):
            raise RequestError(
                Reason.RFQ_INVALID, f"quote every leg of the RFQ once: {', '.join(leg_symbols)}"
            )
        bids = [_decimal(by_symbol[s], f.LEG_BID_PX) for s in leg_symbols]
        offers = [_decimal(by_symbol[s], f.LEG_OFFER_PX) for s in leg_symbols]
        if any(b is not None for b in bids):
            if any(b is None for b in bids):
                raise RequestError(Reason.RFQ_INVALID, "LegBidPx (681) on every leg or on none")
            bid = [b for b in bids if b is not None]
        if any(o is not None for o in offers):
            if any(o is None for o in offers):
                raise RequestError(Reason.RFQ_INVALID, "LegOfferPx (684) on every leg or on none")
            offer = [o for o in offers if o is not None]
    elif len(leg_symbols) == 1:
        single_bid, single_offer = _decimal(message, f.BID_PX), _decimal(message, f.OFFER_PX)
        bid = [single_bid] if single_bid is not None else None
        offer = [single_offer] if single_offer is not None else None
    else:
        raise RequestError(Reason.RFQ_INVALID, "a package quote prices its legs in NoLegs (555)")
    if bid is None and offer is None:
        raise RequestError(Reason.RFQ_INVALID, "a quote needs a bid, an offer or both")
    valid_ns = _deadline_ns(message, f.VALID_UNTIL_TIME, now_ns) or 0
    return build_quote(
        instruments,
        leg_symbols,
        account=account,
        rfq_id=rfq_id,
        client_quote_id=client_quote_id,
        bid=bid,
        offer=offer,
        valid_ns=valid_ns,
    )


def quote_cancel(message: FixMessage, account: str) -> RfqQuoteCancel:
    """QuoteCancelType 1: the quote on QuoteReqID's RFQ; 3: every quote on the underlying in Symbol;
    4: every quote."""
    kind = message.get(f.QUOTE_CANCEL_TYPE)
    if kind == "1":
        return RfqQuoteCancel(account=account, rfq_id=_int_id(message.get(f.QUOTE_REQ_ID), f.QUOTE_REQ_ID))
    if kind == "3":
        underlying = message.get(f.SYMBOL) or message.get(f.UNDERLYING_SYMBOL)
        if not underlying or len(underlying) > 16:
            raise RequestError(Reason.RFQ_INVALID, "QuoteCancelType 3 names the underlying in Symbol (55)")
        return RfqQuoteCancel(account=account, underlying=underlying)
    if kind == "4":
        return RfqQuoteCancel(account=account)
    raise RequestError(Reason.RFQ_INVALID, "QuoteCancelType (298) must be 1, 3 or 4")


def accept(message: FixMessage, account: str, rfq_id: int, quote_id: int, client_order_id: str) -> RfqAccept:
    """A hit (QuoteResponse 1 or NewOrderSingle OrdType D): Side buys/sells the package; Price, when
    given, is the worst package price accepted (USD)."""
    limit = _decimal(message, f.PRICE)
    return RfqAccept(
        account=account,
        rfq_id=rfq_id,
        quote_id=quote_id,
        side=_side(message.get(f.SIDE), f.SIDE),
        limit_price_micro=usd_to_micro(limit) if limit is not None else None,
        client_order_id=client_order_id,
    )


def quote_id_of(message: FixMessage) -> int:
    return _int_id(message.get(f.QUOTE_ID), f.QUOTE_ID)


# -- outbound ------------------------------------------------------------------------------------------


def package_label(opened: RfqOpened) -> str:
    """Symbol (55) of an RFQ: its instrument when it has one leg, else the underlying."""
    return opened.legs[0].symbol if len(opened.legs) == 1 else opened.underlying


def request_for_maker(
    opened: RfqOpened, instruments: Mapping[str, Instrument], ts_ns: int, account: str = ""
) -> Pairs:
    """QuoteRequest (R) as makers see it: no taker, no limits, no side for a two-way RFQ."""
    pairs: Pairs = [
        (f.QUOTE_REQ_ID, str(opened.rfq_id)),
        (f.NO_RELATED_SYM, "1"),
        (f.SYMBOL, package_label(opened)),
    ]
    if opened.side:
        pairs.append((f.SIDE, f.SIDE_CODE[opened.side]))
    if account:
        pairs.append((f.ACCOUNT, account))
    legs = list(opened.legs) + ([opened.hedge] if opened.hedge is not None else [])
    pairs.append((f.NO_LEGS, str(len(legs))))
    for leg in legs:
        inst = instruments.get(leg.symbol)
        pairs += [
            (f.LEG_SYMBOL, leg.symbol),
            (f.LEG_SIDE, f.SIDE_CODE[leg.side]),
            (f.LEG_QTY, qty(inst, leg.qty_lots)),
        ]
        if leg is opened.hedge:
            pairs.append((f.LEG_PRICE, price(inst, opened.hedge_price_ticks)))
    pairs += [
        (f.EXPIRE_TIME, utc_timestamp(opened.expire_ns)),
        (f.TRANSACT_TIME, utc_timestamp(ts_ns)),
        (f.RFQ_ID, str(opened.rfq_id)),
    ]
    return pairs


def quote_for_taker(
    opened: RfqOpened,
    view: QuoteView,
    best: tuple[int | None, int | None],
    instruments: Mapping[str, Instrument],
    ts_ns: int,
) -> Pairs:
    """Quote (S) to the taker: one anonymous quote of its auction, with the board's best bid/offer."""
    pairs: Pairs = [
        (f.QUOTE_REQ_ID, clean(opened.client_rfq_id) or str(opened.rfq_id)),
        (f.QUOTE_ID, str(view.quote_id)),
        (f.QUOTE_TYPE, "1"),  # tradeable
        (f.SYMBOL, package_label(opened)),
        (f.ACCOUNT, opened.account),
        (f.NO_LEGS, str(len(opened.legs))),
    ]
    for n, leg in enumerate(opened.legs):
        inst = instruments.get(leg.symbol)
        pairs += [
            (f.LEG_SYMBOL, leg.symbol),
            (f.LEG_SIDE, f.SIDE_CODE[leg.side]),
            (f.LEG_QTY, qty(inst, leg.qty_lots)),
        ]
        if view.bid_ticks:
            pairs.append((f.LEG_BID_PX, price(inst, view.bid_ticks[n])))
        if view.offer_ticks:
            pairs.append((f.LEG_OFFER_PX, price(inst, view.offer_ticks[n])))
    if view.bid_micro is not None:
        pairs.append((f.BID_PX, money(view.bid_micro)))
    if view.offer_micro is not None:
        pairs.append((f.OFFER_PX, money(view.offer_micro)))
    best_bid, best_offer = best
    if best_bid is not None:
        pairs.append((f.MKT_BID_PX, money(best_bid)))
    if best_offer is not None:
        pairs.append((f.MKT_OFFER_PX, money(best_offer)))
    pairs += [
        (f.VALID_UNTIL_TIME, utc_timestamp(view.expire_ns)),
        (f.TRANSACT_TIME, utc_timestamp(ts_ns)),
        (f.RFQ_ID, str(opened.rfq_id)),
    ]
    return pairs


def quote_withdrawn(quote_req_id: str, quote_id: int, rfq_id: int, account: str) -> Pairs:
    """QuoteCancel (Z) to the taker: a quote it was shown is no longer live."""
    return [
        (f.QUOTE_REQ_ID, clean(quote_req_id)),
        (f.QUOTE_ID, str(quote_id)),
        (f.QUOTE_CANCEL_TYPE, "1"),
        (f.ACCOUNT, account),
        (f.RFQ_ID, str(rfq_id)),
    ]


def status_report(
    quote_req_id: str,
    quote_id: str,
    status: str,
    ts_ns: int,
    *,
    rfq_id: int = 0,
    account: str = "",
    symbol: str = "",
    venue_quote_id: int = 0,
    bid_micro: int | None = None,
    offer_micro: int | None = None,
    expire_ns: int = 0,
    text: str = "",
) -> Pairs:
    """QuoteStatusReport (AI)."""
    pairs: Pairs = [
        (f.QUOTE_REQ_ID, clean(quote_req_id) or "NONE"),
        (f.QUOTE_ID, clean(quote_id) or "NONE"),
    ]
    if symbol:
        pairs.append((f.SYMBOL, clean(symbol)))
    if account:
        pairs.append((f.ACCOUNT, account))
    if bid_micro is not None:
        pairs.append((f.BID_PX, money(bid_micro)))
    if offer_micro is not None:
        pairs.append((f.OFFER_PX, money(offer_micro)))
    if expire_ns:
        pairs.append((f.VALID_UNTIL_TIME, utc_timestamp(expire_ns)))
    pairs += [(f.TRANSACT_TIME, utc_timestamp(ts_ns)), (f.QUOTE_STATUS, status)]
    if text:
        pairs.append((f.TEXT, clean(text)))
    if rfq_id:
        pairs.append((f.RFQ_ID, str(rfq_id)))
    if venue_quote_id:
        pairs.append((f.VENUE_QUOTE_ID, str(venue_quote_id)))
    return pairs


def request_reject(quote_req_id: str, symbol: str, reason: int, text: str) -> Pairs:
    """QuoteRequestReject (AG)."""
    return [
        (f.QUOTE_REQ_ID, clean(quote_req_id) or "NONE"),
        (f.QUOTE_REQUEST_REJECT_REASON, reject_reason(reason)),
        (f.NO_RELATED_SYM, "1"),
        (f.SYMBOL, clean(symbol)[:64] or "NONE"),
        (f.TEXT, clean(text)),
    ]


def block_execution(
    trade: BlockTrade,
    inst: Instrument | None,
    *,
    maker: bool,
    client_order_id: str,
    exec_id: str,
    ts_ns: int,
) -> Pairs:
    """ExecutionReport (8) of one RFQ leg for one side: filled at once, flagged as a block trade."""
    side = -trade.side if maker else trade.side
    quantity = qty(inst, trade.qty_lots)
    px = price(inst, trade.price_ticks)
    pairs: Pairs = [
        (f.ORDER_ID, f"RFQ{trade.rfq_id}"),
        (f.CL_ORD_ID, clean(client_order_id) or f"Q{trade.quote_id}"),
        (f.EXEC_ID, exec_id),
        (f.EXEC_TYPE, f.EXEC_TRADE),
        (f.ORD_STATUS, f.STATUS_FILLED),
        (f.ACCOUNT, trade.maker_account if maker else trade.taker_account),
        (f.SYMBOL, trade.symbol),
        (f.SIDE, f.SIDE_CODE[side]),
        (f.ORDER_QTY, quantity),
        (f.ORD_TYPE, f.PREVIOUSLY_QUOTED),
        (f.PRICE, px),
        (f.TIME_IN_FORCE, FOK),
        (f.LEAVES_QTY, "0"),
        (f.CUM_QTY, quantity),
        (f.AVG_PX, px),
        (f.TRANSACT_TIME, utc_timestamp(ts_ns)),
    ]
    fee = trade.maker_fee_micro if maker else trade.taker_fee_micro
    pairs += fill_details(inst, trade.price_ticks, trade.qty_lots, fee, maker, trade.trade_id)
    pairs += [
        (f.QUOTE_ID, str(trade.quote_id)),
        (f.TRD_TYPE, BLOCK_TRADE),
        (f.RFQ_ID, str(trade.rfq_id)),
    ]
    return pairs


def accept_rejected(
    message: FixMessage, account: str, reason: int, text: str, ts_ns: int, exec_id: str
) -> Pairs:
    """ExecutionReport (8) refusing an accept (NewOrderSingle OrdType D or QuoteResponse hit)."""
    client_order_id = message.get(f.CL_ORD_ID) or message.get(f.QUOTE_RESP_ID)
    side = message.get(f.SIDE)
    pairs: Pairs = [
        (f.ORDER_ID, "NONE"),
        (f.CL_ORD_ID, clean(client_order_id)[:MAX_ID_LENGTH] or "NONE"),
        (f.EXEC_ID, exec_id),
        (f.EXEC_TYPE, f.EXEC_REJECTED),
        (f.ORD_STATUS, f.STATUS_REJECTED),
        (f.ACCOUNT, account),
        (f.SYMBOL, clean(message.get(f.SYMBOL))[:64] or "NONE"),
        (f.SIDE, side if side in f.SIDES else "1"),
        (f.ORD_TYPE, f.PREVIOUSLY_QUOTED),
        (f.LEAVES_QTY, "0"),
        (f.CUM_QTY, "0"),
        (f.AVG_PX, "0"),
        (f.TRANSACT_TIME, utc_timestamp(ts_ns)),
    ]
    quote_id = message.get(f.QUOTE_ID)
    if quote_id:
        pairs.append((f.QUOTE_ID, clean(quote_id)[:MAX_ID_LENGTH]))
    return pairs + rejection(reason, text)
