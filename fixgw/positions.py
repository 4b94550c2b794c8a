"""Positions and margin over FIX.

RequestForPositions (AN, PosReqType 0) -> RequestForPositionsAck (AO), then one PositionReport (AP)
per open position: long/short quantity, the mark as SettlPrice (SettlPriceType 2, theoretical), the
unrealised P&L at the mark as PosAmt FMTM, and our AvgEntryPx (20020) and RealisedPnL (20021).
CollateralInquiry (BB) -> CollateralReport (BA): collateral (CashOutstanding), equity
(TotalNetValue and AccountEquity 20010), initial and maintenance margin (20011, 20012), available
funds (20013), margin mode (20014) and whether marks are stale (20015), from the risk engine.
Amounts are USDC decimals.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from fixgw import fields as f
from fixgw.core import Core
from fixgw.outbound import Pairs, clean, money
from fixgw.reports import price, qty
from fixgw.wire import FixMessage, format_decimal


def _parties(account: str) -> Pairs:
    # PartyIDSource D (proprietary), PartyRole 24 (customer account)
    return [(f.NO_PARTY_IDS, "1"), (f.PARTY_ID, account), (f.PARTY_ID_SOURCE, "D"), (f.PARTY_ROLE, "24")]


def _date(now_ns: int) -> str:
    return datetime.fromtimestamp(now_ns / 1e9, UTC).strftime("%Y%m%d")


def position_reports(message: FixMessage, account: str, core: Core, now_ns: int) -> list[tuple[str, Pairs]]:
    request_id = clean(message.get(f.POS_REQ_ID)) or "NONE"
    kind = message.get(f.POS_REQ_TYPE, "0")
    ack: Pairs = [(f.POS_MAINT_RPT_ID, f"PA-{request_id}-{now_ns}"), (f.POS_REQ_ID, request_id)]
    common: Pairs = [*_parties(account), (f.ACCOUNT, account), (f.ACCOUNT_TYPE, "1")]
    if kind != "0":
        refused: Pairs = [
            *ack,
            (f.TOTAL_NUM_POS_REPORTS, "0"),
            (f.POS_REQ_RESULT, "1"),
            (f.POS_REQ_STATUS, "2"),
        ]
        return [("AO", [*refused, *common, (f.TEXT, "only PosReqType 0 (positions) is supported")])]
    held = sorted((s, p) for s, p in core.positions(account).items() if p[0])
    wanted = message.get(f.SYMBOL)
    if wanted:
        held = [(s, p) for s, p in held if s == wanted]
    result = "0" if held else "2"  # 2: no positions found
    summary: Pairs = [*ack, (f.TOTAL_NUM_POS_REPORTS, str(len(held))), (f.POS_REQ_RESULT, result)]
    replies: list[tuple[str, Pairs]] = [("AO", [*summary, (f.POS_REQ_STATUS, "0"), *common])]
    instruments = core.instruments
    for n, (symbol, (lots, cost, realised)) in enumerate(held, 1):
        inst = instruments.get(symbol)
        mark_ticks = inst.mark_ticks if inst is not None else 0
        mark = price(inst, mark_ticks) if mark_ticks else "0"
        unrealised = (
            lots * mark_ticks * inst.micro_per_tick_lot - cost if inst is not None and mark_ticks else 0
        )
        entry = (
            format_decimal(inst.spec.tick_size * Decimal(cost) / Decimal(lots * inst.micro_per_tick_lot))
            if inst is not None
            else "0"
        )
        report: Pairs = [
            (f.POS_MAINT_RPT_ID, f"P-{request_id}-{n}"), (f.POS_REQ_ID, request_id), (f.POS_REQ_TYPE, "0"),
            (f.TOTAL_NUM_POS_REPORTS, str(len(held))), (f.POS_REQ_RESULT, "0"),
            (f.CLEARING_BUSINESS_DATE, _date(now_ns)), *common, (f.SYMBOL, symbol), (f.CURRENCY, "USDC"),
            (f.SETTL_PRICE, mark), (f.SETTL_PRICE_TYPE, "2"), (f.PRIOR_SETTL_PRICE, mark),
            (f.NO_POSITIONS, "1"), (f.POS_TYPE, "TOT"),
            (f.LONG_QTY, qty(inst, max(lots, 0))), (f.SHORT_QTY, qty(inst, max(-lots, 0))),
            (f.NO_POS_AMT, "1"), (f.POS_AMT_TYPE, "FMTM"), (f.POS_AMT, money(unrealised)),
            (f.AVG_ENTRY_PX, entry), (f.REALISED_PNL, money(realised)),
        ]  # fmt: skip
        replies.append(("AP", report))
    return replies


def collateral_report(message: FixMessage, account: str, core: Core, now_ns: int) -> tuple[str, Pairs]:
    inquiry = clean(message.get(f.COLL_INQUIRY_ID)) or "NONE"
    collateral = core.collateral(account)
    margin = core.margin(account)
    if collateral is None or margin is None:
        refusal: Pairs = [
            (f.COLL_INQUIRY_ID, inquiry),
            (f.COLL_INQUIRY_STATUS, "4"),
            (f.COLL_INQUIRY_RESULT, "99"),
        ]
        return "BG", [
            *refusal,
            *_parties(account),
            (f.ACCOUNT, account),
            (f.TEXT, "no collateral for this account"),
        ]
    return "BA", [
        (f.COLL_RPT_ID, f"C-{inquiry}-{now_ns}"), (f.COLL_INQUIRY_ID, inquiry), (f.COLL_STATUS, "3"),
        *_parties(account), (f.ACCOUNT, account), (f.CURRENCY, "USDC"),
        (f.MARGIN_EXCESS, money(margin.equity_micro - margin.maintenance_micro)),
        (f.TOTAL_NET_VALUE, money(margin.equity_micro)), (f.CASH_OUTSTANDING, money(collateral)),
        (f.ACCOUNT_EQUITY, money(margin.equity_micro)), (f.INITIAL_MARGIN, money(margin.initial_micro)),
        (f.MAINTENANCE_MARGIN, money(margin.maintenance_micro)),
        (f.AVAILABLE_FUNDS, money(margin.available_micro)),
        (f.MARGIN_MODE, "P" if margin.portfolio else "S"), (f.MARKS_STALE, "Y" if margin.stale else "N"),
    ]  # fmt: skip
