"""Enum values and reason codes as Final names, for the compiled matching modules.

Literal Final ints compile to native constants and native comparisons (mypyc), and Final names bound
to enum members are kept in C statics instead of being looked up in a module dict on every use. The
enums in matching.types and matching.reasons stay the one table; tests/matching/test_constants.py
pins the literals to them.
"""

from __future__ import annotations

from typing import Final

from matching.reasons import Reason

GTC: Final = 1  # TimeInForce.GTC
IOC: Final = 2  # TimeInForce.IOC
FOK: Final = 3  # TimeInForce.FOK
GTD: Final = 4  # TimeInForce.GTD
LIMIT: Final = 1  # OrderType.LIMIT
MARKET: Final = 2  # OrderType.MARKET
STOP_MARKET: Final = 3  # OrderType.STOP_MARKET
STOP_LIMIT: Final = 4  # OrderType.STOP_LIMIT
MARK_TRIGGER: Final = 1  # TriggerBy.MARK
LAST_TRIGGER: Final = 2  # TriggerBy.LAST
CANCEL_OLDEST: Final = 2  # StpMode.CANCEL_OLDEST
CANCEL_BOTH: Final = 3  # StpMode.CANCEL_BOTH
DECREMENT_AND_CANCEL: Final = 4  # StpMode.DECREMENT_AND_CANCEL
R_ADMIN_CANCEL: Final = Reason.ADMIN_CANCEL
R_CANCEL_ON_DISCONNECT: Final = Reason.CANCEL_ON_DISCONNECT
R_CIRCUIT_BREAKER: Final = Reason.CIRCUIT_BREAKER
R_DUPLICATE_CLIENT_ORDER_ID: Final = Reason.DUPLICATE_CLIENT_ORDER_ID
R_FOK_NOT_FILLED: Final = Reason.FOK_NOT_FILLED
R_INSTRUMENT_HALTED: Final = Reason.INSTRUMENT_HALTED
R_INSTRUMENT_NOT_ACTIVE: Final = Reason.INSTRUMENT_NOT_ACTIVE
R_INVALID_EXPIRE_TIME: Final = Reason.INVALID_EXPIRE_TIME
R_INVALID_ORDER: Final = Reason.INVALID_ORDER
R_INVALID_PRICE: Final = Reason.INVALID_PRICE
R_INVALID_QTY_LOT: Final = Reason.INVALID_QTY_LOT
R_INVALID_STOP_PRICE: Final = Reason.INVALID_STOP_PRICE
R_IOC_REMAINDER: Final = Reason.IOC_REMAINDER
R_MARKET_PROTECTION: Final = Reason.MARKET_PROTECTION
R_MASS_CANCEL: Final = Reason.MASS_CANCEL
R_NOTIONAL_ABOVE_MAX: Final = Reason.NOTIONAL_ABOVE_MAX
R_NO_LIQUIDITY: Final = Reason.NO_LIQUIDITY
R_ORDER_NOT_FOUND: Final = Reason.ORDER_NOT_FOUND
R_POST_ONLY_WOULD_TAKE: Final = Reason.POST_ONLY_WOULD_TAKE
R_PRICE_BAND: Final = Reason.PRICE_BAND
R_QTY_ABOVE_MAX: Final = Reason.QTY_ABOVE_MAX
R_QTY_BELOW_MIN: Final = Reason.QTY_BELOW_MIN
R_REDUCE_ONLY_REDUCED: Final = Reason.REDUCE_ONLY_REDUCED
R_REDUCE_ONLY_WOULD_INCREASE: Final = Reason.REDUCE_ONLY_WOULD_INCREASE
R_REPLACE_NOT_ALLOWED: Final = Reason.REPLACE_NOT_ALLOWED
R_REPLACE_QTY_BELOW_FILLED: Final = Reason.REPLACE_QTY_BELOW_FILLED
R_SELF_TRADE: Final = Reason.SELF_TRADE
R_TOO_LATE_TO_CANCEL: Final = Reason.TOO_LATE_TO_CANCEL
R_UNKNOWN_ACCOUNT: Final = Reason.UNKNOWN_ACCOUNT
R_UNKNOWN_INSTRUMENT: Final = Reason.UNKNOWN_INSTRUMENT
R_USER_CANCEL: Final = Reason.USER_CANCEL
R_VENUE_HALTED: Final = Reason.VENUE_HALTED
