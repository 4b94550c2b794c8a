"""The one table of reject and cancel reasons.

Codes are stable numbers grouped by domain (1xxx request, 2xxx protections, 3xxx risk, 4xxx matching,
5xxx order management, 6xxx why an order left the book, 7xxx accounts and ledger). Front doors map them
once to their wire form (FIX OrdRejReason / CxlRejReason / Text, HTTP 4xx bodies); never reuse a code.
"""

from __future__ import annotations

from enum import IntEnum


class Reason(IntEnum):
    # request validation
    UNKNOWN_INSTRUMENT = 1001
    INVALID_PRICE_TICK = 1002
    INVALID_QTY_LOT = 1003
    QTY_BELOW_MIN = 1004
    QTY_ABOVE_MAX = 1005
    NOTIONAL_ABOVE_MAX = 1006
    INVALID_ORDER = 1007
    UNKNOWN_ACCOUNT = 1008
    DUPLICATE_CLIENT_ORDER_ID = 1009
    INVALID_EXPIRE_TIME = 1010
    INVALID_STOP_PRICE = 1011
    INSTRUMENT_NOT_ACTIVE = 1012
    INSTRUMENT_EXISTS = 1013
    INVALID_PRICE = 1014
    # protections
    PRICE_BAND = 2001
    INSTRUMENT_HALTED = 2002
    VENUE_HALTED = 2003
    JOURNAL_UNAVAILABLE = 2004  # refused at intake while journal writes fail (nothing is lost)
    # risk
    INSUFFICIENT_MARGIN = 3001
    INSUFFICIENT_FUNDS = 3002
    REDUCE_ONLY_WOULD_INCREASE = 3003
    NO_MARK = 3004
    NOT_BELOW_MAINTENANCE = 3005
    # matching
    POST_ONLY_WOULD_TAKE = 4001
    FOK_NOT_FILLED = 4002
    SELF_TRADE = 4003
    NO_LIQUIDITY = 4004
    MARKET_PROTECTION = 4005
    IOC_REMAINDER = 4006
    CIRCUIT_BREAKER = 4007
    # order management
    ORDER_NOT_FOUND = 5001
    TOO_LATE_TO_CANCEL = 5002
    REPLACE_QTY_BELOW_FILLED = 5003
    REPLACE_NOT_ALLOWED = 5004
    # why an order left the book (OrderCancelled.reason)
    USER_CANCEL = 6001
    MASS_CANCEL = 6002
    CANCEL_ON_DISCONNECT = 6003
    KILL_SWITCH = 6004
    INSTRUMENT_DELISTED = 6005
    REDUCE_ONLY_REDUCED = 6006
    ADMIN_CANCEL = 6007
    LIQUIDATION = 6008
    # accounts and ledger
    INVALID_AMOUNT = 7001
    DUPLICATE_REFERENCE = 7002
    # RFQ
    RFQ_TOO_MANY_LEGS = 8001
    RFQ_NOT_FOUND = 8002
    RFQ_CLOSED = 8003
    RFQ_NOT_PERMITTED = 8004
    RFQ_WINDOW_OPEN = 8005
    RFQ_INVALID = 8006
    RFQ_MIXED_UNDERLYINGS = 8007
    RFQ_DUPLICATE_ID = 8008
    QUOTE_NOT_FOUND = 8009
    QUOTE_PRICE_OUTSIDE_LIMITS = 8010
    QUOTE_SIDE_NOT_QUOTED = 8011
    QUOTE_WORSE_THAN_LIMIT = 8012
    MMP_FROZEN = 8013
    COUNTERPARTY_MARGIN = 8014
    RFQ_INVALID_WINDOW = 8015


TEXT: dict[Reason, str] = {
    Reason.UNKNOWN_INSTRUMENT: "unknown instrument",
    Reason.INVALID_PRICE_TICK: "price is not a multiple of the tick size",
    Reason.INVALID_QTY_LOT: "quantity is not a positive multiple of the lot size",
    Reason.QTY_BELOW_MIN: "quantity below the instrument's minimum order size",
    Reason.QTY_ABOVE_MAX: "quantity above the instrument's maximum order size",
    Reason.NOTIONAL_ABOVE_MAX: "order notional above the instrument's maximum",
    Reason.INVALID_ORDER: "invalid combination of order fields",
    Reason.UNKNOWN_ACCOUNT: "unknown account",
    Reason.DUPLICATE_CLIENT_ORDER_ID: "client order id already used by a live order of this account",
    Reason.INVALID_EXPIRE_TIME: "expire time missing or already past",
    Reason.INVALID_STOP_PRICE: "stop price missing or on the wrong side of the trigger price",
    Reason.INSTRUMENT_NOT_ACTIVE: "instrument is delisted",
    Reason.INSTRUMENT_EXISTS: "instrument already listed",
    Reason.INVALID_PRICE: "price must be positive",
    Reason.PRICE_BAND: "price outside the band around the mark price",
    Reason.INSTRUMENT_HALTED: "instrument is halted",
    Reason.VENUE_HALTED: "venue is halted",
    Reason.JOURNAL_UNAVAILABLE: "the journal is unavailable: no new risk until it is back; retry",
    Reason.INSUFFICIENT_MARGIN: "insufficient margin",
    Reason.INSUFFICIENT_FUNDS: "insufficient available funds",
    Reason.REDUCE_ONLY_WOULD_INCREASE: "reduce-only order would open or increase a position",
    Reason.NO_MARK: "no index or volatility mark yet for this underlying: only risk-reducing orders",
    Reason.NOT_BELOW_MAINTENANCE: "account is not below maintenance margin",
    Reason.POST_ONLY_WOULD_TAKE: "post-only order would take liquidity",
    Reason.FOK_NOT_FILLED: "fill-or-kill order could not be filled in full",
    Reason.SELF_TRADE: "self-trade prevented",
    Reason.NO_LIQUIDITY: "no liquidity within the protection band",
    Reason.MARKET_PROTECTION: "remainder beyond the market-order protection band cancelled",
    Reason.IOC_REMAINDER: "immediate-or-cancel remainder cancelled",
    Reason.CIRCUIT_BREAKER: "circuit breaker tripped; remainder cancelled",
    Reason.ORDER_NOT_FOUND: "order not found",
    Reason.TOO_LATE_TO_CANCEL: "order already filled, cancelled or expired",
    Reason.REPLACE_QTY_BELOW_FILLED: "new quantity not above the quantity already filled",
    Reason.REPLACE_NOT_ALLOWED: "this order cannot be replaced that way",
    Reason.USER_CANCEL: "cancelled on request",
    Reason.MASS_CANCEL: "cancelled by mass cancel",
    Reason.CANCEL_ON_DISCONNECT: "cancelled on disconnect",
    Reason.KILL_SWITCH: "cancelled by the venue kill switch",
    Reason.INSTRUMENT_DELISTED: "instrument delisted",
    Reason.REDUCE_ONLY_REDUCED: "reduce-only order cancelled: no position left to reduce",
    Reason.ADMIN_CANCEL: "cancelled by the venue",
    Reason.LIQUIDATION: "cancelled: account in liquidation",
    Reason.INVALID_AMOUNT: "amount must be positive",
    Reason.DUPLICATE_REFERENCE: "reference already applied",
    Reason.RFQ_TOO_MANY_LEGS: "an RFQ has 1 to 20 legs",
    Reason.RFQ_NOT_FOUND: "unknown RFQ",
    Reason.RFQ_CLOSED: "RFQ already filled, expired or withdrawn",
    Reason.RFQ_NOT_PERMITTED: "not permitted on this RFQ",
    Reason.RFQ_WINDOW_OPEN: "the auction window is still open",
    Reason.RFQ_INVALID: "invalid RFQ: legs must be distinct, sides +1/-1, the hedge a perpetual",
    Reason.RFQ_MIXED_UNDERLYINGS: "all legs of an RFQ must share one underlying",
    Reason.RFQ_DUPLICATE_ID: "client RFQ id already used by an open RFQ of this account",
    Reason.QUOTE_NOT_FOUND: "quote not found or no longer live",
    Reason.QUOTE_PRICE_OUTSIDE_LIMITS: "quote price outside the RFQ's min/max package price",
    Reason.QUOTE_SIDE_NOT_QUOTED: "the quote has no price on that side",
    Reason.QUOTE_WORSE_THAN_LIMIT: "quote price worse than the taker's limit",
    Reason.MMP_FROZEN: "market-maker protection triggered: quoting frozen",
    Reason.COUNTERPARTY_MARGIN: "counterparty failed the margin check",
    Reason.RFQ_INVALID_WINDOW: "auction window or validity out of bounds",
}


_TEXT_BY_CODE: dict[int, str] = {int(reason): words for reason, words in TEXT.items()}


def text(reason: int) -> str:
    """Human text for a reason code; unknown codes get a generic text rather than an error."""
    words = _TEXT_BY_CODE.get(reason)
    return words if words is not None else f"reason {reason}"
