"""The pre-trade risk interface the sequencer calls, and its stand-in initial-margin model.

``matching`` never imports ``risk``: the composition root (``venue``) plugs the margin engine
(``risk.engine.MarginEngine``) in through ``RiskCheck``. The sequencer calls ``check_order`` for every
order that adds risk, holds ``order_margin`` for each resting order in ``Account.order_margin`` (shrunk
pro rata as it fills), reports every position change through ``on_position_change`` and every
MarkUpdate through ``on_marks`` so an engine can keep incremental state, and asks
``accounts_below_maintenance`` after each MarkUpdate (the margin monitor; ``matching.liquidation``).
Calls happen on the sequencer thread, in command order; they must not raise and must be deterministic.

The stand-in (``StandInMargin``), for matching's own tests and benchmark, is simple and conservative
and never liquidates:
- long option: the premium; short option: premium + ``short_option_rate`` x underlying notional;
- perpetual: ``perp_im_rate`` x notional, at the order price for orders and the mark for positions;
- equity = collateral + option positions at mark + perpetual unrealised P&L at mark (entry if no mark);
- an order passes when its margin fits in equity minus position and open-order margin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from matching.commands import SmileMark
from matching.instruments import PPM, Instrument
from matching.ledger import Account
from matching.reasons import Reason

NANO = 1_000_000_000  # nano-coins per coin (deltas)


PackageFill = tuple[Instrument, int, int]  # (instrument, signed lots for the account, price in ticks)


class RiskCheck(Protocol):
    def order_margin(
        self, account: Account, instrument: Instrument, side: int, price_ticks: int, qty_lots: int
    ) -> int:
        """Margin in micro-USDC to hold while this order rests (>= 0)."""
        ...

    def check_order(
        self,
        account: Account,
        instrument: Instrument,
        side: int,
        price_ticks: int,
        qty_lots: int,
        margin_micro: int,
    ) -> int:
        """0 if the order may go ahead, else a ``Reason`` code. ``margin_micro``: what order_margin said."""
        ...

    def check_withdrawal(self, account: Account, amount_micro: int) -> int:
        """0 if ``amount_micro`` may leave the account, else a ``Reason`` code."""
        ...

    def check_package(self, account: Account, fills: list[PackageFill], fee_micro: int) -> int:
        """0 if the account may take every fill of a block trade at once and pay ``fee_micro``, else a
        ``Reason`` code. A package passes when the account meets initial margin after it, or when it
        lowers the margin requirement without lowering equity less margin (a risk-reducing package)."""
        ...

    def delta_per_lot(self, instrument: Instrument) -> int:
        """Delta of one long lot in nano-coins of the underlying at the current marks (0 if unknown)."""
        ...

    def on_position_change(
        self, account: Account, instrument: Instrument, old_qty: int, new_qty: int
    ) -> None:
        """Called after every fill for each side, with the position before and after, in lots."""
        ...

    def on_marks(
        self, underlying: str, time_ns: int, instruments: list[Instrument], smiles: tuple[SmileMark, ...]
    ) -> None:
        """A MarkUpdate was applied (index and marks already set on ``instruments``): revalue."""
        ...

    def set_margin_mode(self, account: Account, portfolio: bool) -> int:
        """Switch an account between portfolio and standard margin; 0 or a ``Reason`` code."""
        ...

    def margin_state(self, account: Account) -> tuple[int, int, int]:
        """(equity, initial margin including open orders, maintenance margin), in micro-USDC."""
        ...

    def accounts_below_maintenance(self) -> list[str]:
        """Ids of accounts whose equity is below maintenance margin, sorted (the margin monitor)."""
        ...

    def liquidation_step(self, account: Account) -> tuple[Instrument, int] | None:
        """The next risk-reducing trade of a liquidation: instrument and signed lots; None if flat."""
        ...

    def save_state(self) -> bytes:
        """What the engine needs besides the ledger to rebuild itself exactly (snapshots)."""
        ...

    def load_state(self, blob: bytes, accounts: list[Account], instruments: list[Instrument]) -> None:
        """Rebuild from ``save_state`` output and the restored ledger and instruments."""
        ...


@dataclass(frozen=True, slots=True)
class StandInParams:
    short_option_rate_ppm: int = 150_000  # 15% of underlying notional
    perp_im_rate_ppm: int = 100_000  # 10% of notional


class StandInMargin:
    """Premium plus a fixed share of notional for shorts. See the module docstring."""

    __slots__ = ("params",)

    def __init__(self, params: StandInParams | None = None) -> None:
        self.params = params or StandInParams()

    def order_margin(
        self, account: Account, instrument: Instrument, side: int, price_ticks: int, qty_lots: int
    ) -> int:
        premium = price_ticks * qty_lots * instrument.micro_per_tick_lot
        if not instrument.is_option:
            return premium * self.params.perp_im_rate_ppm // PPM
        if side > 0:
            return premium
        return (
            premium
            + instrument.underlying_notional_micro(qty_lots) * self.params.short_option_rate_ppm // PPM
        )

    def check_order(
        self,
        account: Account,
        instrument: Instrument,
        side: int,
        price_ticks: int,
        qty_lots: int,
        margin_micro: int,
    ) -> int:
        if margin_micro <= self.available(account):
            return 0
        return Reason.INSUFFICIENT_MARGIN

    def check_withdrawal(self, account: Account, amount_micro: int) -> int:
        if amount_micro <= min(self.available(account), account.collateral):
            return 0
        return Reason.INSUFFICIENT_FUNDS

    def check_package(self, account: Account, fills: list[PackageFill], fee_micro: int) -> int:
        # Conservative: every leg is margined as if it were an order of its own.
        needed = fee_micro
        for inst, qty, price in fills:
            needed += self.order_margin(account, inst, 1 if qty > 0 else -1, price, abs(qty))
        return 0 if needed <= self.available(account) else Reason.INSUFFICIENT_MARGIN

    def delta_per_lot(self, instrument: Instrument) -> int:
        coins = NANO * instrument.lot_num // instrument.lot_den
        if not instrument.is_option:
            return coins
        return coins // 2 if instrument.is_call else -(coins // 2)

    def on_position_change(
        self, account: Account, instrument: Instrument, old_qty: int, new_qty: int
    ) -> None:
        return None

    def on_marks(
        self, underlying: str, time_ns: int, instruments: list[Instrument], smiles: tuple[SmileMark, ...]
    ) -> None:
        return None

    def set_margin_mode(self, account: Account, portfolio: bool) -> int:
        return Reason.INVALID_ORDER  # the stand-in has one mode

    def margin_state(self, account: Account) -> tuple[int, int, int]:
        equity, required = self.totals(account)
        return equity, required, 0

    def accounts_below_maintenance(self) -> list[str]:
        return []  # the stand-in never liquidates

    def liquidation_step(self, account: Account) -> tuple[Instrument, int] | None:
        return None

    def save_state(self) -> bytes:
        return b""

    def load_state(self, blob: bytes, accounts: list[Account], instruments: list[Instrument]) -> None:
        return None

    def available(self, account: Account) -> int:
        """Equity less position margin less open-order margin, in micro-USDC (may be negative)."""
        equity, required = self.totals(account)
        return equity - required

    def totals(self, account: Account) -> tuple[int, int]:
        """(equity, position margin plus open-order margin), in micro-USDC."""
        equity = account.collateral
        required = account.order_margin
        short_rate = self.params.short_option_rate_ppm
        perp_rate = self.params.perp_im_rate_ppm
        for pos in account.positions.values():
            qty = pos.qty
            if qty == 0:
                continue
            inst = pos.instrument
            mark = inst.mark_ticks or inst.last_trade_ticks
            if inst.is_option:
                value = qty * mark * inst.micro_per_tick_lot
                equity += value
                if qty < 0:
                    required += -value + inst.underlying_notional_micro(-qty) * short_rate // PPM
            else:
                value = qty * mark * inst.micro_per_tick_lot if mark else pos.cost
                equity += value - pos.cost
                required += abs(value) * perp_rate // PPM
        return equity, required
