"""The RFQ desk: auctions, firm maker quotes, awards and market-maker protection, on the sequencer.

The desk is a ``matching.sequencer.Extension``: its commands (``RfqCreate``, ``RfqQuote``,
``RfqQuoteCancel``, ``RfqAccept``, ``RfqCancel``, ``MmpSet``, ``MmpReset``) are journaled and applied in
sequence like orders, so every quote, its time and why the winner won are in the journal, replay rebuilds
open auctions exactly, and an award books atomically through ``matching.block`` with both accounts'
portfolio margin checked on the whole package. Time moves only with records: windows, quote validities,
RFQ expiries and protection cool-offs fall due at the first record whose stamp reaches them.

Prices: a quote carries per-leg prices in ticks; its package price (micro-USDC) is the signed sum of
qty x price over the legs as the package's buyer trades them (the hedge leg, executed at the taker's
price, is left out). Best bid is the highest package price, best offer the lowest; between equal prices
the earlier quote wins (a replaced quote is a new quote and loses its place).

Event routing is the front doors' job; ``matching.events`` says who may see what.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

import msgspec

from matching.block import BlockLeg, check_legs, check_margin, execute
from matching.commands import (
    MmpReset,
    MmpSet,
    RfqAccept,
    RfqCancel,
    RfqCreate,
    RfqLeg,
    RfqQuote,
    RfqQuoteCancel,
)
from matching.events import (
    MmpUpdated,
    QuoteClosed,
    QuoteEntered,
    QuoteRejected,
    QuoteView,
    RfqAcceptRejected,
    RfqClosed,
    RfqExecuted,
    RfqLegView,
    RfqOpened,
    RfqQuotes,
    RfqRejected,
)
from matching.instruments import Instrument
from matching.order_checks import within_band
from matching.reasons import Reason, text
from matching.sequencer import Sequencer
from matching.types import QuoteStatus, RfqStatus

MAX_LEGS = 20
MIN_WINDOW_NS = 50_000_000  # 50 ms: below that no maker across a network can answer
MAX_WINDOW_NS = 10_000_000_000
MAX_VALIDITY_NS = 3_600_000_000_000  # an hour
NANO = 1_000_000_000

# timer kinds, in the order they run when due at the same instant
_THAW, _QUOTE_EXPIRY, _WINDOW_END, _RFQ_EXPIRY = 0, 1, 2, 3


class Quote(msgspec.Struct, array_like=True):
    quote_id: int
    rfq_id: int
    account: str
    client_quote_id: str
    bid_ticks: tuple[int, ...]
    offer_ticks: tuple[int, ...]
    bid_micro: int | None
    offer_micro: int | None
    entered_ns: int
    expire_ns: int


class Rfq(msgspec.Struct, array_like=True):
    rfq_id: int
    account: str
    client_rfq_id: str
    underlying: str
    side: int
    legs: tuple[RfqLeg, ...]
    hedge: RfqLeg | None
    hedge_price_ticks: int
    counterparties: tuple[str, ...]
    min_price_micro: int | None
    max_price_micro: int | None
    window_end_ns: int
    expire_ns: int
    window_closed: bool = False
    quotes: dict[str, Quote] = {}  # live quotes by maker account


class Mmp(msgspec.Struct, array_like=True):
    mmp_id: int
    account: str
    underlying: str
    interval_ns: int
    qty_limit: int
    delta_limit: int
    frozen_ns: int
    fills: list[tuple[int, int, int]] = []  # (time, qty, delta) within the interval, oldest first
    frozen_until_ns: int = 0  # 0: quoting; -1: until reset


class DeskState(msgspec.Struct, array_like=True):
    next_rfq_id: int
    next_quote_id: int
    rfqs: list[Rfq]
    mmp: list[Mmp]
    timers: list[tuple[int, int, int]]


class RfqDesk:
    """Open RFQs and their quotes, market-maker protection. One instance per sequencer."""

    def __init__(self) -> None:
        self.seq: Sequencer | None = None
        self.rfqs: dict[int, Rfq] = {}  # open RFQs
        self.client_ids: dict[tuple[str, str], int] = {}  # (taker, client RFQ id) of open RFQs
        self.mmp: dict[tuple[str, str], Mmp] = {}
        self.timers: list[tuple[int, int, int]] = []  # (due, kind, id) heap; stale entries skipped
        self.next_rfq_id = 1
        self.next_quote_id = 1

    # -- Extension ----------------------------------------------------------------------------------

    def attach(self, sequencer: Sequencer) -> dict[type, Callable[[Any], None]]:
        self.seq = sequencer
        return {
            RfqCreate: self.create,
            RfqQuote: self.quote,
            RfqQuoteCancel: self.cancel_quotes,
            RfqAccept: self.accept,
            RfqCancel: self.withdraw,
            MmpSet: self.set_mmp,
            MmpReset: self.reset_mmp,
        }

    def next_timer_ns(self) -> int:
        return self.timers[0][0] if self.timers else 0

    def on_time(self, now_ns: int) -> None:
        timers = self.timers
        while timers and timers[0][0] <= now_ns:
            due, kind, ident = heapq.heappop(timers)
            if kind == _WINDOW_END:
                rfq = self.rfqs.get(ident)
                if rfq is not None and not rfq.window_closed:
                    rfq.window_closed = True
                    self._publish(rfq)
            elif kind == _RFQ_EXPIRY:
                rfq = self.rfqs.get(ident)
                if rfq is not None and rfq.expire_ns == due:
                    self._close(rfq, RfqStatus.EXPIRED, QuoteStatus.EXPIRED, "RFQ expired")
            elif kind == _QUOTE_EXPIRY:
                self._expire_quote(ident, due)
            else:
                self._thaw(ident, due)

    def save_state(self) -> bytes:
        mmp = [self.mmp[key] for key in sorted(self.mmp)]
        rfqs = [self.rfqs[key] for key in sorted(self.rfqs)]
        return msgspec.msgpack.encode(
            DeskState(self.next_rfq_id, self.next_quote_id, rfqs, mmp, sorted(self.timers))
        )

    def load_state(self, blob: bytes) -> None:
        state = msgspec.msgpack.decode(blob, type=DeskState) if blob else DeskState(1, 1, [], [], [])
        self.next_rfq_id, self.next_quote_id = state.next_rfq_id, state.next_quote_id
        self.rfqs = {rfq.rfq_id: rfq for rfq in state.rfqs}
        self.client_ids = {(rfq.account, rfq.client_rfq_id): rfq.rfq_id for rfq in state.rfqs}
        self.mmp = {(m.account, m.underlying): m for m in state.mmp}
        self.timers = [tuple(t) for t in state.timers]  # type: ignore[misc]
        heapq.heapify(self.timers)

    # -- queries ------------------------------------------------------------------------------------

    def quote_by_id(self, quote_id: int) -> Quote | None:
        for rfq in self.rfqs.values():
            for quote in rfq.quotes.values():
                if quote.quote_id == quote_id:
                    return quote
        return None

    # -- commands -----------------------------------------------------------------------------------

    def create(self, cmd: RfqCreate) -> None:
        seq = self._seq()
        reason, underlying = self._check_create(cmd)
        if reason:
            seq.out.append(RfqRejected(cmd.account, cmd.client_rfq_id, reason, text(reason)))
            return
        now = seq.last_ts
        rfq_id = self.next_rfq_id
        self.next_rfq_id = rfq_id + 1
        hedge_price = cmd.hedge_price_ticks
        if cmd.hedge is not None and hedge_price == 0:
            hedge_price = self._instrument(cmd.hedge.symbol).mark_ticks
        rfq = Rfq(
            rfq_id,
            cmd.account,
            cmd.client_rfq_id,
            underlying,
            cmd.side,
            cmd.legs,
            cmd.hedge,
            hedge_price,
            cmd.counterparties,
            cmd.min_price_micro,
            cmd.max_price_micro,
            now + cmd.window_ns,
            now + cmd.validity_ns,
            quotes={},
        )
        self.rfqs[rfq_id] = rfq
        if cmd.client_rfq_id:
            self.client_ids[(cmd.account, cmd.client_rfq_id)] = rfq_id
        heapq.heappush(self.timers, (rfq.window_end_ns, _WINDOW_END, rfq_id))
        heapq.heappush(self.timers, (rfq.expire_ns, _RFQ_EXPIRY, rfq_id))
        hedge = cmd.hedge
        seq.out.append(
            RfqOpened(
                rfq_id,
                cmd.account,
                cmd.client_rfq_id,
                underlying,
                cmd.side,
                tuple(RfqLegView(leg.symbol, leg.side, leg.qty_lots) for leg in cmd.legs),
                RfqLegView(hedge.symbol, hedge.side, hedge.qty_lots) if hedge is not None else None,
                hedge_price,
                cmd.counterparties,
                cmd.min_price_micro,
                cmd.max_price_micro,
                rfq.window_end_ns,
                rfq.expire_ns,
            )
        )

    def quote(self, cmd: RfqQuote) -> None:
        seq = self._seq()
        rfq = self.rfqs.get(cmd.rfq_id)
        reason = self._check_quote(cmd, rfq)
        bid = offer = None
        if not reason:
            assert rfq is not None
            bid, offer, reason = self._package_prices(rfq, cmd)
        if reason:
            seq.out.append(QuoteRejected(cmd.account, cmd.rfq_id, cmd.client_quote_id, reason, text(reason)))
            return
        assert rfq is not None
        now = seq.last_ts
        expire = min(now + cmd.valid_ns, rfq.expire_ns) if cmd.valid_ns else rfq.expire_ns
        old = rfq.quotes.get(cmd.account)
        if old is not None:
            seq.out.append(
                QuoteClosed(
                    old.quote_id,
                    rfq.rfq_id,
                    old.account,
                    old.client_quote_id,
                    QuoteStatus.REPLACED,
                    0,
                    "replaced",
                )
            )
        quote_id = self.next_quote_id
        self.next_quote_id = quote_id + 1
        quote = Quote(
            quote_id,
            rfq.rfq_id,
            cmd.account,
            cmd.client_quote_id,
            cmd.bid_ticks,
            cmd.offer_ticks,
            bid,
            offer,
            now,
            expire,
        )
        rfq.quotes[cmd.account] = quote
        if expire < rfq.expire_ns:
            heapq.heappush(self.timers, (expire, _QUOTE_EXPIRY, quote_id))
        seq.out.append(
            QuoteEntered(
                quote_id,
                rfq.rfq_id,
                cmd.account,
                cmd.client_quote_id,
                bid,
                offer,
                cmd.bid_ticks,
                cmd.offer_ticks,
                expire,
                old.quote_id if old is not None else 0,
            )
        )
        if rfq.window_closed:
            self._publish(rfq)

    def cancel_quotes(self, cmd: RfqQuoteCancel) -> None:
        seq = self._seq()
        if cmd.rfq_id:
            rfq = self.rfqs.get(cmd.rfq_id)
            quote = rfq.quotes.get(cmd.account) if rfq is not None else None
            if rfq is None or quote is None:
                reason = Reason.QUOTE_NOT_FOUND
                seq.out.append(QuoteRejected(cmd.account, cmd.rfq_id, "", reason, text(reason)))
                return
            self._drop_quote(rfq, quote, QuoteStatus.CANCELLED, Reason.USER_CANCEL)
            return
        self._pull(cmd.account, cmd.underlying, QuoteStatus.CANCELLED, Reason.USER_CANCEL)

    def accept(self, cmd: RfqAccept) -> None:
        seq = self._seq()
        rfq = self.rfqs.get(cmd.rfq_id)
        reason = 0
        quote = None
        if rfq is None:
            reason = Reason.RFQ_CLOSED if 0 < cmd.rfq_id < self.next_rfq_id else Reason.RFQ_NOT_FOUND
        elif rfq.account != cmd.account:
            reason = Reason.RFQ_NOT_FOUND  # another account's open RFQ is not theirs to learn about
        elif not rfq.window_closed:
            reason = Reason.RFQ_WINDOW_OPEN
        elif cmd.side not in (1, -1) or (rfq.side and cmd.side != rfq.side):
            reason = Reason.RFQ_INVALID
        else:
            quote = next((q for q in rfq.quotes.values() if q.quote_id == cmd.quote_id), None)
            if quote is None:
                reason = Reason.QUOTE_NOT_FOUND
            else:
                price = quote.offer_micro if cmd.side > 0 else quote.bid_micro
                if price is None:
                    reason = Reason.QUOTE_SIDE_NOT_QUOTED
                elif cmd.limit_price_micro is not None and (cmd.limit_price_micro - price) * cmd.side < 0:
                    reason = Reason.QUOTE_WORSE_THAN_LIMIT
        if reason:
            self._accept_rejected(cmd, reason)
            return
        assert rfq is not None and quote is not None
        legs = self._block_legs(rfq, quote, cmd.side)
        reason = check_legs(seq, legs)
        if reason:
            self._accept_rejected(cmd, reason)
            return
        accounts = seq.ledger.accounts
        taker, maker = accounts.get(rfq.account), accounts.get(quote.account)
        if taker is None or maker is None:
            self._accept_rejected(cmd, Reason.UNKNOWN_ACCOUNT)
            return
        taker_reason, maker_reason = check_margin(seq, taker, maker, legs)
        if taker_reason:
            self._accept_rejected(cmd, taker_reason)
            return
        if maker_reason:
            # No last look, so a maker that cannot carry its own firm quote loses it.
            self._accept_rejected(cmd, Reason.COUNTERPARTY_MARGIN)
            self._drop_quote(rfq, quote, QuoteStatus.REJECTED, maker_reason)
            return
        price = quote.offer_micro if cmd.side > 0 else quote.bid_micro
        assert price is not None
        on_side = [q.offer_micro if cmd.side > 0 else q.bid_micro for q in rfq.quotes.values()]
        prices = [p for p in on_side if p is not None]
        best = min(prices) if cmd.side > 0 else max(prices)
        first_trade_id = execute(seq, taker, maker, legs, rfq.rfq_id, quote.quote_id)
        seq.out.append(
            RfqExecuted(
                rfq.rfq_id,
                quote.quote_id,
                taker.id,
                maker.id,
                cmd.client_order_id,
                cmd.side,
                price,
                best,
                len(prices),
                first_trade_id,
                len(legs),
            )
        )
        del rfq.quotes[quote.account]
        seq.out.append(
            QuoteClosed(
                quote.quote_id,
                rfq.rfq_id,
                quote.account,
                quote.client_quote_id,
                QuoteStatus.ACCEPTED,
                0,
                "filled",
            )
        )
        self._close(rfq, RfqStatus.FILLED, QuoteStatus.RFQ_CLOSED, "RFQ filled")
        self._count_for_mmp(maker.id, rfq.underlying, legs)

    def withdraw(self, cmd: RfqCancel) -> None:
        seq = self._seq()
        rfq = self.rfqs.get(cmd.rfq_id)
        if rfq is None or rfq.account != cmd.account:
            reason = Reason.RFQ_NOT_FOUND
            seq.out.append(RfqAcceptRejected(cmd.account, cmd.rfq_id, 0, "", reason, text(reason)))
            return
        self._close(rfq, RfqStatus.CANCELLED, QuoteStatus.RFQ_CLOSED, "RFQ withdrawn by the taker")

    def set_mmp(self, cmd: MmpSet) -> None:
        seq = self._seq()
        if (
            cmd.account not in seq.ledger.accounts
            or cmd.underlying not in seq.indices
            or cmd.interval_ns <= 0
            or min(cmd.qty_limit, cmd.delta_limit, cmd.frozen_ns) < 0
        ):
            reason = (
                Reason.UNKNOWN_ACCOUNT if cmd.account not in seq.ledger.accounts else Reason.INVALID_ORDER
            )
            seq.out.append(RfqRejected(cmd.account, f"mmp:{cmd.underlying}", reason, text(reason)))
            return
        mmp = self.mmp.get((cmd.account, cmd.underlying))
        if mmp is None:
            mmp = self.mmp[(cmd.account, cmd.underlying)] = Mmp(
                len(self.mmp) + 1,
                cmd.account,
                cmd.underlying,
                cmd.interval_ns,
                cmd.qty_limit,
                cmd.delta_limit,
                cmd.frozen_ns,
                [],
            )
        else:
            mmp.interval_ns, mmp.qty_limit = cmd.interval_ns, cmd.qty_limit
            mmp.delta_limit, mmp.frozen_ns = cmd.delta_limit, cmd.frozen_ns
        self._mmp_event(mmp, False)

    def reset_mmp(self, cmd: MmpReset) -> None:
        mmp = self.mmp.get((cmd.account, cmd.underlying))
        if mmp is None:
            reason = Reason.INVALID_ORDER
            self._seq().out.append(RfqRejected(cmd.account, f"mmp:{cmd.underlying}", reason, text(reason)))
            return
        mmp.frozen_until_ns = 0
        mmp.fills = []
        self._mmp_event(mmp, False)

    # -- checks -------------------------------------------------------------------------------------

    def _check_create(self, cmd: RfqCreate) -> tuple[int, str]:
        seq = self._seq()
        if cmd.account not in seq.ledger.accounts:
            return Reason.UNKNOWN_ACCOUNT, ""
        if seq.matcher.venue_halted:
            return Reason.VENUE_HALTED, ""
        if not 1 <= len(cmd.legs) <= MAX_LEGS:
            return Reason.RFQ_TOO_MANY_LEGS, ""
        if not MIN_WINDOW_NS <= cmd.window_ns <= MAX_WINDOW_NS or not (
            cmd.window_ns < cmd.validity_ns <= MAX_VALIDITY_NS
        ):
            return Reason.RFQ_INVALID_WINDOW, ""
        legs = list(cmd.legs) + ([cmd.hedge] if cmd.hedge is not None else [])
        if (
            cmd.side not in (-1, 0, 1)
            or len({leg.symbol for leg in legs}) != len(legs)
            or any(leg.side not in (1, -1) for leg in legs)
            or cmd.account in cmd.counterparties
            or (
                cmd.min_price_micro is not None
                and cmd.max_price_micro is not None
                and cmd.min_price_micro > cmd.max_price_micro
            )
        ):
            return Reason.RFQ_INVALID, ""
        reason, underlying = self._check_legs(legs)
        if reason:
            return reason, ""
        if cmd.hedge is not None:
            hedge = self._instrument(cmd.hedge.symbol)
            if hedge.is_option:
                return Reason.RFQ_INVALID, ""
            price = cmd.hedge_price_ticks or hedge.mark_ticks
            if price <= 0 or not (within_band(hedge, 1, price) and within_band(hedge, -1, price)):
                return Reason.PRICE_BAND if price > 0 else Reason.NO_MARK, ""
        if cmd.client_rfq_id and (cmd.account, cmd.client_rfq_id) in self.client_ids:
            return Reason.RFQ_DUPLICATE_ID, ""
        return 0, underlying

    def _check_legs(self, legs: list[RfqLeg]) -> tuple[int, str]:
        """Instruments listed and active, sizes within their limits, one underlying."""
        markets = self._seq().matcher.markets
        underlyings = set()
        for leg in legs:
            market = markets.get(leg.symbol)
            if market is None:
                return Reason.UNKNOWN_INSTRUMENT, ""
            inst = market.instrument
            if not inst.active:
                return Reason.INSTRUMENT_NOT_ACTIVE, ""
            if leg.qty_lots <= 0:
                return Reason.INVALID_QTY_LOT, ""
            if leg.qty_lots < inst.min_qty_lots:
                return Reason.QTY_BELOW_MIN, ""
            if leg.qty_lots > inst.max_qty_lots:
                return Reason.QTY_ABOVE_MAX, ""
            underlyings.add(inst.underlying)
        if len(underlyings) != 1:
            return Reason.RFQ_MIXED_UNDERLYINGS, ""
        return 0, underlyings.pop()

    def _check_quote(self, cmd: RfqQuote, rfq: Rfq | None) -> int:
        seq = self._seq()
        if rfq is None:
            return Reason.RFQ_CLOSED if 0 < cmd.rfq_id < self.next_rfq_id else Reason.RFQ_NOT_FOUND
        if cmd.account not in seq.ledger.accounts:
            return Reason.UNKNOWN_ACCOUNT
        if cmd.account == rfq.account or (rfq.counterparties and cmd.account not in rfq.counterparties):
            return Reason.RFQ_NOT_PERMITTED
        mmp = self.mmp.get((cmd.account, rfq.underlying))
        if mmp is not None and mmp.frozen_until_ns:
            return Reason.MMP_FROZEN
        n = len(rfq.legs)
        sides = (len(cmd.bid_ticks), len(cmd.offer_ticks))
        if sides not in ((n, n), (n, 0), (0, n)) or cmd.valid_ns < 0:
            return Reason.RFQ_INVALID
        if (rfq.side > 0 and sides[1] == 0) or (rfq.side < 0 and sides[0] == 0):
            return Reason.QUOTE_SIDE_NOT_QUOTED
        for prices in (cmd.bid_ticks, cmd.offer_ticks):
            for leg, price in zip(rfq.legs, prices, strict=False):
                if price <= 0:
                    return Reason.INVALID_PRICE
                inst = self._instrument(leg.symbol)
                if not (within_band(inst, 1, price) and within_band(inst, -1, price)):
                    return Reason.PRICE_BAND
        return 0

    def _package_prices(self, rfq: Rfq, cmd: RfqQuote) -> tuple[int | None, int | None, int]:
        bid = self._package_price(rfq, cmd.bid_ticks) if cmd.bid_ticks else None
        offer = self._package_price(rfq, cmd.offer_ticks) if cmd.offer_ticks else None
        if bid is not None and offer is not None and bid > offer:
            return None, None, Reason.INVALID_PRICE
        low, high = rfq.min_price_micro, rfq.max_price_micro
        for price in (bid, offer):
            if price is not None and (
                (low is not None and price < low) or (high is not None and price > high)
            ):
                return None, None, Reason.QUOTE_PRICE_OUTSIDE_LIMITS
        return bid, offer, 0

    def _package_price(self, rfq: Rfq, ticks: tuple[int, ...]) -> int:
        total = 0
        for leg, price in zip(rfq.legs, ticks, strict=True):
            total += leg.side * leg.qty_lots * price * self._instrument(leg.symbol).micro_per_tick_lot
        return total

    # -- state changes ------------------------------------------------------------------------------

    def _block_legs(self, rfq: Rfq, quote: Quote, side: int) -> list[BlockLeg]:
        prices = quote.offer_ticks if side > 0 else quote.bid_ticks
        legs = [
            BlockLeg(self._instrument(leg.symbol), side * leg.side * leg.qty_lots, price)
            for leg, price in zip(rfq.legs, prices, strict=True)
        ]
        if rfq.hedge is not None:
            hedge = rfq.hedge
            legs.append(
                BlockLeg(
                    self._instrument(hedge.symbol), side * hedge.side * hedge.qty_lots, rfq.hedge_price_ticks
                )
            )
        return legs

    def _accept_rejected(self, cmd: RfqAccept, reason: int) -> None:
        self._seq().out.append(
            RfqAcceptRejected(
                cmd.account, cmd.rfq_id, cmd.quote_id, cmd.client_order_id, reason, text(reason)
            )
        )

    def _publish(self, rfq: Rfq) -> None:
        """The taker's view of the auction (only once the window has closed)."""
        quotes = sorted(rfq.quotes.values(), key=lambda q: q.quote_id)
        best_bid = best_offer = None
        for q in quotes:  # in entry order, so a strict comparison keeps the earlier of equal prices
            if q.bid_micro is not None and (best_bid is None or q.bid_micro > (best_bid.bid_micro or 0)):
                best_bid = q
            if q.offer_micro is not None and (
                best_offer is None or q.offer_micro < (best_offer.offer_micro or 0)
            ):
                best_offer = q
        self._seq().out.append(
            RfqQuotes(
                rfq.rfq_id,
                rfq.account,
                best_bid.quote_id if best_bid else 0,
                best_bid.bid_micro if best_bid else None,
                best_offer.quote_id if best_offer else 0,
                best_offer.offer_micro if best_offer else None,
                tuple(
                    QuoteView(
                        q.quote_id,
                        q.bid_micro,
                        q.offer_micro,
                        q.bid_ticks,
                        q.offer_ticks,
                        q.entered_ns,
                        q.expire_ns,
                    )
                    for q in quotes
                ),
            )
        )

    def _drop_quote(self, rfq: Rfq, quote: Quote, status: int, reason: int, publish: bool = True) -> None:
        del rfq.quotes[quote.account]
        words = "expired" if status == QuoteStatus.EXPIRED else text(reason) if reason else "closed"
        self._seq().out.append(
            QuoteClosed(
                quote.quote_id, rfq.rfq_id, quote.account, quote.client_quote_id, status, reason, words
            )
        )
        if publish and rfq.window_closed:
            self._publish(rfq)

    def _expire_quote(self, quote_id: int, due: int) -> None:
        for rfq in self.rfqs.values():
            for quote in rfq.quotes.values():
                if quote.quote_id == quote_id:
                    if quote.expire_ns == due:
                        self._drop_quote(rfq, quote, QuoteStatus.EXPIRED, 0)
                    return

    def _close(self, rfq: Rfq, status: int, quote_status: int, words: str) -> None:
        for account in sorted(rfq.quotes, key=lambda a: rfq.quotes[a].quote_id):
            self._drop_quote(rfq, rfq.quotes[account], quote_status, 0, publish=False)
        del self.rfqs[rfq.rfq_id]
        self.client_ids.pop((rfq.account, rfq.client_rfq_id), None)
        self._seq().out.append(RfqClosed(rfq.rfq_id, rfq.account, status, words))

    def _pull(self, account: str, underlying: str, status: int, reason: int) -> None:
        """Close every live quote of ``account`` (on ``underlying`` only, when given), in RFQ order."""
        for rfq_id in sorted(self.rfqs):
            rfq = self.rfqs[rfq_id]
            if underlying and rfq.underlying != underlying:
                continue
            quote = rfq.quotes.get(account)
            if quote is not None:
                self._drop_quote(rfq, quote, status, reason)

    # -- market-maker protection --------------------------------------------------------------------

    def _count_for_mmp(self, maker: str, underlying: str, legs: list[BlockLeg]) -> None:
        mmp = self.mmp.get((maker, underlying))
        if mmp is None:
            return
        seq = self._seq()
        now = seq.last_ts
        qty = delta = 0
        for leg in legs:
            inst = leg.instrument
            qty += abs(leg.qty) * NANO * inst.lot_num // inst.lot_den
            delta += -leg.qty * seq.risk.delta_per_lot(inst)  # the maker takes the other side
        horizon = now - mmp.interval_ns
        mmp.fills = [f for f in mmp.fills if f[0] > horizon] + [(now, qty, delta)]
        traded_qty = sum(f[1] for f in mmp.fills)
        traded_delta = sum(f[2] for f in mmp.fills)
        if (mmp.qty_limit and traded_qty >= mmp.qty_limit) or (
            mmp.delta_limit and abs(traded_delta) >= mmp.delta_limit
        ):
            mmp.frozen_until_ns = now + mmp.frozen_ns if mmp.frozen_ns else -1
            if mmp.frozen_ns:
                heapq.heappush(self.timers, (mmp.frozen_until_ns, _THAW, mmp.mmp_id))
            self._mmp_event(mmp, True, traded_qty, traded_delta)
            mmp.fills = []
            self._pull(maker, underlying, QuoteStatus.PULLED, Reason.MMP_FROZEN)

    def _thaw(self, mmp_id: int, due: int) -> None:
        mmp = next((m for m in self.mmp.values() if m.mmp_id == mmp_id), None)
        if mmp is not None and mmp.frozen_until_ns == due:
            mmp.frozen_until_ns = 0
            self._mmp_event(mmp, False)

    def _mmp_event(self, mmp: Mmp, triggered: bool, qty: int = 0, delta: int = 0) -> None:
        if not triggered:
            qty = sum(f[1] for f in mmp.fills)
            delta = sum(f[2] for f in mmp.fills)
        self._seq().out.append(
            MmpUpdated(
                mmp.account,
                mmp.underlying,
                mmp.interval_ns,
                mmp.qty_limit,
                mmp.delta_limit,
                mmp.frozen_ns,
                triggered,
                mmp.frozen_until_ns,
                qty,
                delta,
            )
        )

    # -- plumbing -----------------------------------------------------------------------------------

    def _seq(self) -> Sequencer:
        seq = self.seq
        assert seq is not None, "RfqDesk used before Sequencer.extend(desk)"
        return seq

    def _instrument(self, symbol: str) -> Instrument:
        return self._seq().matcher.markets[symbol].instrument
