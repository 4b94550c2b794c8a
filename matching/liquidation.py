"""Liquidation of an account below maintenance margin, inside the sequencer, as events.

Procedure (each step is deterministic, so replay reproduces it):
1. ``LiquidationStarted``; every live order of the account is cancelled (reason LIQUIDATION).
2. While equity < maintenance margin: the risk engine names the largest contributor and how much of it
   to close; a reduce-only IOC market order does it through the book, never beyond the instrument's
   protection band around the mark or touch. A fee on the underlying notional filled goes from the
   account to the insurance fund (never more than the account's remaining equity). No fill (no
   liquidity within the band) ends the book phase.
3. Still below maintenance and insolvent (equity <= 0): the remaining positions are closed out against
   the insurance fund at the mark, and the fund covers the negative collateral; if the fund's equity
   (its cash plus the positions it took over, at the marks) is then negative, that is the shortfall.
   Still below maintenance but solvent: the liquidation is pending and the margin monitor tries again
   at the next mark update.
4. ``LiquidationEnded`` with the outcome, the equity and the insurance fund.
"""

from __future__ import annotations

from config.risk_params import LiquidationParams
from matching.commands import NewOrder
from matching.events import (
    BalanceChanged,
    LiquidationEnded,
    LiquidationStarted,
    LiquidationStep,
    PositionChanged,
    PositionTransferred,
)
from matching.instruments import PPM, Instrument
from matching.ledger import Account, Ledger
from matching.matcher import Matcher
from matching.reasons import Reason
from matching.risk_check import RiskCheck
from matching.types import BalanceReason, LiquidationStatus, OrderType, TimeInForce


class LiquidationTerms:
    """Where liquidation fees go and how far the book phase may run."""

    __slots__ = ("fee_ppm", "insurance_account", "max_steps")

    def __init__(
        self, insurance_account: str = "insurance", fee_ppm: int = 3_000, max_steps: int = 64
    ) -> None:
        self.insurance_account = insurance_account
        self.fee_ppm = fee_ppm
        self.max_steps = max_steps

    @classmethod
    def from_config(cls, params: LiquidationParams) -> LiquidationTerms:
        """The terms of config/risk.toml's [liquidation] table (fee as a fraction there)."""
        return cls(params.insurance_account, round(params.fee * PPM), params.max_steps)


class Liquidator:
    """Runs the procedure in the module docstring for one account at a time."""

    def __init__(self, matcher: Matcher, ledger: Ledger, risk: RiskCheck, terms: LiquidationTerms) -> None:
        self.matcher = matcher
        self.ledger = ledger
        self.risk = risk
        self.terms = terms

    def below_maintenance(self, account: Account) -> bool:
        equity, _, maintenance = self.risk.margin_state(account)
        return maintenance > 0 and equity < maintenance

    def run(self, account: Account) -> None:
        """Liquidate ``account``; the caller has checked it is below maintenance margin."""
        matcher, risk = self.matcher, self.risk
        equity, _, maintenance = risk.margin_state(account)
        matcher.out.append(LiquidationStarted(account.id, equity, maintenance))
        matcher.cancel_account(account, Reason.LIQUIDATION)
        for _ in range(self.terms.max_steps):
            if not self.below_maintenance(account):
                break
            step = risk.liquidation_step(account)
            if step is None or not self._through_book(account, *step):
                break
        status = LiquidationStatus.RESTORED
        shortfall = 0
        if self.below_maintenance(account):
            equity, _, _ = risk.margin_state(account)
            if equity <= 0:
                shortfall = self._close_out(account)
                status = LiquidationStatus.CLOSED_OUT
            else:
                status = LiquidationStatus.PENDING
        equity, _, maintenance = risk.margin_state(account)
        fund = self.ledger.open(self.terms.insurance_account).collateral
        matcher.out.append(LiquidationEnded(account.id, status, equity, maintenance, fund, shortfall))

    def _through_book(self, account: Account, inst: Instrument, signed_lots: int) -> bool:
        """One reduce-only IOC market order; True if anything filled."""
        pos = account.positions.get(inst.id)
        before = pos.qty if pos is not None else 0
        order_id = self.matcher.next_order_id
        self.matcher.new_order(
            NewOrder(
                account=account.id,
                client_order_id="",
                symbol=inst.symbol,
                side=1 if signed_lots > 0 else -1,
                qty_lots=abs(signed_lots),
                order_type=OrderType.MARKET,
                tif=TimeInForce.IOC,
                reduce_only=True,
            )
        )
        pos = account.positions.get(inst.id)
        filled = (pos.qty if pos is not None else 0) - before
        if filled == 0:
            return False
        equity, _, _ = self.risk.margin_state(account)
        fee = min(inst.underlying_notional_micro(abs(filled)) * self.terms.fee_ppm // PPM, max(equity, 0))
        if fee > 0:
            self._move(
                account, self.ledger.open(self.terms.insurance_account), fee, BalanceReason.LIQUIDATION_FEE
            )
        self.matcher.out.append(LiquidationStep(account.id, inst.symbol, order_id, filled, fee))
        return True

    def _close_out(self, account: Account) -> int:
        """Hand every open position to the insurance fund at the mark; returns the fund's shortfall."""
        fund = self.ledger.open(self.terms.insurance_account)
        out = self.matcher.out
        for _, pos in sorted(account.positions.items()):
            qty = pos.qty
            inst = pos.instrument
            price = inst.mark_ticks or inst.last_trade_ticks
            if qty == 0 or price <= 0:
                continue
            out.append(PositionTransferred(account.id, fund.id, inst.symbol, qty, price))
            for holder, signed in ((account, -qty), (fund, qty)):
                old = holder.position(inst).qty
                cash = Ledger.book_fill(holder, inst, signed, price, 0)
                self.risk.on_position_change(holder, inst, old, old + signed)
                p = holder.positions[inst.id]
                out.append(PositionChanged(holder.id, inst.symbol, p.qty, p.cost, p.realised))
                if cash:
                    out.append(
                        BalanceChanged(holder.id, cash, holder.collateral, BalanceReason.TRADE, "close-out")
                    )
        deficit = -account.collateral
        if deficit > 0:
            self._move(fund, account, deficit, BalanceReason.INSURANCE_COVER)
        # The fund now holds the positions too: what it lacks is its negative equity at the marks.
        return max(0, -self.risk.margin_state(fund)[0])

    def _move(self, payer: Account, payee: Account, amount: int, reason: int) -> None:
        payer.collateral -= amount
        payee.collateral += amount
        out = self.matcher.out
        out.append(BalanceChanged(payer.id, -amount, payer.collateral, reason, payee.id))
        out.append(BalanceChanged(payee.id, amount, payee.collateral, reason, payer.id))
