"""The single writer: stamps commands, applies them in order, returns their events.

Determinism: ``stamp`` gives each command its sequence number and time at intake; ``apply`` uses only
the record (no wall clock, no randomness, no iteration over unordered containers that could differ
between runs), so applying the same records to a fresh sequencer yields byte-identical events. Time
moves only with records: GTD expiries and circuit-breaker cool-offs happen at the first record whose
stamp reaches them (``ClockTick`` exists to let time pass when nothing else arrives).

Errors: bad input never raises; it becomes OrderRejected, CancelRejected or RequestRejected. A record
out of sequence does raise ``SequenceError``: that is a broken journal, not bad input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from msgspec.structs import astuple
from mypy_extensions import mypyc_attr

from matching.commands import (
    ApplyFunding,
    CancelOrder,
    ClockTick,
    Command,
    CommandRecord,
    DelistInstrument,
    Deposit,
    HaltInstrument,
    KillSwitch,
    Liquidate,
    ListInstrument,
    MarkUpdate,
    MassCancel,
    NewOrder,
    ReplaceOrder,
    ResumeInstrument,
    ResumeVenue,
    SetMarginMode,
    SetStpMode,
    SettlePerpetuals,
    Withdraw,
)
from matching.events import (
    BalanceChanged,
    Event,
    FundingApplied,
    InstrumentDelisted,
    InstrumentHalted,
    InstrumentListed,
    InstrumentResumed,
    MarginModeSet,
    MarksUpdated,
    PerpetualsSettled,
    PositionChanged,
    RequestRejected,
    StpModeSet,
    VenueHalted,
    VenueResumed,
)
from matching.instruments import Instrument, InstrumentError, UnderlyingIndex
from matching.ledger import Ledger
from matching.liquidation import LiquidationTerms, Liquidator
from matching.matcher import Market, Matcher
from matching.reasons import Reason, text
from matching.risk_check import RiskCheck, StandInMargin
from matching.types import BalanceReason, StpMode


@mypyc_attr(native_class=False)  # compiled code cannot subclass RuntimeError natively
class SequenceError(RuntimeError):
    """A record's sequence number is not the next one expected."""


class Extension(Protocol):
    """State and commands the sequencer hosts for a package ``matching`` may not import (the RFQ desk).

    An extension runs on the sequencer's thread under the same rules as the matcher: deterministic, no
    wall clock, never raises on bad input, emits its events into ``sequencer.out``.
    """

    def attach(self, sequencer: Sequencer) -> dict[type, Callable[[Any], None]]:
        """Bind to ``sequencer``; returns the handler of each command type the extension owns."""
        ...

    def next_timer_ns(self) -> int:
        """When the extension next needs ``on_time`` (a deadline), 0 if never."""
        ...

    def on_time(self, now_ns: int) -> None:
        """Called before a record whose time reaches ``next_timer_ns``."""
        ...

    def save_state(self) -> bytes:
        """Everything that can influence a future event (snapshots)."""
        ...

    def load_state(self, blob: bytes) -> None:
        """Replace the whole state with ``save_state`` output (after ``attach`` to a restored sequencer)."""
        ...


class Sequencer:
    """Applies command records one at a time. Not thread-safe by design: exactly one caller."""

    def __init__(
        self,
        fee_account: str = "fees",
        risk: RiskCheck | None = None,
        liquidation: LiquidationTerms | None = None,
    ) -> None:
        self.out: list[Any] = []
        self.ledger = Ledger(fee_account)
        self.risk: RiskCheck = risk or StandInMargin()
        self.matcher = Matcher(self.ledger, self.risk, self.out)
        self.liquidation_terms = liquidation or LiquidationTerms()
        self.liquidator = Liquidator(self.matcher, self.ledger, self.risk, self.liquidation_terms)
        self.indices: dict[str, UnderlyingIndex] = {}
        self.by_underlying: dict[str, list[Instrument]] = {}
        self.instruments_by_id: dict[int, Instrument] = {}
        self.extensions: list[Extension] = []
        self.extension_due = 0  # earliest next_timer_ns of the extensions, 0 if none
        self.next_seq = 1
        self.last_ts = 0
        self._next_stamp = 1
        self._last_stamp_ts = 0
        self._handlers: dict[type, Callable[[Any], None]] = {
            NewOrder: self.matcher.new_order,
            CancelOrder: self.matcher.cancel,
            ReplaceOrder: self.matcher.replace,
            MassCancel: self.matcher.mass_cancel,
            SetStpMode: self._set_stp_mode,
            Deposit: self._deposit,
            Withdraw: self._withdraw,
            SettlePerpetuals: self._settle_perpetuals,
            ApplyFunding: self._apply_funding,
            MarkUpdate: self._mark_update,
            SetMarginMode: self._set_margin_mode,
            Liquidate: self._liquidate,
            HaltInstrument: self._halt,
            ResumeInstrument: self._resume,
            KillSwitch: self._kill_switch,
            ResumeVenue: self._resume_venue,
            ListInstrument: self._list,
            DelistInstrument: self._delist,
            ClockTick: self._tick,
        }

    def extend(self, extension: Extension) -> None:
        """Host ``extension``: its commands are applied like any other, its timers run in ``apply``."""
        for command_type, handler in extension.attach(self).items():
            self._handlers[command_type] = self._timed(handler)
        self.extensions.append(extension)
        self.refresh_extension_due()

    def _timed(self, handler: Callable[[Any], None]) -> Callable[[Any], None]:
        def run(command: Any) -> None:
            handler(command)
            self.refresh_extension_due()

        return run

    def refresh_extension_due(self) -> None:
        due = [d for d in (e.next_timer_ns() for e in self.extensions) if d]
        self.extension_due = min(due) if due else 0

    def _run_extension_timers(self, now: int) -> None:
        for extension in self.extensions:
            due = extension.next_timer_ns()
            if due and due <= now:
                extension.on_time(now)
        self.refresh_extension_due()

    # -- intake -------------------------------------------------------------------------------------

    def stamp(self, command: Command, ts_ns: int) -> CommandRecord:
        """Give ``command`` the next sequence number and a time never before the previous one.

        Records must then be applied in the order they were stamped.
        """
        seq = self._next_stamp if self._next_stamp > self.next_seq else self.next_seq
        self._next_stamp = seq + 1
        ts = ts_ns if ts_ns > self._last_stamp_ts else self._last_stamp_ts
        self._last_stamp_ts = ts
        return CommandRecord(seq, ts, command)

    def resume_stamping(self, next_seq: int, last_ts: int) -> None:
        """After a restore: the next stamp gets ``next_seq`` and a time not before ``last_ts``."""
        self._next_stamp = next_seq
        self._last_stamp_ts = last_ts

    def apply(self, record: CommandRecord) -> list[Event]:
        """Apply one record; returns its events (a fresh list the caller may keep)."""
        seq, ts, command = astuple(record)
        if seq != self.next_seq:
            raise SequenceError(f"expected seq {self.next_seq}, got {seq}")
        self.next_seq = seq + 1
        if ts < self.last_ts:
            raise SequenceError(f"record {seq} goes back in time: {ts} < {self.last_ts}")
        self.last_ts = ts
        if ts > self._last_stamp_ts:
            self._last_stamp_ts = ts
        matcher = self.matcher
        matcher.now = ts
        matcher.priority = seq
        if matcher.expiries and matcher.expiries[0][0] <= ts:
            matcher.expire_due()
        if matcher.cooloffs:
            self._lift_halts(ts)
        if self.extension_due and self.extension_due <= ts:
            self._run_extension_timers(ts)
        handler = self._handlers.get(type(command))
        if handler is None:  # an extension's command with no extension hosted (a misconfigured replay)
            self._reject(type(command).__name__, "", "", Reason.INVALID_ORDER)
        else:
            handler(command)
        events = self.out
        self.out = self.matcher.out = []  # hand the list over rather than copy it
        return events

    def submit(self, command: Command, ts_ns: int) -> tuple[CommandRecord, list[Event]]:
        """Stamp and apply in one step (for callers that journal the record afterwards)."""
        record = self.stamp(command, ts_ns)
        return record, self.apply(record)

    def next_timer_ns(self) -> int:
        """When the next time-driven change is due (GTD expiry, breaker cool-off, RFQ deadline); 0: none."""
        due = [self.matcher.expiries[0][0]] if self.matcher.expiries else []
        due += [self.instruments_by_id[i].halted_until_ns for i in self.matcher.cooloffs]
        if self.extension_due:
            due.append(self.extension_due)
        return min(due) if due else 0

    # -- queries ------------------------------------------------------------------------------------

    def market(self, symbol: str) -> Market | None:
        return self.matcher.markets.get(symbol)

    @property
    def instruments(self) -> dict[str, Instrument]:
        return {symbol: market.instrument for symbol, market in self.matcher.markets.items()}

    # -- accounts and money -------------------------------------------------------------------------

    def _reject(self, command: str, account: str, reference: str, reason: int) -> None:
        self.out.append(RequestRejected(command, account, reference, reason, text(reason)))

    def _set_stp_mode(self, cmd: SetStpMode) -> None:
        if cmd.stp_mode not in StpMode._value2member_map_:
            self._reject("SetStpMode", cmd.account, "", Reason.INVALID_ORDER)
            return
        account = self.ledger.accounts.get(cmd.account)
        if account is None:
            self._reject("SetStpMode", cmd.account, "", Reason.UNKNOWN_ACCOUNT)
            return
        account.stp_mode = cmd.stp_mode
        self.out.append(StpModeSet(cmd.account, cmd.stp_mode))

    def _deposit(self, cmd: Deposit) -> None:
        ledger = self.ledger
        if cmd.amount_micro <= 0 or not cmd.account:
            self._reject("Deposit", cmd.account, cmd.reference, Reason.INVALID_AMOUNT)
            return
        if cmd.reference in ledger.references:
            self._reject("Deposit", cmd.account, cmd.reference, Reason.DUPLICATE_REFERENCE)
            return
        ledger.references.add(cmd.reference)
        account = ledger.open(cmd.account)
        account.collateral += cmd.amount_micro
        ledger.net_deposits += cmd.amount_micro
        self.out.append(
            BalanceChanged(
                account.id, cmd.amount_micro, account.collateral, BalanceReason.DEPOSIT, cmd.reference
            )
        )

    def _withdraw(self, cmd: Withdraw) -> None:
        ledger = self.ledger
        account = ledger.accounts.get(cmd.account)
        reason = 0
        if account is None:
            reason = Reason.UNKNOWN_ACCOUNT
        elif cmd.amount_micro <= 0:
            reason = Reason.INVALID_AMOUNT
        elif cmd.reference in ledger.references:
            reason = Reason.DUPLICATE_REFERENCE
        elif cmd.forced:
            equity = self.risk.margin_state(account)[0]
            reason = 0 if cmd.amount_micro <= min(equity, account.collateral) else Reason.INSUFFICIENT_FUNDS
        else:
            reason = self.risk.check_withdrawal(account, cmd.amount_micro)
        if reason:
            self._reject("Withdraw", cmd.account, cmd.reference, reason)
            return
        assert account is not None
        ledger.references.add(cmd.reference)
        account.collateral -= cmd.amount_micro
        ledger.net_deposits -= cmd.amount_micro
        self.out.append(
            BalanceChanged(
                account.id, -cmd.amount_micro, account.collateral, BalanceReason.WITHDRAWAL, cmd.reference
            )
        )
        fund = self.liquidation_terms.insurance_account
        if cmd.forced and account.id != fund and self.liquidator.below_maintenance(account):
            self.liquidator.run(account)

    def _settle_perpetuals(self, cmd: SettlePerpetuals) -> None:
        """Every open perpetual position at its mark: cash += value at mark - entry cost, then entry
        cost = value at mark. ``sum(collateral) - sum(perp cost)`` and every account's equity stay as
        they were; accounts in the ledger's order, positions in each account's order (deterministic)."""
        accounts = self.ledger.accounts.values()
        for account in accounts:
            for pos in account.positions.values():
                if pos.qty and not pos.instrument.is_option and pos.instrument.mark_ticks <= 0:
                    self._reject("SettlePerpetuals", "", cmd.reference, Reason.NO_MARK)
                    return
        out = self.out
        moved = positions = 0
        for account in accounts:
            cash = 0
            for pos in account.positions.values():
                inst = pos.instrument
                if not pos.qty or inst.is_option:
                    continue
                value = pos.qty * inst.mark_ticks * inst.micro_per_tick_lot
                pnl = value - pos.cost
                if pnl == 0:
                    continue
                pos.cost = value
                pos.realised += pnl
                cash += pnl
                positions += 1
                out.append(PositionChanged(account.id, inst.symbol, pos.qty, pos.cost, pos.realised))
            if cash:
                account.collateral += cash
                moved += 1
                out.append(
                    BalanceChanged(
                        account.id, cash, account.collateral, BalanceReason.PERP_SETTLEMENT, cmd.reference
                    )
                )
        out.append(PerpetualsSettled(cmd.reference, moved, positions))

    def _apply_funding(self, cmd: ApplyFunding) -> None:
        """Each account pays ``qty x per_lot``, one integer ``per_lot`` for all: positions sum to zero,
        so the payments do too (accounts in the ledger's order)."""
        market = self.matcher.markets.get(cmd.symbol)
        if market is None or market.instrument.is_option or not market.instrument.active:
            self._reject("ApplyFunding", "", cmd.symbol, Reason.UNKNOWN_INSTRUMENT)
            return
        if not -1_000_000_000 <= cmd.rate_ppb <= 1_000_000_000:
            self._reject("ApplyFunding", "", cmd.symbol, Reason.INVALID_AMOUNT)
            return
        inst = market.instrument
        index = inst.index.price_micro
        if index <= 0:
            self._reject("ApplyFunding", "", cmd.symbol, Reason.NO_MARK)
            return
        # one lot's notional at the index x the rate, truncated toward zero to whole micro-USDC
        scaled = index * inst.lot_num * cmd.rate_ppb
        per_lot = abs(scaled) // (inst.lot_den * 1_000_000_000)
        per_lot = per_lot if scaled >= 0 else -per_lot
        out = self.out
        moved = 0
        reference = f"funding:{cmd.symbol}:{self.next_seq - 1}"
        if per_lot:
            for account in self.ledger.accounts.values():
                pos = account.positions.get(inst.id)
                if pos is None or not pos.qty:
                    continue
                paid = -pos.qty * per_lot
                account.collateral += paid
                moved += 1
                out.append(
                    BalanceChanged(account.id, paid, account.collateral, BalanceReason.FUNDING, reference)
                )
        out.append(FundingApplied(cmd.symbol, cmd.rate_ppb, index, per_lot, moved))

    # -- marks --------------------------------------------------------------------------------------

    def _mark_update(self, cmd: MarkUpdate) -> None:
        index = self.indices.get(cmd.underlying)
        if index is None or cmd.index_price_micro < 0:
            self._reject("MarkUpdate", "", cmd.underlying, Reason.UNKNOWN_INSTRUMENT)
            return
        if cmd.index_price_micro:
            index.price_micro = cmd.index_price_micro
            index.updated_ns = self.last_ts
        markets = self.matcher.markets
        touched: list[Market] = []
        for symbol, mark in cmd.marks:
            market = markets.get(symbol)
            if market is None or market.instrument.underlying != cmd.underlying or mark <= 0:
                continue  # one bad entry must not drop the rest of the update
            market.instrument.mark_ticks = mark
            touched.append(market)
        self.out.append(MarksUpdated(cmd.underlying, index.price_micro, len(touched)))
        self.risk.on_marks(
            cmd.underlying, self.last_ts, self.by_underlying.get(cmd.underlying, []), cmd.smiles
        )
        for market in touched:
            self.matcher.run_mark_stops(market)
        # The margin monitor: every account the new marks put below maintenance is liquidated now
        # (not the insurance fund: what it holds it took over, and a shortfall is reported instead).
        accounts = self.ledger.accounts
        fund = self.liquidation_terms.insurance_account
        for account_id in self.risk.accounts_below_maintenance():
            account = accounts[account_id]
            if account_id != fund and self.liquidator.below_maintenance(account):
                self.liquidator.run(account)

    # -- margin mode and liquidation ----------------------------------------------------------------

    def _set_margin_mode(self, cmd: SetMarginMode) -> None:
        account = self.ledger.accounts.get(cmd.account)
        reason = Reason.UNKNOWN_ACCOUNT if account is None else 0
        if account is not None:
            reason = self.risk.set_margin_mode(account, cmd.portfolio)
        if reason:
            self._reject("SetMarginMode", cmd.account, "", reason)
            return
        self.out.append(MarginModeSet(cmd.account, cmd.portfolio))

    def _liquidate(self, cmd: Liquidate) -> None:
        account = self.ledger.accounts.get(cmd.account)
        if account is None or cmd.account == self.liquidation_terms.insurance_account:
            self._reject("Liquidate", cmd.account, "", Reason.UNKNOWN_ACCOUNT)
        elif not self.liquidator.below_maintenance(account):
            self._reject("Liquidate", cmd.account, "", Reason.NOT_BELOW_MAINTENANCE)
        else:
            self.liquidator.run(account)

    # -- halts and the kill switch ------------------------------------------------------------------

    def _halt(self, cmd: HaltInstrument) -> None:
        market = self.matcher.markets.get(cmd.symbol)
        if market is None:
            self._reject("HaltInstrument", "", cmd.symbol, Reason.UNKNOWN_INSTRUMENT)
            return
        inst = market.instrument
        inst.halted = True
        inst.halted_until_ns = 0
        self.matcher.cooloffs.discard(inst.id)
        self.out.append(InstrumentHalted(inst.symbol, Reason.INSTRUMENT_HALTED, cmd.reason or "halted", 0))

    def _resume(self, cmd: ResumeInstrument) -> None:
        market = self.matcher.markets.get(cmd.symbol)
        if market is None:
            self._reject("ResumeInstrument", "", cmd.symbol, Reason.UNKNOWN_INSTRUMENT)
            return
        self._lift(market.instrument)

    def _lift(self, inst: Instrument) -> None:
        self.matcher.cooloffs.discard(inst.id)
        if not inst.halted:
            return
        inst.halted = False
        inst.halted_until_ns = 0
        self.out.append(InstrumentResumed(inst.symbol))

    def _lift_halts(self, now: int) -> None:
        for inst_id in sorted(self.matcher.cooloffs):
            inst = self.instruments_by_id[inst_id]
            if inst.halted_until_ns and inst.halted_until_ns <= now:
                self._lift(inst)

    def _tick(self, cmd: ClockTick) -> None:
        return None  # its only effect is the time in its record (expiries and cool-offs, in apply)

    def _kill_switch(self, cmd: KillSwitch) -> None:
        matcher = self.matcher
        matcher.venue_halted = True
        self.out.append(VenueHalted(cmd.reason or "kill switch"))
        matcher.cancel_all(Reason.KILL_SWITCH)

    def _resume_venue(self, cmd: ResumeVenue) -> None:
        if self.matcher.venue_halted:
            self.matcher.venue_halted = False
            self.out.append(VenueResumed())

    # -- listing ------------------------------------------------------------------------------------

    def _list(self, cmd: ListInstrument) -> None:
        spec = cmd.spec
        markets = self.matcher.markets
        if spec.symbol in markets:
            self._reject("ListInstrument", "", spec.symbol, Reason.INSTRUMENT_EXISTS)
            return
        index = self.indices.get(spec.underlying)
        if index is None:
            index = self.indices[spec.underlying] = UnderlyingIndex(spec.underlying)
        inst_id = len(self.instruments_by_id) + 1
        try:
            inst = Instrument(inst_id, spec, index)
        except InstrumentError as exc:
            self.out.append(
                RequestRejected("ListInstrument", "", spec.symbol, Reason.INVALID_ORDER, str(exc))
            )
            return
        self.instruments_by_id[inst_id] = inst
        self.by_underlying.setdefault(inst.underlying, []).append(inst)
        markets[spec.symbol] = Market(inst)
        self.out.append(InstrumentListed(spec.symbol, inst_id))
        if self.extensions:
            self.refresh_extension_due()  # an extension's timers may follow the listing (expiries)

    def _delist(self, cmd: DelistInstrument) -> None:
        market = self.matcher.markets.get(cmd.symbol)
        if market is None or not market.instrument.active:
            self._reject("DelistInstrument", "", cmd.symbol, Reason.UNKNOWN_INSTRUMENT)
            return
        market.instrument.active = False
        self.matcher.cancel_all(Reason.INSTRUMENT_DELISTED, cmd.symbol)
        self.out.append(InstrumentDelisted(cmd.symbol))
