"""Block trades: a package executed off the book between two accounts, every leg or none.

The RFQ desk (``rfq.desk``) decides who trades what at which prices; this module checks that the venue
may execute it (venue and instruments open, prices inside the fat-finger band, both accounts' margin on
the whole package) and books it through the ledger exactly as the matcher books a fill: the same fee
schedule (taker fee for the taker, maker fee for the maker), the same trade id sequence, the same
PositionChanged/BalanceChanged events and risk-engine updates.
"""

from __future__ import annotations

from dataclasses import dataclass

from matching.events import BalanceChanged, BlockTrade, PositionChanged
from matching.instruments import Instrument
from matching.ledger import Account
from matching.order_checks import within_band
from matching.reasons import Reason
from matching.risk_check import PackageFill
from matching.sequencer import Sequencer
from matching.types import BalanceReason


@dataclass(frozen=True, slots=True)
class BlockLeg:
    instrument: Instrument
    qty: int  # signed lots as the taker trades them
    price: int  # ticks


def check_legs(sequencer: Sequencer, legs: list[BlockLeg]) -> int:
    """0 if the venue may trade these legs now, else a ``Reason`` (halts, delisting, band, size)."""
    if sequencer.matcher.venue_halted:
        return Reason.VENUE_HALTED
    for leg in legs:
        inst = leg.instrument
        if not inst.active:
            return Reason.INSTRUMENT_NOT_ACTIVE
        if inst.halted:
            return Reason.INSTRUMENT_HALTED
        if leg.price <= 0:
            return Reason.INVALID_PRICE
        if not (within_band(inst, 1, leg.price) and within_band(inst, -1, leg.price)):
            return Reason.PRICE_BAND
    return 0


def check_margin(
    sequencer: Sequencer, taker: Account, maker: Account, legs: list[BlockLeg]
) -> tuple[int, int]:
    """(taker's reason, maker's reason): 0 each when that side passes portfolio margin on the package."""
    risk = sequencer.risk
    taker_fills: list[PackageFill] = [(leg.instrument, leg.qty, leg.price) for leg in legs]
    maker_fills: list[PackageFill] = [(leg.instrument, -leg.qty, leg.price) for leg in legs]
    taker_fee, maker_fee = fees(legs)
    return (
        risk.check_package(taker, taker_fills, taker_fee),
        risk.check_package(maker, maker_fills, maker_fee),
    )


def fees(legs: list[BlockLeg]) -> tuple[int, int]:
    """(taker's, maker's) total fee in micro-USDC."""
    taker = maker = 0
    for leg in legs:
        qty = abs(leg.qty)
        taker += leg.instrument.fee_micro(leg.price, qty, False)
        maker += leg.instrument.fee_micro(leg.price, qty, True)
    return taker, maker


def execute(
    sequencer: Sequencer, taker: Account, maker: Account, legs: list[BlockLeg], rfq_id: int, quote_id: int
) -> int:
    """Book every leg (checks done by the caller); returns the first leg's trade id."""
    matcher, ledger, risk, out = sequencer.matcher, sequencer.ledger, sequencer.risk, sequencer.out
    book_fill = ledger.book_fill
    first_trade_id = matcher.next_trade_id
    taker_cash = maker_cash = fee_total = 0
    for leg in legs:
        inst, qty, price = leg.instrument, leg.qty, leg.price
        taker_fee = inst.fee_micro(price, abs(qty), False)
        maker_fee = inst.fee_micro(price, abs(qty), True)
        trade_id = matcher.next_trade_id
        matcher.next_trade_id = trade_id + 1
        out.append(
            BlockTrade(
                trade_id,
                rfq_id,
                quote_id,
                inst.symbol,
                price,
                abs(qty),
                1 if qty > 0 else -1,
                taker.id,
                maker.id,
                taker_fee,
                maker_fee,
            )
        )
        for account, signed, fee in ((taker, qty, taker_fee), (maker, -qty, maker_fee)):
            pos = account.positions.get(inst.id)
            old = pos.qty if pos is not None else 0
            cash = book_fill(account, inst, signed, price, fee)
            if account is taker:
                taker_cash += cash
            else:
                maker_cash += cash
            pos = account.positions[inst.id]
            out.append(PositionChanged(account.id, inst.symbol, pos.qty, pos.cost, pos.realised))
            risk.on_position_change(account, inst, old, pos.qty)
        fee_total += taker_fee + maker_fee
    for account, cash in ((taker, taker_cash), (maker, maker_cash)):
        if cash:
            out.append(BalanceChanged(account.id, cash, account.collateral, BalanceReason.TRADE, ""))
    if fee_total:
        fee_account = ledger.fee_account
        fee_account.collateral += fee_total
        out.append(
            BalanceChanged(fee_account.id, fee_total, fee_account.collateral, BalanceReason.FEE_INCOME, "")
        )
    for account in (taker, maker):
        if account.reduce_only:
            for leg in legs:
                matcher.enforce_reduce_only(account, matcher.markets[leg.instrument.symbol])
    return first_trade_id
