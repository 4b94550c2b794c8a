"""ExecutionReport (8), OrderCancelReject (9), OrderMassCancelReport (r) and BusinessMessageReject (j).

``OrderState`` is the gateway's view of one live order: what every report repeats (symbol, side,
quantities, prices) so a client can reconcile from any single report. Quantities are in coins and
prices in USD, as decimal strings; AvgPx is exact to 1e-8.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from fixgw import fields as f
from fixgw.outbound import Pairs, clean, money
from fixgw.wire import format_decimal, utc_timestamp
from matching.instruments import Instrument
from matching.reasons import text as reason_text
from matching.types import TimeInForce

AVG_PX_QUANTUM = Decimal("1e-8")


@dataclass(slots=True)
class OrderState:
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
    expire_ns: int = 0
    leaves_qty: int = 0
    cum_qty: int = 0
    cum_value: int = 0  # sum of price ticks x lots filled
    session: str | None = None  # TargetCompID of the session that placed it; None: another door
    first_client_order_id: str = ""  # as placed, before any replace

    def __post_init__(self) -> None:
        if not self.first_client_order_id:
            self.first_client_order_id = self.client_order_id

    def status(self) -> str:
        """OrdStatus of a live order: new or partially filled."""
        return f.STATUS_PARTIAL if self.cum_qty else f.STATUS_NEW


@lru_cache(maxsize=65_536)
def _scaled(unit: Decimal, count: int) -> str:
    return format_decimal(unit * count)


def price(inst: Instrument | None, ticks: int) -> str:
    """A price in ticks as the USD decimal string FIX carries (cached: reports repeat prices)."""
    return _scaled(inst.spec.tick_size, ticks) if inst is not None else str(ticks)


def qty(inst: Instrument | None, lots: int) -> str:
    """A quantity in lots as the decimal string in coins."""
    return _scaled(inst.spec.lot_size, lots) if inst is not None else str(lots)


def avg_px(inst: Instrument | None, cum_value: int, cum_qty: int) -> str:
    if not cum_qty or inst is None:
        return "0"
    value = inst.spec.tick_size * Decimal(cum_value) / Decimal(cum_qty)
    return format_decimal(value.quantize(AVG_PX_QUANTUM))


def execution_report(
    order: OrderState,
    inst: Instrument | None,
    exec_id: str,
    exec_type: str,
    ord_status: str,
    ts_ns: int,
    *,
    orig_client_order_id: str = "",
    client_order_id: str | None = None,
    text: str = "",
) -> Pairs:
    """The fields every ExecutionReport about ``order`` carries; callers append fill or reject details."""
    pairs: Pairs = [
        (f.ORDER_ID, str(order.order_id) if order.order_id else "NONE"),
        (f.CL_ORD_ID, client_order_id if client_order_id is not None else order.client_order_id),
    ]
    if orig_client_order_id:
        pairs.append((f.ORIG_CL_ORD_ID, orig_client_order_id))
    pairs += [
        (f.EXEC_ID, exec_id),
        (f.EXEC_TYPE, exec_type),
        (f.ORD_STATUS, ord_status),
        (f.ACCOUNT, order.account),
        (f.SYMBOL, order.symbol),
        (f.SIDE, f.SIDE_CODE.get(order.side, "1")),
        (f.ORDER_QTY, qty(inst, order.qty_lots)),
        (f.ORD_TYPE, f.ORD_TYPE_CODE.get(order.order_type, "2")),
        (f.TIME_IN_FORCE, f.TIF_CODE.get(order.tif, "1")),
        (f.LEAVES_QTY, qty(inst, order.leaves_qty)),
        (f.CUM_QTY, qty(inst, order.cum_qty)),
        (f.AVG_PX, avg_px(inst, order.cum_value, order.cum_qty)),
        (f.TRANSACT_TIME, utc_timestamp(ts_ns)),
    ]
    if order.price_ticks:
        pairs.append((f.PRICE, price(inst, order.price_ticks)))
    if order.stop_price_ticks:
        pairs.append((f.STOP_PX, price(inst, order.stop_price_ticks)))
    if order.tif == TimeInForce.GTD and order.expire_ns:
        pairs.append((f.EXPIRE_TIME, utc_timestamp(order.expire_ns)))
    if text:
        pairs.append((f.TEXT, clean(text)))
    return pairs


def fill_details(
    inst: Instrument | None, price_ticks: int, lots: int, fee_micro: int, maker: bool, trade_id: int
) -> Pairs:
    return [
        (f.LAST_PX, price(inst, price_ticks)),
        (f.LAST_QTY, qty(inst, lots)),
        (f.COMMISSION, money(fee_micro)),
        (f.COMM_TYPE, "3"),  # absolute, in the settlement currency (USDC)
        (f.LAST_LIQUIDITY_IND, "1" if maker else "2"),
        (f.SECONDARY_EXEC_ID, f"T{trade_id}"),  # the trade id, the same on both sides of the trade
    ]


def rejection(reason: int, text: str) -> Pairs:
    return [(f.ORD_REJ_REASON, f.ord_rej_reason(reason)), (f.TEXT, clean(text or reason_text(reason)))]


def cancel_reject(
    order_id: int,
    client_order_id: str,
    orig_client_order_id: str,
    ord_status: str,
    response_to: int,
    reason: int,
    text: str,
    account: str,
) -> Pairs:
    """OrderCancelReject (9); ``response_to`` 1 for a cancel, 2 for a replace request."""
    return [
        (f.ORDER_ID, str(order_id) if order_id else "NONE"),
        (f.CL_ORD_ID, client_order_id or "NONE"),
        (f.ORIG_CL_ORD_ID, orig_client_order_id or "NONE"),
        (f.ORD_STATUS, ord_status),
        (f.ACCOUNT, account),
        (f.CXL_REJ_RESPONSE_TO, str(response_to)),
        (f.CXL_REJ_REASON, f.cxl_rej_reason(reason)),
        (f.TEXT, clean(text or reason_text(reason))),
    ]


def business_reject(ref_seq: str, ref_msg_type: str, reason: int, text: str, ref_id: str = "") -> Pairs:
    """BusinessMessageReject (j): 0 other, 1 unknown id, 2 unknown security, 3 unsupported message
    type, 4 application not available, 5 conditionally required field missing, 6 not authorised."""
    pairs: Pairs = [(f.REF_SEQ_NUM, ref_seq or "0"), (f.REF_MSG_TYPE, ref_msg_type or "?")]
    if ref_id:
        pairs.append((f.BUSINESS_REJECT_REF_ID, clean(ref_id)))
    pairs += [(f.BUSINESS_REJECT_REASON, str(reason)), (f.TEXT, clean(text))]
    return pairs
