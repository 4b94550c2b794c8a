"""FIX order messages -> commands. Pure translation: no state, no I/O.

Prices and quantities arrive as decimals in the instrument's units (USD, coins) and must be whole
ticks and lots; anything that cannot become a valid command raises ``Refused`` with the reason code
the ExecutionReport or OrderCancelReject carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from fixgw import fields as f
from fixgw.wire import FieldError, FixMessage, decimal_field, parse_utc_timestamp
from matching.commands import CancelOrder, MassCancel, NewOrder, ReplaceOrder
from matching.instruments import Instrument
from matching.reasons import Reason
from matching.types import OrderType, TimeInForce, TriggerBy

MAX_ID_LENGTH = 64


class Refused(Exception):
    def __init__(self, reason: Reason, text: str) -> None:
        super().__init__(text)
        self.reason = reason
        self.text = text


def _ticks(inst: Instrument, value: Decimal | None, tag: int) -> int:
    if value is None:
        return 0
    if value <= 0:
        raise Refused(Reason.INVALID_PRICE, f"tag {tag}: price must be positive")
    ticks = inst.price_to_ticks(value)
    if ticks is None:
        raise Refused(
            Reason.INVALID_PRICE_TICK, f"tag {tag}: {value} is not a multiple of {inst.spec.tick_size}"
        )
    if ticks >= 2**62:
        raise Refused(Reason.INVALID_PRICE, f"tag {tag}: price too large")
    return ticks


def _lots(inst: Instrument, value: Decimal) -> int:
    lots = inst.qty_to_lots(value)
    if lots is None or lots <= 0:
        raise Refused(
            Reason.INVALID_QTY_LOT, f"OrderQty {value} is not a positive multiple of {inst.spec.lot_size}"
        )
    if lots >= 2**62:
        raise Refused(Reason.QTY_ABOVE_MAX, "OrderQty too large")
    return lots


def client_id(message: FixMessage, tag: int, *, required: bool = True) -> str:
    value = message.get(tag)
    if required and not value:
        raise Refused(Reason.INVALID_ORDER, f"tag {tag} is required")
    if len(value) > MAX_ID_LENGTH:
        raise Refused(Reason.INVALID_ORDER, f"tag {tag} longer than {MAX_ID_LENGTH} characters")
    return value


def instrument(message: FixMessage, instruments: Mapping[str, Instrument]) -> Instrument:
    symbol = message.get(f.SYMBOL)
    inst = instruments.get(symbol)
    if inst is None:
        raise Refused(Reason.UNKNOWN_INSTRUMENT, f"unknown symbol {symbol!r}")
    return inst


def _decimal(message: FixMessage, tag: int, *, required: bool = False) -> Decimal | None:
    try:
        return decimal_field(message, tag, required=required)
    except FieldError as exc:
        raise Refused(Reason.INVALID_ORDER, str(exc)) from None


def new_order(message: FixMessage, account: str, instruments: Mapping[str, Instrument]) -> NewOrder:
    """NewOrderSingle (D) -> NewOrder. ExecInst 6 post-only, E reduce-only; stops via OrdType 3/4 + StopPx."""
    cl_ord_id = client_id(message, f.CL_ORD_ID)
    inst = instrument(message, instruments)
    side = f.SIDES.get(message.get(f.SIDE))
    if side is None:
        raise Refused(Reason.INVALID_ORDER, "Side (54) must be 1 (buy) or 2 (sell)")
    order_type = f.ORD_TYPES.get(message.get(f.ORD_TYPE, "2"))
    if order_type is None:
        raise Refused(Reason.INVALID_ORDER, "OrdType (40) must be 1, 2, 3 or 4")
    tif = f.TIFS.get(message.get(f.TIME_IN_FORCE, "1"))
    if tif is None:
        raise Refused(Reason.INVALID_ORDER, "TimeInForce (59) must be 1 (GTC), 3 (IOC), 4 (FOK) or 6 (GTD)")
    qty = _decimal(message, f.ORDER_QTY, required=True)
    assert qty is not None
    price = _decimal(message, f.PRICE)
    stop = _decimal(message, f.STOP_PX)
    if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT) and price is None:
        raise Refused(Reason.INVALID_ORDER, "Price (44) is required for limit orders")
    if order_type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT) and stop is None:
        raise Refused(Reason.INVALID_STOP_PRICE, "StopPx (99) is required for stop orders")
    if order_type in (OrderType.MARKET, OrderType.STOP_MARKET):
        price = None
    expire_ns = 0
    if tif == TimeInForce.GTD:
        raw = message.get(f.EXPIRE_TIME)
        parsed = parse_utc_timestamp(raw) if raw else None
        if parsed is None:
            raise Refused(Reason.INVALID_EXPIRE_TIME, "ExpireTime (126) is required for GTD orders")
        expire_ns = parsed
    exec_inst = message.get(f.EXEC_INST).split()
    unknown = [token for token in exec_inst if token not in ("6", "E")]
    if unknown:
        raise Refused(Reason.INVALID_ORDER, f"ExecInst (18) {' '.join(unknown)} not supported (6, E)")
    trigger = f.TRIGGERS.get(message.get(f.TRIGGER_BY, "M"))
    stp = f.STP_MODES.get(message.get(f.STP_MODE)) if message.get(f.STP_MODE) else None
    if trigger is None or (message.get(f.STP_MODE) and stp is None):
        raise Refused(Reason.INVALID_ORDER, "TriggerBy (20001) M/L; SelfTradePrevention (20002) 1-4")
    return NewOrder(
        account=account,
        client_order_id=cl_ord_id,
        symbol=inst.symbol,
        side=side,
        qty_lots=_lots(inst, qty),
        price_ticks=_ticks(inst, price, f.PRICE),
        order_type=int(order_type),
        tif=int(tif),
        expire_ns=expire_ns,
        post_only="6" in exec_inst,
        reduce_only="E" in exec_inst,
        stop_price_ticks=_ticks(inst, stop, f.STOP_PX),
        trigger_by=int(trigger or TriggerBy.MARK),
        stp_mode=int(stp) if stp else 0,
    )


def _order_ref(message: FixMessage) -> tuple[int, str]:
    """(OrderID, OrigClOrdID) naming the target order: OrderID wins when it is one of ours."""
    raw = message.get(f.ORDER_ID)
    order_id = int(raw) if raw.isdigit() and len(raw) < 19 else 0
    orig = client_id(message, f.ORIG_CL_ORD_ID, required=order_id == 0)
    return order_id, orig


def cancel(message: FixMessage, account: str) -> CancelOrder:
    """OrderCancelRequest (F) -> CancelOrder."""
    client_id(message, f.CL_ORD_ID)
    order_id, orig = _order_ref(message)
    return CancelOrder(account=account, order_id=order_id, client_order_id="" if order_id else orig)


def replace(message: FixMessage, account: str, inst: Instrument) -> ReplaceOrder:
    """OrderCancelReplaceRequest (G) -> ReplaceOrder: new total OrderQty, Price, StopPx, ClOrdID."""
    cl_ord_id = client_id(message, f.CL_ORD_ID)
    order_id, orig = _order_ref(message)
    qty = _decimal(message, f.ORDER_QTY, required=True)
    assert qty is not None
    return ReplaceOrder(
        account=account,
        order_id=order_id,
        orig_client_order_id="" if order_id else orig,
        client_order_id=cl_ord_id,
        qty_lots=_lots(inst, qty),
        price_ticks=_ticks(inst, _decimal(message, f.PRICE), f.PRICE),
        stop_price_ticks=_ticks(inst, _decimal(message, f.STOP_PX), f.STOP_PX),
    )


# MassCancelRequestType (530): 1 by security, 7 all orders, 9 by underlying (FIX 5.0's 9 is a
# market segment; we follow Deribit and take 9 with UnderlyingSymbol). Side (54) narrows any of them.
MASS_CANCEL_TYPES = ("1", "7", "9")


def mass_cancel(message: FixMessage, account: str, instruments: Mapping[str, Instrument]) -> MassCancel:
    """OrderMassCancelRequest (q) -> MassCancel of one account."""
    request_id = client_id(message, f.CL_ORD_ID)
    kind = message.get(f.MASS_CANCEL_REQUEST_TYPE)
    if kind not in MASS_CANCEL_TYPES:
        raise Refused(Reason.INVALID_ORDER, "MassCancelRequestType (530) must be 1, 7 or 9")
    symbol = underlying = ""
    if kind == "1":
        symbol = instrument(message, instruments).symbol
    elif kind == "9":
        underlying = message.get(f.UNDERLYING_SYMBOL)
        if not any(i.underlying == underlying for i in instruments.values()):
            raise Refused(Reason.UNKNOWN_INSTRUMENT, f"unknown underlying {underlying!r}")
    side = f.SIDES.get(message.get(f.SIDE), 0) if message.get(f.SIDE) else 0
    return MassCancel(account=account, symbol=symbol, underlying=underlying, side=side, request_id=request_id)
