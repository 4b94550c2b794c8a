"""The margin engine the sequencer calls: portfolio and standard margin, kept incrementally.

Plugged into ``matching.Sequencer`` as its ``RiskCheck`` (by ``venue``). Per underlying it keeps:
- a valuation of every listed instrument under every scenario (``risk.valuation``), redone on each
  MarkUpdate in one vectorised pass;
- per account, integer aggregates: the scenario P&L vector (sum of quantity x instrument vector), net
  delta, delta per expiry, the naked-short minimum, mark-to-market value and standard-margin sums. A fill
  adds one row; a MarkUpdate rebuilds them for all accounts with one sparse product.

Margin (micro-USDC), per underlying and summed:
- portfolio: risk part = worst weighted scenario loss + contingencies (naked short minimum, delta,
  basis per expiry); IM = risk part (+ open-order margin, account-wide); MM = ``maintenance_factor`` x
  risk part.
- standard: short option IM (max(15% - OTM%, 10%) x index + mark) x coins, MM (7.5% x index + mark) x
  coins; perpetual IM 10% / MM 6.5% of notional at mark; long options need none.
Equity = collateral + options at mark + perpetual unrealised P&L at mark.

An order's margin is the change in IM its full fill would cause plus what it pays above the mark
(premium or perpetual entry): a risk-reducing order needs none. Before an underlying's first mark, only
risk-reducing orders pass (``Reason.NO_MARK``).

Determinism: every aggregate is an integer sum, so incremental updates and a full rebuild agree exactly;
the engine's own state (last marks per underlying, portfolio-margin accounts) is saved with snapshots.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import msgspec
import numpy as np
from scipy import sparse

from config.risk_params import RiskParams, StandardMargin, UnderlyingRisk
from matching.commands import SmileMark
from matching.instruments import Instrument
from matching.ledger import Account
from matching.reasons import Reason
from matching.risk_check import PackageFill
from risk.scenario_kernel import add_scaled, worst_weighted
from risk.scenarios import ScenarioGrid, build_grid
from risk.surface import Smile, SurfaceError, VolSurface
from risk.valuation import MICRO, NANO, InstrumentTable, IntArray, Valuation, revalue

_GROW = 2


class _MarksState(msgspec.Struct, array_like=True, frozen=True):
    underlying: str
    time_ns: int
    smiles: tuple[SmileMark, ...]


class _EngineState(msgspec.Struct, array_like=True, frozen=True):
    marks: list[_MarksState]
    portfolio: list[str]


@dataclass(slots=True)
class Breakdown:
    """Margin of one account in one underlying, micro-USDC (reports and liquidation)."""

    worst_loss: int
    worst_scenario: int
    short_minimum: int
    delta_contingency: int
    basis_contingency: int
    risk_part: int
    standard_im: int
    standard_mm: int


class UnderlyingRiskBook:
    """Everything the engine keeps for one underlying. Rows: instruments; account index: engine-wide."""

    def __init__(self, name: str, params: UnderlyingRisk, standard: StandardMargin, rate: float) -> None:
        self.name = name
        self.params = params
        self.standard = standard
        self.rate = rate
        self.grid: ScenarioGrid = build_grid(params)
        self.weights = self.grid.weights
        self.delta_rate = 0.0  # contingency per nano-coin of |delta|, micro-USDC (set on revaluation)
        self.basis_rate = 0.0
        self.table = InstrumentTable()
        self.val: Valuation | None = None
        self.surface: VolSurface | None = None
        self.smiles: tuple[SmileMark, ...] = ()
        self.time_ns = 0
        self.index_micro = 0
        self.bad_smiles = 0
        self.perps: list[Instrument] = []
        # per-row coefficients (micro-USDC per lot), valid with ``val``
        self.short_min = np.zeros(0, dtype=np.int64)
        self.std_im_short = np.zeros(0, dtype=np.int64)
        self.std_mm_short = np.zeros(0, dtype=np.int64)
        self.std_im_abs = np.zeros(0, dtype=np.int64)
        self.std_mm_abs = np.zeros(0, dtype=np.int64)
        self.expiry_col = np.zeros(0, dtype=np.int64)
        self.row_is_option = np.zeros(0, dtype=bool)
        self.n_expiries = 0
        # per-account aggregates
        cap = 16
        s = self.grid.size
        self.vec = np.zeros((cap, s), dtype=np.int64)  # as of the last rebuild; ``vecs`` is current
        self.vecs: list[list[float]] = [[0.0] * s for _ in range(cap)]  # per account, kept by fills
        self.pnl_rows: list[list[float]] = []  # per row, the same values as ``val.pnl`` (whole floats)
        self.weight_list: list[float] = self.grid.weights.tolist()
        self.delta = np.zeros(cap, dtype=np.int64)
        self.exp_delta = np.zeros((cap, 1), dtype=np.int64)
        self.abs_exp = np.zeros(cap, dtype=np.int64)  # sum over expiries of |delta of the expiry|
        self.short = np.zeros(cap, dtype=np.int64)
        self.mtm = np.zeros(cap, dtype=np.int64)
        self.std_im = np.zeros(cap, dtype=np.int64)
        self.std_mm = np.zeros(cap, dtype=np.int64)
        self.risk_part = np.zeros(cap, dtype=np.int64)  # valid except for accounts in ``stale``
        self.stale: set[int] = set()  # accounts filled since their risk part was last computed
        # position slots: (account index, row) -> slot
        self.slots: dict[tuple[int, int], int] = {}
        self.slot_acct = np.zeros(cap, dtype=np.int64)
        self.slot_row = np.zeros(cap, dtype=np.int64)
        self.slot_qty = np.zeros(cap, dtype=np.int64)

    # -- capacity -----------------------------------------------------------------------------------

    def ensure_accounts(self, n: int) -> None:
        cap = len(self.delta)
        if n <= cap:
            return
        new = max(n, cap * _GROW)
        for name in ("delta", "abs_exp", "short", "mtm", "std_im", "std_mm", "risk_part"):
            arr = getattr(self, name)
            grown = np.zeros(new, dtype=np.int64)
            grown[:cap] = arr
            setattr(self, name, grown)
        self.vecs.extend([0.0] * self.grid.size for _ in range(new - cap))
        for name in ("vec", "exp_delta"):
            arr = getattr(self, name)
            grown2 = np.zeros((new, arr.shape[1]), dtype=np.int64)
            grown2[:cap] = arr
            setattr(self, name, grown2)

    def _slot(self, acct: int, row: int) -> int:
        slot = self.slots.get((acct, row))
        if slot is None:
            slot = self.slots[(acct, row)] = len(self.slots)
            if slot >= len(self.slot_acct):
                for name in ("slot_acct", "slot_row", "slot_qty"):
                    arr = getattr(self, name)
                    grown = np.zeros(len(arr) * _GROW, dtype=np.int64)
                    grown[: len(arr)] = arr
                    setattr(self, name, grown)
            self.slot_acct[slot] = acct
            self.slot_row[slot] = row
        return slot

    # -- valuation ----------------------------------------------------------------------------------

    def row(self, inst: Instrument) -> int:
        """The instrument's row, valuing it now if it is new and marks exist."""
        row = self.table.rows.get(inst.id)
        if row is not None:
            return row
        row = self._add(inst)
        if self.val is not None:
            self.revalue()  # a listing after the last mark: rare, and it keeps all rows consistent
        return row

    def _add(self, inst: Instrument) -> int:
        row = self.table.add(inst)
        if not inst.is_option:
            self.perps.append(inst)
        return row

    def set_marks(self, time_ns: int, instruments: list[Instrument], smiles: tuple[SmileMark, ...]) -> None:
        for inst in instruments:
            if inst.id not in self.table.rows:
                self._add(inst)
        self.time_ns = time_ns
        self.index_micro = instruments[0].index.price_micro if instruments else self.index_micro
        if smiles:
            self.smiles = smiles
        self.revalue()

    def _surface(self, index: float) -> VolSurface | None:
        good = []
        self.bad_smiles = 0
        for s in self.smiles:
            try:
                good.append(
                    Smile(
                        s.expiry_ns, s.forward_micro / MICRO, s.a, s.b, s.rho, s.m, s.sigma, s.k_min, s.k_max
                    )
                )
            except SurfaceError:
                self.bad_smiles += 1  # reported; the other expiries still count
        live = [s for s in good if s.expiry_ns > self.time_ns]
        return VolSurface(index, self.time_ns, live) if live else None

    def revalue(self) -> None:
        if self.index_micro <= 0 or not self.table.instruments:
            return
        index = self.index_micro / MICRO
        self.surface = self._surface(index)
        val = self.val = revalue(
            self.table, self.grid, self.params, self.surface, index, self.time_ns, self.rate
        )
        insts = self.table.instruments
        is_option = self.row_is_option = np.array([i.is_option for i in insts], dtype=bool)
        strike = np.array([i.strike_micro for i in insts], dtype=np.float64)
        is_call = np.array([i.is_call for i in insts], dtype=bool)
        coins = val.coins
        index_per_lot = index * MICRO * coins  # micro-USDC of one lot's underlying
        self.short_min = np.where(is_option, _ceil(self.params.short_option_min * index_per_lot), 0)
        std = self.standard
        otm = np.where(is_call, strike - index * MICRO, index * MICRO - strike) / (index * MICRO)
        im_rate = np.maximum(std.short_option_im - np.maximum(otm, 0.0), std.short_option_im_floor)
        self.std_im_short = np.where(is_option, _ceil(im_rate * index_per_lot) + val.mark, 0)
        self.std_mm_short = np.where(is_option, _ceil(std.short_option_mm * index_per_lot) + val.mark, 0)
        self.std_im_abs = np.where(is_option, 0, _ceil(std.perp_im * np.abs(val.mark)))
        self.std_mm_abs = np.where(is_option, 0, _ceil(std.perp_mm * np.abs(val.mark)))
        expiries = np.unique(val.expiry[is_option])
        self.expiry_col = np.where(is_option, np.searchsorted(expiries, val.expiry), 0)
        self.n_expiries = max(1, len(expiries))
        self.pnl_rows = val.pnl.astype(np.float64).tolist()
        per_nano = self.index_micro / NANO  # micro-USDC per nano-coin
        self.delta_rate = self.params.delta_contingency * per_nano
        self.basis_rate = self.params.basis_contingency * per_nano
        self.rebuild()

    # -- aggregates ---------------------------------------------------------------------------------

    def rebuild(self) -> None:
        """Every account's aggregates from the position slots, in one sparse product per quantity."""
        val = self.val
        n_acct = len(self.delta)
        if self.exp_delta.shape[1] != self.n_expiries:
            self.exp_delta = np.zeros((n_acct, self.n_expiries), dtype=np.int64)
        if val is None:
            return
        n = len(self.slots)
        acct, rows, qty = self.slot_acct[:n], self.slot_row[:n], self.slot_qty[:n]
        shape = (n_acct, len(self.table.instruments))
        p = sparse.csr_matrix((qty, (acct, rows)), shape=shape, dtype=np.int64)
        short = sparse.csr_matrix((np.maximum(-qty, 0), (acct, rows)), shape=shape, dtype=np.int64)
        absq = sparse.csr_matrix((np.abs(qty), (acct, rows)), shape=shape, dtype=np.int64)
        self.vec = np.asarray(p @ val.pnl, dtype=np.int64)
        self.vecs = self.vec.astype(np.float64).tolist()
        self.delta = np.asarray(p @ val.delta, dtype=np.int64)
        self.mtm = np.asarray(p @ val.mark, dtype=np.int64)
        self.short = np.asarray(short @ self.short_min, dtype=np.int64)
        self.std_im = np.asarray(short @ self.std_im_short + absq @ self.std_im_abs, dtype=np.int64)
        self.std_mm = np.asarray(short @ self.std_mm_short + absq @ self.std_mm_abs, dtype=np.int64)
        opt_delta = np.where(self.row_is_option, val.delta, 0)
        per_expiry = sparse.csr_matrix(
            (opt_delta, (np.arange(len(opt_delta)), self.expiry_col)),
            shape=(len(opt_delta), self.n_expiries),
            dtype=np.int64,
        )
        self.exp_delta = np.asarray((p @ per_expiry).toarray(), dtype=np.int64)
        self.abs_exp = np.abs(self.exp_delta).sum(axis=1)
        self.risk_part = self._risk_parts(self.vec, self.delta, self.abs_exp, self.short)
        self.stale.clear()

    def _risk_parts(self, vec: IntArray, delta: IntArray, abs_exp: IntArray, short: IntArray) -> IntArray:
        weighted = vec * self.grid.weights
        worst = np.ceil(np.maximum(0.0, -weighted.min(axis=1))).astype(np.int64)
        parts: IntArray = worst + self._contingency(delta, abs_exp) + short
        return parts

    def _contingency(self, delta: IntArray, abs_exp_delta: IntArray) -> IntArray:
        return np.ceil(self.delta_rate * np.abs(delta) + self.basis_rate * abs_exp_delta).astype(np.int64)

    def apply_fill(self, acct: int, row: int, old: int, new: int) -> None:
        slot = self._slot(acct, row)
        self.slot_qty[slot] = new
        val = self.val
        if val is None:
            return
        dq = new - old
        add_scaled(self.vecs[acct], self.pnl_rows[row], float(dq))
        # Scalars as Python ints (``item``): numpy scalar arithmetic costs a microsecond an operation.
        self.delta[acct] = self.delta.item(acct) + dq * val.delta.item(row)
        self.mtm[acct] = self.mtm.item(acct) + dq * val.mark.item(row)
        ds = max(-new, 0) - max(-old, 0)
        da = abs(new) - abs(old)
        if ds:
            self.short[acct] = self.short.item(acct) + ds * self.short_min.item(row)
        self.std_im[acct] = (
            self.std_im.item(acct) + ds * self.std_im_short.item(row) + da * self.std_im_abs.item(row)
        )
        self.std_mm[acct] = (
            self.std_mm.item(acct) + ds * self.std_mm_short.item(row) + da * self.std_mm_abs.item(row)
        )
        if self.row_is_option.item(row):
            col = self.expiry_col.item(row)
            before = self.exp_delta.item(acct, col)
            after = before + dq * val.delta.item(row)
            self.exp_delta[acct, col] = after
            self.abs_exp[acct] = self.abs_exp.item(acct) + abs(after) - abs(before)
        self.stale.add(acct)  # recomputed when next asked for: a burst of fills pays once

    def vector(self, acct: int) -> IntArray:
        """The account's current scenario P&L vector, micro-USDC (a copy)."""
        return np.array(self.vecs[acct], dtype=np.int64)

    def part(self, acct: int) -> int:
        """The account's portfolio risk part (micro-USDC), recomputed first if fills made it stale."""
        if acct in self.stale:
            self.stale.discard(acct)
            self.risk_part[acct] = self.risk_part_of(acct)
        return int(self.risk_part[acct])

    def parts(self, n: int) -> IntArray:
        """The risk parts of accounts ``0..n-1``, none stale."""
        for acct in sorted(self.stale):
            self.risk_part[acct] = self.risk_part_of(acct)
        self.stale.clear()
        return self.risk_part[:n]

    def risk_part_of(self, acct: int, row: int = -1, dq: int = 0, old: int = 0) -> int:
        """Portfolio risk part of one account, optionally as if ``dq`` lots of ``row`` were added.

        Integer-exact like the aggregates: the what-if changes one expiry's delta, so the sum of absolute
        expiry deltas is adjusted in that column only, without copying the row.
        """
        val = self.val
        assert val is not None
        vec = self.vecs[acct]
        lowest = worst_weighted(vec, self.pnl_rows[row] if dq else vec, float(dq), self.weight_list)
        worst = math.ceil(max(0.0, -lowest))
        delta = self.delta.item(acct)
        abs_exp = self.abs_exp.item(acct)
        short = self.short.item(acct)
        if dq:
            moved = dq * val.delta.item(row)
            delta += moved
            if self.row_is_option.item(row):
                column = self.exp_delta.item(acct, self.expiry_col.item(row))
                abs_exp += abs(column + moved) - abs(column)
            short += (max(-(old + dq), 0) - max(-old, 0)) * self.short_min.item(row)
        # the same products, in the same order, as _contingency: equal to the last unit
        return int(worst + math.ceil(self.delta_rate * abs(delta) + self.basis_rate * abs_exp) + short)

    def standard_delta(self, row: int, old: int, new: int) -> tuple[int, int]:
        """Change of standard (IM, MM) when a position in ``row`` goes from ``old`` to ``new`` lots."""
        ds = max(-new, 0) - max(-old, 0)
        da = abs(new) - abs(old)
        return (
            ds * self.std_im_short.item(row) + da * self.std_im_abs.item(row),
            ds * self.std_mm_short.item(row) + da * self.std_mm_abs.item(row),
        )

    def breakdown(self, acct: int) -> Breakdown:
        val = self.val
        assert val is not None
        weighted = self.vector(acct) * self.grid.weights
        j = int(np.argmin(weighted))
        return Breakdown(
            worst_loss=math.ceil(max(0.0, -float(weighted[j]))),
            worst_scenario=j,
            short_minimum=int(self.short[acct]),
            delta_contingency=math.ceil(self.delta_rate * abs(self.delta.item(acct))),
            basis_contingency=math.ceil(self.basis_rate * self.abs_exp.item(acct)),
            risk_part=self.part(acct),
            standard_im=int(self.std_im[acct]),
            standard_mm=int(self.std_mm[acct]),
        )


def _ceil(x: object) -> IntArray:
    return np.ceil(np.asarray(x, dtype=np.float64)).astype(np.int64)


class MarginEngine:
    """Portfolio and standard margin for every account; the venue's ``RiskCheck``. See the module docs."""

    def __init__(self, params: RiskParams | None = None) -> None:
        self.params = params or RiskParams.load()
        self.books: dict[str, UnderlyingRiskBook] = {}
        self.index: dict[str, int] = {}  # account id -> index
        self.accounts: list[Account] = []
        self.portfolio: set[str] = set()
        self.factor = self.params.maintenance_factor

    # -- bookkeeping --------------------------------------------------------------------------------

    def book(self, underlying: str) -> UnderlyingRiskBook | None:
        book = self.books.get(underlying)
        if book is None:
            params = self.params.underlyings.get(underlying)
            if params is None:
                return None
            book = self.books[underlying] = UnderlyingRiskBook(
                underlying, params, self.params.standard, self.params.rate
            )
            book.ensure_accounts(len(self.accounts))
        return book

    def acct(self, account: Account) -> int:
        a = self.index.get(account.id)
        if a is None:
            a = self.index[account.id] = len(self.accounts)
            self.accounts.append(account)
            for book in self.books.values():
                book.ensure_accounts(a + 1)
        return a

    # -- RiskCheck ----------------------------------------------------------------------------------

    def order_margin(
        self, account: Account, instrument: Instrument, side: int, price_ticks: int, qty_lots: int
    ) -> int:
        book = self.book(instrument.underlying)
        if book is None or book.val is None:
            return 0 if self._reduces(account, instrument, side, qty_lots) else -1
        a = self.acct(account)
        row = book.row(instrument)
        pos = account.positions.get(instrument.id)
        old = pos.qty if pos is not None else 0
        dq = side * qty_lots
        if account.id in self.portfolio:
            d_im = book.risk_part_of(a, row, dq, old) - book.part(a)
        else:
            d_im = book.standard_delta(row, old, old + dq)[0]
        paid_over_mark = dq * (price_ticks * instrument.micro_per_tick_lot - int(book.val.mark[row]))
        if price_ticks == 0:  # market order: no price of its own, priced at the mark
            paid_over_mark = 0
        return max(0, d_im + paid_over_mark)

    def check_order(
        self,
        account: Account,
        instrument: Instrument,
        side: int,
        price_ticks: int,
        qty_lots: int,
        margin_micro: int,
    ) -> int:
        if margin_micro < 0:
            return Reason.NO_MARK
        if margin_micro == 0:
            return 0
        equity, im, _ = self.margin_state(account)
        return 0 if margin_micro <= equity - im else Reason.INSUFFICIENT_MARGIN

    def check_withdrawal(self, account: Account, amount_micro: int) -> int:
        equity, im, _ = self.margin_state(account)
        if amount_micro <= min(equity - im, account.collateral):
            return 0
        return Reason.INSUFFICIENT_FUNDS

    def check_package(self, account: Account, fills: list[PackageFill], fee_micro: int) -> int:
        """Applies the fills to the engine's aggregates, reads the margin state, and takes them back.

        Exact: the aggregates are integers and whole-number floats, so undoing restores them bit for bit.
        Equity after the package is the engine's (positions at mark) less what the fills cost at their
        own prices: premium for options, entry value for perpetuals, the same sign convention for both.
        """
        a = self.acct(account)
        for inst, _, _ in fills:
            book = self.book(inst.underlying)
            if book is None or book.val is None:
                return Reason.NO_MARK
        equity, im, _ = self.margin_state(account)
        applied: list[tuple[UnderlyingRiskBook, int, int, int]] = []
        held: dict[int, int] = {}
        paid = fee_micro
        for inst, qty, price in fills:
            book = self.books[inst.underlying]
            row = book.row(inst)
            old = held.get(inst.id)
            if old is None:
                pos = account.positions.get(inst.id)
                old = pos.qty if pos is not None else 0
            held[inst.id] = old + qty
            book.apply_fill(a, row, old, old + qty)
            applied.append((book, row, old, old + qty))
            paid += qty * price * inst.micro_per_tick_lot
        after_equity, after_im, _ = self.margin_state(account)
        for book, row, old, new in reversed(applied):
            book.apply_fill(a, row, new, old)
        after_equity -= paid
        if after_equity >= after_im:
            return 0
        if after_im < im and after_equity - after_im >= equity - im:
            return 0
        return Reason.INSUFFICIENT_MARGIN

    def delta_per_lot(self, instrument: Instrument) -> int:
        book = self.book(instrument.underlying)
        if book is None or book.val is None:
            return 0
        return int(book.val.delta[book.row(instrument)])

    def on_position_change(
        self, account: Account, instrument: Instrument, old_qty: int, new_qty: int
    ) -> None:
        book = self.book(instrument.underlying)
        if book is None:
            return
        book.apply_fill(self.acct(account), book.row(instrument), old_qty, new_qty)

    def on_marks(
        self, underlying: str, time_ns: int, instruments: list[Instrument], smiles: tuple[SmileMark, ...]
    ) -> None:
        book = self.book(underlying)
        if book is not None:
            book.set_marks(time_ns, instruments, smiles)

    def set_margin_mode(self, account: Account, portfolio: bool) -> int:
        if portfolio == (account.id in self.portfolio):
            return 0
        self.acct(account)
        if portfolio:
            self.portfolio.add(account.id)
        else:
            self.portfolio.discard(account.id)
        equity, im, _ = self.margin_state(account)
        if equity < im and (account.positions or account.orders):
            # Switching must not leave the account short of initial margin.
            if portfolio:
                self.portfolio.discard(account.id)
            else:
                self.portfolio.add(account.id)
            return Reason.INSUFFICIENT_MARGIN
        return 0

    def margin_state(self, account: Account) -> tuple[int, int, int]:
        a = self.acct(account)
        equity = account.collateral
        im = account.order_margin
        mm = 0
        portfolio = account.id in self.portfolio
        for book in self.books.values():
            if book.val is None:
                continue
            equity += int(book.mtm[a])
            for perp in book.perps:
                pos = account.positions.get(perp.id)
                if pos is not None:
                    equity -= pos.cost
            if portfolio:
                part = book.part(a)
                im += part
                mm += math.ceil(self.factor * part)
            else:
                im += int(book.std_im[a])
                mm += int(book.std_mm[a])
        return equity, im, mm

    def accounts_below_maintenance(self) -> list[str]:
        equity, mm = self.equity_and_maintenance_all()
        below = np.flatnonzero((equity < mm) & (mm > 0))
        return sorted(self.accounts[a].id for a in below)

    def equity_and_maintenance_all(self) -> tuple[IntArray, IntArray]:
        """Equity and maintenance margin of every account (by engine index), micro-USDC, vectorised."""
        n = len(self.accounts)
        equity = np.array([acc.collateral for acc in self.accounts], dtype=np.int64)
        mm = np.zeros(n, dtype=np.int64)
        if n == 0:
            return equity, mm
        pm = np.array([acc.id in self.portfolio for acc in self.accounts], dtype=bool)
        for book in self.books.values():
            if book.val is None:
                continue
            equity += book.mtm[:n]
            mm += np.where(pm, np.ceil(self.factor * book.parts(n)).astype(np.int64), book.std_mm[:n])
            for perp in book.perps:
                for a, acc in enumerate(self.accounts):
                    pos = acc.positions.get(perp.id)
                    if pos is not None:
                        equity[a] -= pos.cost
        return equity, mm

    def liquidation_step(self, account: Account) -> tuple[Instrument, int] | None:
        """Largest contributor first: to the worst scenario (portfolio) or to maintenance (standard)."""
        a = self.acct(account)
        share = self.params.liquidation.step_share
        best: tuple[int, int, Instrument, int] | None = None
        portfolio = account.id in self.portfolio
        for inst_id, pos in sorted(account.positions.items()):
            if pos.qty == 0:
                continue
            inst = pos.instrument
            book = self.books.get(inst.underlying)
            if book is None or book.val is None or inst.id not in book.table.rows:
                continue
            row = book.table.rows[inst.id]
            # What closing the whole position would release: the largest contributor goes first.
            if portfolio:
                score = book.risk_part_of(a) - book.risk_part_of(a, row, -pos.qty, pos.qty)
            else:
                score = -book.standard_delta(row, pos.qty, 0)[1]
            if best is None or score > best[0]:
                best = (score, inst_id, inst, pos.qty)
        if best is None:
            return None
        _, _, inst, qty = best
        size = abs(qty)
        step = size if size <= 2 * inst.min_qty_lots else max(inst.min_qty_lots, math.ceil(size * share))
        return inst, -step if qty > 0 else step

    def save_state(self) -> bytes:
        marks = [
            _MarksState(name, book.time_ns, book.smiles)
            for name, book in sorted(self.books.items())
            if book.val is not None
        ]
        return msgspec.msgpack.encode(_EngineState(marks, sorted(self.portfolio)))

    def load_state(self, blob: bytes, accounts: list[Account], instruments: list[Instrument]) -> None:
        state = msgspec.msgpack.decode(blob, type=_EngineState) if blob else _EngineState([], [])
        self.portfolio = set(state.portfolio)
        for account in sorted(accounts, key=lambda acc: acc.id):
            self.acct(account)
        by_underlying: dict[str, list[Instrument]] = {}
        for inst in sorted(instruments, key=lambda i: i.id):
            by_underlying.setdefault(inst.underlying, []).append(inst)
        for m in state.marks:
            book = self.book(m.underlying)
            if book is None:
                continue
            for inst in by_underlying.get(m.underlying, []):
                book.row(inst)
            for account in accounts:
                a = self.index[account.id]
                for pos in account.positions.values():
                    if pos.qty and pos.instrument.underlying == m.underlying:
                        book.slot_qty[book._slot(a, book.row(pos.instrument))] = pos.qty
            book.set_marks(m.time_ns, by_underlying.get(m.underlying, []), m.smiles)

    # -- helpers ------------------------------------------------------------------------------------

    @staticmethod
    def _reduces(account: Account, instrument: Instrument, side: int, qty_lots: int) -> bool:
        pos = account.positions.get(instrument.id)
        old = pos.qty if pos is not None else 0
        return old != 0 and (old > 0) != (side > 0) and qty_lots <= abs(old)
