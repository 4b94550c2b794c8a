"""Small enumerations shared by commands, events and the book. Values are stable: they are journaled."""

from __future__ import annotations

from enum import IntEnum


class Side(IntEnum):
    """The sign is the direction of the position change: a buy adds, a sell subtracts."""

    BUY = 1
    SELL = -1


class OrderType(IntEnum):
    LIMIT = 1
    MARKET = 2
    STOP_MARKET = 3
    STOP_LIMIT = 4


class TimeInForce(IntEnum):
    GTC = 1
    IOC = 2
    FOK = 3
    GTD = 4


class TriggerBy(IntEnum):
    """What a stop order watches."""

    MARK = 1
    LAST = 2


class StpMode(IntEnum):
    """Self-trade prevention: what happens when an order would trade against its own account."""

    CANCEL_NEWEST = 1  # the incoming order's remainder is cancelled
    CANCEL_OLDEST = 2  # the resting order is cancelled and matching goes on
    CANCEL_BOTH = 3
    DECREMENT_AND_CANCEL = 4  # both shrink by the smaller size; whichever reaches zero is cancelled


class BalanceReason(IntEnum):
    DEPOSIT = 1
    WITHDRAWAL = 2
    TRADE = 3  # premium, realised P&L and fee of one fill, netted
    FEE_INCOME = 4  # the fee account's side of a fill
    LIQUIDATION_FEE = 5  # from a liquidated account to the insurance fund
    INSURANCE_COVER = 6  # the insurance fund makes up an insolvent account's deficit
    PERP_SETTLEMENT = 7  # perpetual P&L realised at the mark (SettlePerpetuals)
    FUNDING = 8  # a perpetual's funding payment (ApplyFunding)
    OPTION_EXPIRY = 9  # an option's cash settlement at expiry


class CancelRequest(IntEnum):
    """Which request a CancelRejected answers (FIX CxlRejResponseTo)."""

    CANCEL = 1
    REPLACE = 2


class MassCancelScope(IntEnum):
    """Why a mass cancel happens; the reason code on each OrderCancelled follows from it."""

    REQUEST = 1
    DISCONNECT = 2
    ADMIN = 3


class LiquidationStatus(IntEnum):
    """How a liquidation ended."""

    RESTORED = 1  # equity back above maintenance margin
    PENDING = 2  # no liquidity within the protection band: retried at the next mark update
    CLOSED_OUT = 3  # insolvent: remaining positions taken over by the insurance fund


class RfqStatus(IntEnum):
    """How an RFQ ended (RfqClosed.status)."""

    FILLED = 1
    EXPIRED = 2
    CANCELLED = 3  # the taker withdrew it


class QuoteStatus(IntEnum):
    """Why a quote stopped being live (QuoteClosed.status; FIX QuoteStatus follows from it)."""

    ACCEPTED = 1  # executed
    CANCELLED = 2  # by the maker
    EXPIRED = 3  # its own validity or the RFQ's ended
    REPLACED = 4  # by the maker's newer quote
    REJECTED = 5  # accepted by the taker but the maker's margin check failed
    PULLED = 6  # market-maker protection triggered
    RFQ_CLOSED = 7  # the RFQ filled on another quote or was withdrawn
