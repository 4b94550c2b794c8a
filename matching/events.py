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
)
