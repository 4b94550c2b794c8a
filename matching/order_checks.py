"""Whether an order or a replace may be accepted: pure checks, no state but what they are given.

Each returns 0 or a reason code from matching.reasons; the matcher turns a non-zero answer into a
reject. Checks run in a fixed order (venue state, size, client order id, then the order's terms), so
the reason reported for an order with several faults is stable.
"""

from __future__ import annotations

from matching.book import BookSide, Order
from matching.commands import ReplaceOrder
from matching.instruments import PPM, Instrument
from matching.ledger import Account
from matching.native_codes import (
    FOK,
    GTC,
    GTD,
    IOC,
    LAST_TRIGGER,
    LIMIT,
    MARK_TRIGGER,
    MARKET,
    R_DUPLICATE_CLIENT_ORDER_ID,
    R_INSTRUMENT_HALTED,
    R_INSTRUMENT_NOT_ACTIVE,
    R_INVALID_EXPIRE_TIME,
    R_INVALID_ORDER,
    R_INVALID_PRICE,
    R_INVALID_QTY_LOT,
    R_INVALID_STOP_PRICE,
    R_NOTIONAL_ABOVE_MAX,
    R_PRICE_BAND,
    R_QTY_ABOVE_MAX,
    R_QTY_BELOW_MIN,
    R_REPLACE_NOT_ALLOWED,
    R_REPLACE_QTY_BELOW_FILLED,
    R_VENUE_HALTED,
    STOP_LIMIT,
    STOP_MARKET,
)


def validate_new(order: Order, now: int, venue_halted: bool) -> int:
    """0, or why a new order is refused: state of the venue, size, client order id, then its terms."""
    inst = order.instrument
    if not inst.active:
        return R_INSTRUMENT_NOT_ACTIVE
    if venue_halted:
        return R_VENUE_HALTED
    if inst.halted:
        return R_INSTRUMENT_HALTED
    side = order.side
    if side != 1 and side != -1:
        return R_INVALID_ORDER
    qty = order.qty
    if qty <= 0:
        return R_INVALID_QTY_LOT
    if qty < inst.min_qty_lots:
        return R_QTY_BELOW_MIN
    if qty > inst.max_qty_lots:
        return R_QTY_ABOVE_MAX
    clid = order.client_order_id
    if clid and clid in order.account.client_ids:
        return R_DUPLICATE_CLIENT_ORDER_ID
    return validate_terms(order, inst, now)


def validate_terms(order: Order, inst: Instrument, now: int) -> int:
    """Order type, time in force, price and stop fields, and the price band."""
    order_type, tif = order.order_type, order.tif
    if tif != GTC and tif != IOC and tif != FOK and tif != GTD:
        return R_INVALID_ORDER
    if tif == GTD and order.expire_ns <= now:
        return R_INVALID_EXPIRE_TIME
    if order.post_only and (tif == IOC or tif == FOK or order_type != LIMIT):
        return R_INVALID_ORDER
    if order_type == LIMIT or order_type == STOP_LIMIT:
        price = order.price
        if price <= 0:
            return R_INVALID_PRICE
        if price * order.qty * inst.micro_per_tick_lot > inst.max_notional_micro:
            return R_NOTIONAL_ABOVE_MAX
        if order_type == LIMIT and not within_band(inst, order.side, price):
            return R_PRICE_BAND
    elif order_type == MARKET:
        if tif == GTC or tif == GTD:
            return R_INVALID_ORDER
    elif order_type != STOP_MARKET:
        return R_INVALID_ORDER
    if order_type == STOP_MARKET or order_type == STOP_LIMIT:
        return validate_stop(order, inst)
    return 0


def validate_stop(order: Order, inst: Instrument) -> int:
    trigger_by = order.trigger_by
    if trigger_by != MARK_TRIGGER and trigger_by != LAST_TRIGGER:
        return R_INVALID_ORDER
    stop = order.stop_price
    if stop <= 0:
        return R_INVALID_STOP_PRICE
    ref = inst.mark_ticks if trigger_by == MARK_TRIGGER else inst.last_trade_ticks
    # a stop that would trigger at once is refused: the client meant a different order
    if ref and ((order.side > 0 and stop <= ref) or (order.side < 0 and stop >= ref)):
        return R_INVALID_STOP_PRICE
    if order.tif == FOK:
        return R_INVALID_ORDER
    return 0


def within_band(inst: Instrument, side: int, price: int) -> bool:
    """Fat-finger band: a buy may not be priced above mark + band, a sell not below mark - band."""
    mark = inst.mark_ticks
    if not mark:
        return True
    band = max(mark * inst.band_ppm // PPM, inst.band_floor_ticks)
    return price <= mark + band if side > 0 else price >= mark - band


def protected_price(inst: Instrument, side: int, opposite: BookSide) -> int:
    """A market order's worst price: the mark (or touch) moved by the protection; 0 without either."""
    ref = inst.mark_ticks or opposite.best
    if not ref:
        return 0
    if side > 0:
        return ref * (PPM + inst.protection_ppm) // PPM
    return max(1, -((-ref * (PPM - inst.protection_ppm)) // PPM))


def validate_replace(cmd: ReplaceOrder, order: Order, account: Account, venue_halted: bool) -> int:
    """0, or why a replace is refused (the order stays as it was)."""
    inst = order.instrument
    if venue_halted:
        return R_VENUE_HALTED
    if inst.halted:
        return R_INSTRUMENT_HALTED
    if cmd.qty_lots <= order.cum_qty:
        return R_REPLACE_QTY_BELOW_FILLED
    if cmd.qty_lots > inst.max_qty_lots:
        return R_QTY_ABOVE_MAX
    new_clid = cmd.client_order_id
    if new_clid and new_clid != order.client_order_id and new_clid in account.client_ids:
        return R_DUPLICATE_CLIENT_ORDER_ID
    is_stop = order.order_type == STOP_MARKET or order.order_type == STOP_LIMIT
    if order.order_type == STOP_MARKET:
        return 0 if cmd.stop_price_ticks >= 0 else R_INVALID_STOP_PRICE
    if cmd.price_ticks <= 0:
        return R_INVALID_PRICE
    if cmd.price_ticks * cmd.qty_lots * inst.micro_per_tick_lot > inst.max_notional_micro:
        return R_NOTIONAL_ABOVE_MAX
    if not is_stop and not within_band(inst, order.side, cmd.price_ticks):
        return R_PRICE_BAND
    if order.reduce_only and cmd.qty_lots - order.cum_qty > order.leaves:
        return R_REPLACE_NOT_ALLOWED  # a reduce-only order may only shrink
    return 0
