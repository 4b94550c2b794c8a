"""Events: everything that happened, in the order the sequencer decided it. Immutable and tagged.

Units as in ``matching.commands``. Order events carry what a client reconciles on (cumulative and
leaves quantity, cumulative value for the average price) so front doors need no order state.
``reason`` fields are codes from ``matching.reasons.Reason``.
"""

from __future__ import annotations

import msgspec


class _Event(msgspec.Struct, frozen=True, tag=True, gc=False):
    pass


class OrderAccepted(_Event, frozen=True):
    order_id: int
    account: str
    client_order_id: str
    symbol: str
    side: int
    order_type: int
    tif: int
    price_ticks: int
    qty_lots: int
    stop_price_ticks: int
    expire_ns: int
    post_only: bool
    reduce_only: bool


class OrderRejected(_Event, frozen=True):
    account: str
    client_order_id: str
    symbol: str
    reason: int
    text: str


class OrderCancelled(_Event, frozen=True):
    order_id: int
    account: str
    client_order_id: str
    symbol: str
    side: int
    cum_qty: int
    leaves_qty: int  # what was open when it was cancelled
    reason: int


class OrderExpired(_Event, frozen=True):
    order_id: int
    account: str
    client_order_id: str
    symbol: str
    side: int
    cum_qty: int
    leaves_qty: int


class OrderTriggered(_Event, frozen=True):
    order_id: int
    account: str
    client_order_id: str
    symbol: str
    trigger_price_ticks: int


class OrderReplaced(_Event, frozen=True):
    order_id: int
    account: str
    client_order_id: str
    orig_client_order_id: str
    symbol: str
    side: int
    price_ticks: int
    qty_lots: int
    leaves_qty: int
    cum_qty: int
    stop_price_ticks: int
    priority_kept: bool


class OrderReduced(_Event, frozen=True):
    """An order shrank without a fill (self-trade decrement, reduce-only resize)."""

    order_id: int
    account: str
    client_order_id: str
    symbol: str
    qty_lots: int
    leaves_qty: int
    cum_qty: int
    reason: int


class CancelRejected(_Event, frozen=True):
    account: str
    order_id: int
    client_order_id: str
    request: int  # matching.types.CancelRequest
    reason: int
    text: str


class Trade(_Event, frozen=True):
    trade_id: int
    symbol: str
    price_ticks: int
    qty_lots: int
    aggressor_side: int
    maker_order_id: int
    taker_order_id: int
    maker_account: str
    taker_account: str
    maker_client_order_id: str
    taker_client_order_id: str
    maker_fee_micro: int
    taker_fee_micro: int
    maker_cum_qty: int
    maker_leaves_qty: int
    maker_cum_value: int
    taker_cum_qty: int
    taker_leaves_qty: int
    taker_cum_value: int


class BookDelta(_Event, frozen=True):
    """The new state of one price level; ``qty_lots`` 0 means the level is gone."""

    symbol: str
    delta_seq: int  # per book, gapless: a client that sees a gap must resnapshot
    side: int
    price_ticks: int
    qty_lots: int
    order_count: int


class PositionChanged(_Event, frozen=True):
    account: str
    symbol: str
    qty_lots: int
    cost_micro: int  # entry value of the open position (signed with it)
    realised_pnl_micro: int  # cumulative


class BalanceChanged(_Event, frozen=True):
    account: str
    delta_micro: int
    collateral_micro: int
    reason: int  # matching.types.BalanceReason
    reference: str


class PerpetualsSettled(_Event, frozen=True):
    """A SettlePerpetuals applied: ``accounts`` had cash moved (their BalanceChanged precede this)."""

    reference: str
    accounts: int
    positions: int


class FundingApplied(_Event, frozen=True):
    """An ApplyFunding booked: ``per_lot_micro`` is what one long lot paid (negative: received);
    ``accounts`` had cash moved (their BalanceChanged precede this)."""

    symbol: str
    rate_ppb: int
    index_price_micro: int
    per_lot_micro: int
    accounts: int


class OptionsExpired(_Event, frozen=True):
    """Every option of ``underlying`` expiring at ``expiry_ns`` cash-settled at ``settlement_price_micro``
    (the index averaged over the final 30 minutes) and was delisted; the positions' PositionChanged and
    BalanceChanged precede this, each series' InstrumentDelisted follows."""

    underlying: str
    expiry_ns: int
    settlement_price_micro: int
    samples: int
    series: int
    positions: int


class MarksUpdated(_Event, frozen=True):
    underlying: str
    index_price_micro: int
    instruments: int


class MassCancelDone(_Event, frozen=True):
    account: str
    request_id: str
    cancelled: int


class StpModeSet(_Event, frozen=True):
    account: str
    stp_mode: int


class RequestRejected(_Event, frozen=True):
    """A non-order command (deposit, withdrawal, admin) refused."""

    command: str
    account: str
    reference: str
    reason: int
    text: str


class InstrumentHalted(_Event, frozen=True):
    symbol: str
    reason: int
    text: str
    until_ns: int  # 0: until resumed by command


class InstrumentResumed(_Event, frozen=True):
    symbol: str


class VenueHalted(_Event, frozen=True):
    text: str


class VenueResumed(_Event, frozen=True):
    pass


class MarginModeSet(_Event, frozen=True):
    account: str
    portfolio: bool


class LiquidationStarted(_Event, frozen=True):
    account: str
    equity_micro: int
    maintenance_micro: int


class LiquidationStep(_Event, frozen=True):
    """One risk-reducing order of a liquidation: what it filled (signed lots) and the fee it paid."""

    account: str
    symbol: str
    order_id: int
    filled_lots: int
    fee_micro: int


class PositionTransferred(_Event, frozen=True):
    """A position closed out against the insurance fund at the mark (no book, no fee)."""

    from_account: str
    to_account: str
    symbol: str
    qty_lots: int  # signed, as seen by the receiving account
    price_ticks: int


class LiquidationEnded(_Event, frozen=True):
    """``status``: matching.types.LiquidationStatus; ``shortfall_micro`` what the insurance fund lacked."""

    account: str
    status: int
    equity_micro: int
    maintenance_micro: int
    insurance_fund_micro: int
    shortfall_micro: int


class InstrumentListed(_Event, frozen=True):
    symbol: str
    instrument_id: int


class InstrumentDelisted(_Event, frozen=True):
    symbol: str


# -- RFQ ------------------------------------------------------------------------------------------------
# Routing (front doors): RfqOpened goes to the taker and, without ``account`` and (two-way) ``side``,
# to the makers it admits; Quote* events only to the quoting maker; RfqQuotes only to the taker (it names
# no maker); RfqExecuted and BlockTrade to both parties, the tape without accounts; QuoteClosed to the
# maker; RfqClosed to the taker and every maker that quoted.


class RfqLegView(msgspec.Struct, frozen=True, array_like=True, gc=False):
    symbol: str
    side: int
    qty_lots: int


class RfqOpened(_Event, frozen=True):
    rfq_id: int
    account: str
    client_rfq_id: str
    underlying: str
    side: int  # 0: two-way
    legs: tuple[RfqLegView, ...]
    hedge: RfqLegView | None
    hedge_price_ticks: int
    counterparties: tuple[str, ...]  # empty: every maker
    min_price_micro: int | None
    max_price_micro: int | None
    window_end_ns: int
    expire_ns: int


class RfqRejected(_Event, frozen=True):
    account: str
    client_rfq_id: str
    reason: int
    text: str


class QuoteEntered(_Event, frozen=True):
    """A maker's quote is live. Package prices in micro-USDC (None: that side not quoted)."""

    quote_id: int
    rfq_id: int
    account: str
    client_quote_id: str
    bid_micro: int | None
    offer_micro: int | None
    bid_ticks: tuple[int, ...]
    offer_ticks: tuple[int, ...]
    expire_ns: int
    replaced_quote_id: int  # 0: a first quote


class QuoteRejected(_Event, frozen=True):
    account: str
    rfq_id: int
    client_quote_id: str
    reason: int
    text: str


class QuoteClosed(_Event, frozen=True):
    """A quote is no longer live; ``status`` is a matching.types.QuoteStatus."""

    quote_id: int
    rfq_id: int
    account: str
    client_quote_id: str
    status: int
    reason: int
    text: str


class QuoteView(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A quote as the taker sees it: no maker."""

    quote_id: int
    bid_micro: int | None
    offer_micro: int | None
    bid_ticks: tuple[int, ...]
    offer_ticks: tuple[int, ...]
    entered_ns: int
    expire_ns: int


class RfqQuotes(_Event, frozen=True):
    """The taker's view of its auction: at the window's end, then on every change while it is open.

    Best bid: highest price, best offer: lowest; between equal prices the earlier quote wins.
    """

    rfq_id: int
    account: str
    best_bid_quote_id: int  # 0: none
    best_bid_micro: int | None
    best_offer_quote_id: int
    best_offer_micro: int | None
    quotes: tuple[QuoteView, ...]


class RfqAcceptRejected(_Event, frozen=True):
    account: str
    rfq_id: int
    quote_id: int
    client_order_id: str
    reason: int
    text: str


class BlockTrade(_Event, frozen=True):
    """One leg of an executed RFQ, off the book. ``side``: the taker's side of this leg."""

    trade_id: int
    rfq_id: int
    quote_id: int
    symbol: str
    price_ticks: int
    qty_lots: int
    side: int
    taker_account: str
    maker_account: str
    taker_fee_micro: int
    maker_fee_micro: int


class RfqExecuted(_Event, frozen=True):
    """An RFQ filled, with the best-execution evidence: the best price on the side taken when the taker
    accepted and how many live quotes were on that side."""

    rfq_id: int
    quote_id: int
    taker_account: str
    maker_account: str
    client_order_id: str
    side: int  # the taker's: +1 bought the package
    price_micro: int
    best_micro: int
    quotes_on_side: int
    first_trade_id: int
    legs: int


class RfqClosed(_Event, frozen=True):
    """``status`` is a matching.types.RfqStatus."""

    rfq_id: int
    account: str
    status: int
    text: str


class MmpUpdated(_Event, frozen=True):
    """Market-maker protection set, triggered (``frozen_until_ns`` > 0 or -1 until reset) or reset."""

    account: str
    underlying: str
    interval_ns: int
    qty_limit: int
    delta_limit: int
    frozen_ns: int
    triggered: bool
    frozen_until_ns: int  # 0: not frozen; -1: until reset
    traded_qty: int
    traded_delta: int


Event = (
    OrderAccepted
    | OrderRejected
    | OrderCancelled
    | OrderExpired
    | OrderTriggered
    | OrderReplaced
    | OrderReduced
    | CancelRejected
    | Trade
    | BookDelta
    | PositionChanged
    | BalanceChanged
    | MarksUpdated
    | MassCancelDone
    | StpModeSet
    | RequestRejected
    | InstrumentHalted
    | InstrumentResumed
    | VenueHalted
    | VenueResumed
    | MarginModeSet
    | LiquidationStarted
    | LiquidationStep
    | PositionTransferred
    | LiquidationEnded
    | InstrumentListed
    | InstrumentDelisted
    | RfqOpened
    | RfqRejected
    | QuoteEntered
    | QuoteRejected
    | QuoteClosed
    | RfqQuotes
    | RfqAcceptRejected
    | BlockTrade
    | RfqExecuted
    | RfqClosed
    | MmpUpdated
    | PerpetualsSettled
    | FundingApplied
    | OptionsExpired
)
