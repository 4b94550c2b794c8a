"""Option expiry, hosted by the sequencer as an extension: the settlement price fixes, every open
position cash-settles, and the series is delisted.

Settlement price of an expiry: the average of the underlying's index sampled once a minute over the
final 30 minutes (at expiry - 30 min, - 29 min, ..., - 1 min: 30 samples), each sample the index in
force at that instant: the last update before it, read when the first record at or after the minute
is applied (the runtime's clock ticks make sure one comes). A
sample time passed while the index is still unset is skipped; an expiry with no sample at all fixes
at the index in force at expiry, and one with no index waits (retried each minute) rather than
settle at zero.

At expiry, per series: intrinsic value per lot = max(S - K, 0) (calls) or max(K - S, 0) (puts) x lot
size x multiplier, truncated to whole micro-USDC, the same integer for every holder, so the payouts
of a series sum to zero (positions do). Longs receive ``qty x value``, shorts pay it; the position
closes (realised P&L = payout - entry cost). Then its orders are cancelled and it is delisted.
Deterministic: only record times and the sequencer's own state are read.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import msgspec

from matching.events import BalanceChanged, InstrumentDelisted, OptionsExpired, PositionChanged
from matching.instruments import MICRO, Instrument
from matching.reasons import Reason
from matching.types import BalanceReason

if TYPE_CHECKING:
    from matching.sequencer import Sequencer

SAMPLE_EVERY_NS = 60 * 1_000_000_000
WINDOW_NS = 30 * SAMPLE_EVERY_NS


class Fixing(msgspec.Struct, array_like=True):
    """The samples of one (underlying, expiry) so far."""

    underlying: str
    expiry_ns: int
    total_micro: int = 0
    samples: int = 0
    next_sample_ns: int = 0  # 0: not started


class ExpiryState(msgspec.Struct):
    fixings: list[Fixing]


class OptionExpiry:
    """The expiry calendar of the listed options, derived from the sequencer's instruments."""

    def __init__(self) -> None:
        self.seq: Sequencer | None = None
        self.fixings: dict[tuple[str, int], Fixing] = {}
        # the calendar, rebuilt when an instrument is listed (next_timer_ns runs after every command
        # an extension handles: it must not walk the instruments each time)
        self._calendar: list[tuple[str, int]] = []
        self._calendar_of = -1

    # -- Extension ----------------------------------------------------------------------------------

    def attach(self, sequencer: Sequencer) -> dict[type, Callable[[Any], None]]:
        self.seq = sequencer
        return {}

    def next_timer_ns(self) -> int:
        due = 0
        for underlying, expiry in self._expiries():
            fixing = self.fixings.get((underlying, expiry))
            # the next sample, the expiry itself once all are taken, or a retry a minute after an
            # expiry that found no index (never a time already past: the runtime would tick non-stop)
            at = fixing.next_sample_ns if fixing is not None else expiry - WINDOW_NS
            due = at if not due or at < due else due
        return due

    def on_time(self, now_ns: int) -> None:
        seq = self._seq()
        for underlying, expiry in self._expiries():
            if now_ns < expiry - WINDOW_NS:
                continue
            key = (underlying, expiry)
            fixing = self.fixings.get(key)
            if fixing is None:
                fixing = self.fixings[key] = Fixing(underlying, expiry, next_sample_ns=expiry - WINDOW_NS)
            index = seq.indices.get(underlying)
            price = index.price_micro if index is not None else 0
            while fixing.next_sample_ns < expiry and fixing.next_sample_ns <= now_ns:
                if price > 0:
                    fixing.total_micro += price
                    fixing.samples += 1
                fixing.next_sample_ns += SAMPLE_EVERY_NS
            if now_ns < expiry:
                continue
            settlement = fixing.total_micro // fixing.samples if fixing.samples else price
            if settlement <= 0:
                fixing.next_sample_ns = now_ns + SAMPLE_EVERY_NS  # no index yet: try again later
                continue
            self._settle(underlying, expiry, settlement, fixing.samples)
            del self.fixings[key]

    def save_state(self) -> bytes:
        fixings = [self.fixings[k] for k in sorted(self.fixings)]
        return msgspec.msgpack.encode(ExpiryState(fixings))

    def load_state(self, blob: bytes) -> None:
        state = msgspec.msgpack.decode(blob, type=ExpiryState) if blob else ExpiryState([])
        self.fixings = {(f.underlying, f.expiry_ns): f for f in state.fixings}

    # -- settlement ---------------------------------------------------------------------------------

    def _seq(self) -> Sequencer:
        if self.seq is None:
            raise RuntimeError("OptionExpiry is not attached to a sequencer")
        return self.seq

    def _expiries(self) -> list[tuple[str, int]]:
        """(underlying, expiry) of every active option series, sorted."""
        seq = self._seq()
        if self._calendar_of != len(seq.instruments_by_id):
            found: set[tuple[str, int]] = set()
            for instruments in seq.by_underlying.values():
                for inst in instruments:
                    if inst.is_option and inst.active and inst.spec.expiry_ns:
                        found.add((inst.underlying, inst.spec.expiry_ns))
            self._calendar = sorted(found)
            self._calendar_of = len(seq.instruments_by_id)
        return self._calendar

    def _settle(self, underlying: str, expiry: int, price_micro: int, samples: int) -> None:
        seq = self._seq()
        series = [
            inst
            for inst in seq.by_underlying.get(underlying, [])
            if inst.is_option and inst.active and inst.spec.expiry_ns == expiry
        ]
        self._calendar = [e for e in self._calendar if e != (underlying, expiry)]
        if not series:  # every series delisted by hand before expiry: nothing to settle
            return
        out = seq.out
        positions = 0
        for inst in series:
            value = value_per_lot(inst, price_micro)
            for account in seq.ledger.accounts.values():
                pos = account.positions.get(inst.id)
                if pos is None or (not pos.qty and not pos.cost):
                    continue
                old = pos.qty
                payout = old * value
                pos.realised += payout - pos.cost
                pos.qty = 0
                pos.cost = 0
                account.collateral += payout
                seq.risk.on_position_change(account, inst, old, 0)
                positions += 1
                out.append(PositionChanged(account.id, inst.symbol, 0, 0, pos.realised))
                if payout:
                    out.append(
                        BalanceChanged(
                            account.id, payout, account.collateral, BalanceReason.OPTION_EXPIRY, inst.symbol
                        )
                    )
        out.append(OptionsExpired(underlying, expiry, price_micro, samples, len(series), positions))
        for inst in series:
            seq.matcher.cancel_all(Reason.INSTRUMENT_DELISTED, inst.symbol)
            inst.active = False
            out.append(InstrumentDelisted(inst.symbol))


def value_per_lot(inst: Instrument, price_micro: int) -> int:
    """Intrinsic value of one lot at ``price_micro``, in micro-USDC, truncated (never negative)."""
    strike_micro = Fraction(inst.spec.strike or Decimal(0)) * MICRO
    intrinsic = price_micro - strike_micro if inst.spec.option_type == "C" else strike_micro - price_micro
    if intrinsic <= 0:
        return 0
    return int(intrinsic * Fraction(inst.lot_num, inst.lot_den))
