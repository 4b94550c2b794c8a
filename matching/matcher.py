"""Order handling: validation, protections, pre-trade risk, matching, self-trade prevention, fills.

Runs on the sequencer's thread only; every method appends events to ``out`` and never raises on bad
input (a bad order becomes OrderRejected / CancelRejected with a ``Reason``).

Ordering invariant: price-time priority. An incoming order trades against the best opposite level from
its head (oldest) on, at the resting order's price, before any of it rests.

Modify semantics: a replace keeps time priority only when the price is unchanged and the quantity goes
down (it shrinks in place); otherwise the order leaves the book and re-enters as if new (same order
id), and may trade.

Self-trade prevention: checked per resting order met during matching, with the taker's mode (the
order's own, else the account's). FOK orders are checked for full fillability first, counting only
what can really trade under that mode.

Market orders: an IOC limit at the mark (or, without a mark, the touch) +/- the instrument's
protection; what cannot fill within it is cancelled. Stops are held in a StopBook and enter as market
or limit orders when triggered; margin is checked at trigger time.

Known limitation: a delisted or halted instrument keeps its resting orders until cancelled (halt) or
cancels them (delist); expiry settlement of positions belongs to settlement/.
"""

from __future__ import annotations

import heapq
from typing import Final

from msgspec.structs import astuple

from matching.book import BookSide, Order, OrderBook
from matching.circuit_breaker import CircuitBreaker
from matching.commands import CancelOrder, MassCancel, NewOrder, ReplaceOrder
from matching.events import (
    BalanceChanged,
    BookDelta,
    CancelRejected,
    InstrumentHalted,
    MassCancelDone,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderReduced,
    OrderRejected,
    OrderReplaced,
    OrderTriggered,
    PositionChanged,
    Trade,
)
from matching.instruments import Instrument
from matching.ledger import Account, Ledger
from matching.native_codes import (
    CANCEL_BOTH,
    CANCEL_OLDEST,
    DECREMENT_AND_CANCEL,
    FOK,
    GTD,
    IOC,
    LIMIT,
    MARK_TRIGGER,
    MARKET,
    R_ADMIN_CANCEL,
    R_CANCEL_ON_DISCONNECT,
    R_CIRCUIT_BREAKER,
    R_FOK_NOT_FILLED,
    R_INVALID_ORDER,
    R_IOC_REMAINDER,
    R_MARKET_PROTECTION,
    R_MASS_CANCEL,
    R_NO_LIQUIDITY,
    R_ORDER_NOT_FOUND,
    R_POST_ONLY_WOULD_TAKE,
    R_REDUCE_ONLY_REDUCED,
    R_REDUCE_ONLY_WOULD_INCREASE,
    R_SELF_TRADE,
    R_TOO_LATE_TO_CANCEL,
    R_UNKNOWN_ACCOUNT,
    R_UNKNOWN_INSTRUMENT,
    R_USER_CANCEL,
    STOP_LIMIT,
    STOP_MARKET,
)
from matching.order_checks import protected_price, validate_new, validate_replace
from matching.reasons import text
from matching.risk_check import RiskCheck
from matching.stops import StopBook
from matching.types import BalanceReason, CancelRequest, MassCancelScope

TRADE_REASON: Final = BalanceReason.TRADE
FEE_REASON: Final = BalanceReason.FEE_INCOME
# event classes bound as Final: compiled code keeps them in C statics, not module-dict lookups
BalanceChanged_: Final = BalanceChanged
BookDelta_: Final = BookDelta
CancelRejected_: Final = CancelRejected
InstrumentHalted_: Final = InstrumentHalted
MassCancelDone_: Final = MassCancelDone
OrderAccepted_: Final = OrderAccepted
OrderCancelled_: Final = OrderCancelled
OrderExpired_: Final = OrderExpired
OrderReduced_: Final = OrderReduced
OrderRejected_: Final = OrderRejected
OrderReplaced_: Final = OrderReplaced
OrderTriggered_: Final = OrderTriggered
PositionChanged_: Final = PositionChanged
Trade_: Final = Trade
MASS_REASONS = {
    MassCancelScope.REQUEST: R_MASS_CANCEL,
    MassCancelScope.DISCONNECT: R_CANCEL_ON_DISCONNECT,
    MassCancelScope.ADMIN: R_ADMIN_CANCEL,
}


class Market:
    """Everything the matcher keeps per instrument."""

    __slots__ = ("book", "breaker", "instrument", "stops")

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self.book = OrderBook(instrument)
        self.stops = StopBook()
        self.breaker = CircuitBreaker(instrument.cb_move_ppm, instrument.cb_window_ns)


class Matcher:
    def __init__(self, ledger: Ledger, risk: RiskCheck, out: list[object]) -> None:
        self.ledger = ledger
        self.risk = risk
        self.out = out
        self.markets: dict[str, Market] = {}
        self.orders: dict[int, Order] = {}  # every live order by id
        self.expiries: list[tuple[int, int]] = []  # (expire_ns, order_id) of GTD orders, lazily cleaned
        self.next_order_id = 1
        self.next_trade_id = 1
        self.now = 0  # ns, the current command's stamp
        self.priority = 0  # the current command's sequence number
        self.venue_halted = False
        self.cooloffs: set[int] = set()  # ids of instruments halted by a breaker until a cool-off ends
        self._in_stops = False  # a stop cascade is being worked off; _execute must not start another

    # -- new orders -----------------------------------------------------------------------------------

    def new_order(self, cmd: NewOrder) -> None:
        # all fields in one C call: cheaper than reading a msgspec struct's fields one by one
        (account_id, clid, symbol, side, qty, price, order_type, tif, expire_ns, post_only, reduce_only,
         stop_price, trigger_by, stp_mode) = astuple(cmd)  # fmt: skip
        market = self.markets.get(symbol)
        account = self.ledger.accounts.get(account_id)
        if market is None or account is None:
            self._reject_new(cmd, R_UNKNOWN_INSTRUMENT if market is None else R_UNKNOWN_ACCOUNT)
            return
        # validation reads the native order, not the command
        order = Order(
            0,
            account,
            clid,
            market.instrument,
            side,
            price,
            qty,
            qty,
            order_type,
            tif,
            expire_ns,
            post_only,
            reduce_only,
            stop_price,
            trigger_by or MARK_TRIGGER,
            stp_mode or account.stp_mode,
        )
        reason = validate_new(order, self.now, self.venue_halted)
        if not reason and order.reduce_only:
            room = self._reduce_only_room(account, order.instrument, order.side)
            if room <= 0:
                reason = R_REDUCE_ONLY_WOULD_INCREASE
            elif room < order.qty:
                order.qty = order.leaves = room
        if reason:
            self._reject_new(cmd, reason)
            return
        order.priority = self.priority
        if order.order_type == STOP_MARKET or order.order_type == STOP_LIMIT:
            self._accept(order)
            market.stops.add(order)
            self._track_expiry(order)
            return
        self._execute(order, market, announce=True)

    def _reject_new(self, cmd: NewOrder, reason: int) -> None:
        self.out.append(OrderRejected_(cmd.account, cmd.client_order_id, cmd.symbol, reason, text(reason)))

    def _reduce_only_room(self, account: Account, inst: Instrument, side: int) -> int:
        """Lots a reduce-only order on ``side`` may take: the opposite position less resting reducers."""
        pos = account.positions.get(inst.id)
        qty = pos.qty if pos else 0
        room = -qty * side
        if room <= 0:
            return 0
        for order in account.reduce_only.get(inst.id, ()):
            if order.side == side:
                room -= order.leaves
        return room

    def _accept(self, order: Order) -> None:
        order_id = self.next_order_id
        self.next_order_id = order_id + 1
        order.order_id = order_id
        account = order.account
        account.orders[order_id] = order
        if order.client_order_id:
            account.client_ids[order.client_order_id] = order
        self.orders[order_id] = order
        self.out.append(
            OrderAccepted_(
                order_id,
                account.id,
                order.client_order_id,
                order.instrument.symbol,
                order.side,
                order.order_type,
                order.tif,
                order.price,
                order.qty,
                order.stop_price,
                order.expire_ns,
                order.post_only,
                order.reduce_only,
            )
        )

    def _track_expiry(self, order: Order) -> None:
        if order.tif == GTD:
            heapq.heappush(self.expiries, (order.expire_ns, order.order_id))

    def _execute(self, order: Order, market: Market, announce: bool) -> None:
        """Risk-check, accept (if ``announce``), match, then rest or cancel the remainder.

        For a triggered stop or a re-queued replace (``announce`` False) the order is live already,
        and a failed check cancels it instead of rejecting.
        """
        book = market.book
        opposite = book.asks if order.side > 0 else book.bids
        is_market = order.order_type == MARKET or order.order_type == STOP_MARKET
        if is_market:
            order.price = protected_price(market.instrument, order.side, opposite)
        checked_leaves = order.leaves
        reason, margin = self._admit(order, opposite)
        if reason:
            if announce:
                self.out.append(
                    OrderRejected_(
                        order.account.id, order.client_order_id, order.instrument.symbol, reason, text(reason)
                    )
                )
            else:
                self._cancel(order, reason)
            return
        if announce:
            self._accept(order)
        stopped = 0
        if opposite.best and (order.price - opposite.best) * order.side >= 0:
            stopped = self._match(order, market, opposite)
        if order.leaves == 0:
            self._forget(order)
        elif stopped or is_market or order.tif == IOC or order.tif == FOK:
            if not stopped:
                if is_market:
                    stopped = R_MARKET_PROTECTION if opposite.best else R_NO_LIQUIDITY
                else:
                    stopped = R_IOC_REMAINDER
            self._cancel(order, stopped)
        else:
            if order.leaves != checked_leaves:
                margin = margin * order.leaves // checked_leaves
            self._rest(order, book, margin)
            if announce:
                self._track_expiry(order)
        if market.stops.live and not self._in_stops:
            self._run_stops(market)

    def _admit(self, order: Order, opposite: BookSide) -> tuple[int, int]:
        """(reject reason or 0, margin to hold for ``order.leaves``) for an order about to execute."""
        side, price = order.side, order.price
        if price <= 0:
            return R_NO_LIQUIDITY, 0
        if order.post_only and opposite.best and (price - opposite.best) * side >= 0:
            return R_POST_ONLY_WOULD_TAKE, 0
        margin = 0
        if not order.reduce_only:
            risk = self.risk
            account, inst = order.account, order.instrument
            margin = risk.order_margin(account, inst, side, price, order.leaves)
            reason = risk.check_order(account, inst, side, price, order.leaves, margin)
            if reason:
                return reason, 0
        if order.tif == FOK and self._fillable(order, opposite) < order.leaves:
            return R_FOK_NOT_FILLED, 0
        return 0, margin

    def _fillable(self, order: Order, opposite: BookSide) -> int:
        """Lots an order could fill right now, honouring self-trade prevention; stops at ``order.leaves``."""
        side, limit, account, mode = order.side, order.price, order.account, order.stp_mode
        need = order.leaves
        got = 0
        for price in sorted(opposite.levels, reverse=side < 0):
            if (limit - price) * side < 0:
                break
            node = opposite.levels[price].head
            while node is not None:
                if node.account is account:
                    if mode != CANCEL_OLDEST:  # anything else ends the fill at this order
                        return got
                else:
                    got += node.leaves
                    if got >= need:
                        return got
                node = node.next
        return got

    # -- matching ---------------------------------------------------------------------------------

    def _match(self, taker: Order, market: Market, opposite: BookSide) -> int:
        """Trade ``taker`` against ``opposite`` while prices cross; 0, or why matching stopped early.

        Events: per fill a Trade and the maker's PositionChanged (and BalanceChanged when its cash
        moved); per level a BookDelta; once at the end the taker's PositionChanged and BalanceChanged
        and the fee account's BalanceChanged, carrying the state after the whole match.
        """
        inst = market.instrument
        inst_id = inst.id
        symbol = inst.symbol
        side = taker.side
        limit = taker.price
        account = taker.account
        breaker = market.breaker
        now = self.now
        out = self.out
        ledger = self.ledger
        risk = self.risk
        book_fill = ledger.book_fill
        fee_micro = inst.fee_micro
        taker_pos = account.positions.get(inst_id)
        taker_old = taker_pos.qty if taker_pos else 0
        taker_cash = fees = fills = 0
        result = 0
        while taker.leaves and opposite.best and (limit - opposite.best) * side >= 0:
            price = opposite.best
            if not breaker.allows(price, now):
                self._trip(market)
                result = R_CIRCUIT_BREAKER
                break
            level = opposite.levels[price]
            level_fills = fills
            # Every step either consumes the head (filled or pulled) or ends the taker, so the loop
            # always works on level.head; that also stays right when reduce-only enforcement pulls orders.
            while taker.leaves and (maker := level.head) is not None:
                maker_account = maker.account
                if maker_account is account:
                    result = self._self_trade(taker, maker, opposite)
                    if result:
                        break
                    continue
                qty = taker.leaves if taker.leaves < maker.leaves else maker.leaves
                maker_fee = fee_micro(price, qty, True)
                taker_fee = fee_micro(price, qty, False)
                value = price * qty
                maker.leaves -= qty
                maker.cum_qty += qty
                maker.cum_value += value
                taker.leaves -= qty
                taker.cum_qty += qty
                taker.cum_value += value
                level.total -= qty
                trade_id = self.next_trade_id
                self.next_trade_id = trade_id + 1
                out.append(
                    Trade_(
                        trade_id,
                        symbol,
                        price,
                        qty,
                        side,
                        maker.order_id,
                        taker.order_id,
                        maker_account.id,
                        account.id,
                        maker.client_order_id,
                        taker.client_order_id,
                        maker_fee,
                        taker_fee,
                        maker.cum_qty,
                        maker.leaves,
                        maker.cum_value,
                        taker.cum_qty,
                        taker.leaves,
                        taker.cum_value,
                    )
                )
                maker_pos = maker_account.positions.get(inst_id)
                maker_old = maker_pos.qty if maker_pos else 0
                maker_cash = book_fill(maker_account, inst, -side * qty, price, maker_fee)
                taker_cash += book_fill(account, inst, side * qty, price, taker_fee)
                fees += maker_fee + taker_fee
                fills += 1
                maker_pos = maker_account.positions[inst_id]
                out.append(
                    PositionChanged_(
                        maker_account.id, symbol, maker_pos.qty, maker_pos.cost, maker_pos.realised
                    )
                )
                if maker_cash:
                    out.append(
                        BalanceChanged_(
                            maker_account.id, maker_cash, maker_account.collateral, TRADE_REASON, ""
                        )
                    )
                if maker.leaves == 0:
                    opposite.remove(maker)  # leaves is 0, so the level total is already right
                    self._forget(maker)
                elif maker.margin_micro:
                    self._release_margin(maker, qty)
                risk.on_position_change(maker_account, inst, maker_old, maker_pos.qty)
                if maker_account.reduce_only:
                    self.enforce_reduce_only(maker_account, market)
            self._level_delta(market.book, -side, price, level.total, level.count)
            if fills > level_fills:
                inst.last_trade_ticks = price
                breaker.record(price, now)
            if result:
                break
        if fills:
            self._settle_taker(taker, market, taker_old, taker_cash, fees)
        return result

    def _settle_taker(self, taker: Order, market: Market, old_qty: int, cash: int, fees: int) -> None:
        """The taker's and the fee account's state after a match that filled, as one event each."""
        inst = market.instrument
        account = taker.account
        pos = account.positions[inst.id]
        out = self.out
        out.append(PositionChanged_(account.id, inst.symbol, pos.qty, pos.cost, pos.realised))
        if cash:
            out.append(BalanceChanged_(account.id, cash, account.collateral, TRADE_REASON, ""))
        if fees:
            fee_account = self.ledger.fee_account
            fee_account.collateral += fees
            out.append(BalanceChanged_(fee_account.id, fees, fee_account.collateral, FEE_REASON, ""))
        self.risk.on_position_change(account, inst, old_qty, pos.qty)
        if account.reduce_only:
            self.enforce_reduce_only(account, market)

    def _self_trade(self, taker: Order, maker: Order, opposite: BookSide) -> int:
        """Apply the taker's STP mode against its own resting ``maker``; non-zero stops the taker."""
        mode = taker.stp_mode
        if mode == CANCEL_OLDEST:
            self._pull(maker, opposite, R_SELF_TRADE, delta=False)
            return 0
        if mode == CANCEL_BOTH:
            self._pull(maker, opposite, R_SELF_TRADE, delta=False)
            return R_SELF_TRADE
        if mode == DECREMENT_AND_CANCEL:  # the smaller is cancelled, the larger shrinks by its size
            maker_leaves, taker_leaves = maker.leaves, taker.leaves
            if maker_leaves < taker_leaves:
                self._pull(maker, opposite, R_SELF_TRADE, delta=False)
                taker.leaves -= maker_leaves
                taker.qty -= maker_leaves
                self._reduced(taker, R_SELF_TRADE)
                return 0
            if maker_leaves > taker_leaves:
                self._shrink(maker, taker_leaves, R_SELF_TRADE)
            else:
                self._pull(maker, opposite, R_SELF_TRADE, delta=False)
            return R_SELF_TRADE
        return R_SELF_TRADE  # cancel newest (the default)

    def _trip(self, market: Market) -> None:
        inst = market.instrument
        inst.halted = True
        inst.halted_until_ns = self.now + inst.cb_cooloff_ns
        self.cooloffs.add(inst.id)
        market.breaker.reset()
        reason = R_CIRCUIT_BREAKER
        self.out.append(InstrumentHalted_(inst.symbol, reason, text(reason), inst.halted_until_ns))

    # -- resting, shrinking, removing ---------------------------------------------------------------

    def _rest(self, order: Order, book: OrderBook, margin: int) -> None:
        """Put the open part on the book, holding ``margin`` (micro-USDC) against the account."""
        account = order.account
        if order.reduce_only:
            account.reduce_only.setdefault(order.instrument.id, []).append(order)
        else:
            order.margin_micro = margin
            account.order_margin += margin
        side = book.bids if order.side > 0 else book.asks
        level = side.append(order)
        self._level_delta(book, order.side, level.price, level.total, level.count)

    def _level_delta(self, book: OrderBook, side: int, price: int, qty: int, count: int) -> None:
        book.delta_seq += 1
        self.out.append(BookDelta_(book.instrument.symbol, book.delta_seq, side, price, qty, count))

    def _forget(self, order: Order) -> None:
        """Drop a finished order from every index (account, client ids, margin, reduce-only list)."""
        account = order.account
        order_id = order.order_id
        self.orders.pop(order_id, None)
        del account.orders[order_id]
        clid = order.client_order_id
        if clid and account.client_ids.get(clid) is order:
            del account.client_ids[clid]
        self._release_margin(order)
        if order.reduce_only:
            self._drop_reduce_only(account, order)

    @staticmethod
    def _release_margin(order: Order, removed_lots: int = 0) -> None:
        """Release the margin held for ``removed_lots`` lots that just left ``order.leaves`` (0: all of it).

        What stays held is pro rata to what stays open, rounded down.
        """
        old = order.margin_micro
        if not old:
            return
        new = old * order.leaves // (order.leaves + removed_lots) if removed_lots else 0
        order.margin_micro = new
        order.account.order_margin -= old - new

    @staticmethod
    def _drop_reduce_only(account: Account, order: Order) -> None:
        pending = account.reduce_only.get(order.instrument.id)
        if pending and order in pending:
            pending.remove(order)
            if not pending:
                del account.reduce_only[order.instrument.id]

    def _cancel(self, order: Order, reason: int) -> None:
        """Announce the end of a live (or just-accepted) order that is not resting, and forget it."""
        leaves = order.leaves
        if order.order_id:
            self._forget(order)
        account = order.account
        self.out.append(
            OrderCancelled_(
                order.order_id,
                account.id,
                order.client_order_id,
                order.instrument.symbol,
                order.side,
                order.cum_qty,
                leaves,
                reason,
            )
        )

    def _pull(self, order: Order, side: BookSide, reason: int, delta: bool = True) -> None:
        """Take a resting order off its level and cancel it; ``delta`` emits the level's new state."""
        market = self.markets[order.instrument.symbol]
        level = side.remove(order)
        if delta:
            self._level_delta(market.book, side.sign, level.price, level.total, level.count)
        self._cancel(order, reason)

    def _shrink(self, order: Order, qty: int, reason: int) -> None:
        """Reduce a resting order's open quantity by ``qty`` lots in place (keeps priority)."""
        order.leaves -= qty
        order.qty -= qty
        assert order.level is not None
        order.level.total -= qty
        self._release_margin(order, qty)
        self._reduced(order, reason)

    def _reduced(self, order: Order, reason: int) -> None:
        account = order.account
        self.out.append(
            OrderReduced_(
                order.order_id,
                account.id,
                order.client_order_id,
                order.instrument.symbol,
                order.qty,
                order.leaves,
                order.cum_qty,
                reason,
            )
        )

    def enforce_reduce_only(self, account: Account, market: Market) -> None:
        """Shrink or cancel resting reduce-only orders so none could open or flip a position."""
        inst = market.instrument
        pending = account.reduce_only.get(inst.id)
        if not pending:
            return
        pos = account.positions.get(inst.id)
        qty = pos.qty if pos else 0
        book = market.book
        for side in (1, -1):
            room = max(0, -qty * side)
            for order in [o for o in pending if o.side == side]:
                if order.leaves <= room:
                    room -= order.leaves
                    continue
                book_side = book.side(side)
                if room == 0:
                    self._pull(order, book_side, R_REDUCE_ONLY_REDUCED)
                else:
                    cut = order.leaves - room
                    self._shrink(order, cut, R_REDUCE_ONLY_REDUCED)
                    assert order.level is not None
                    level = order.level
                    self._level_delta(book, side, level.price, level.total, level.count)
                    room = 0

    # -- cancels and replaces -----------------------------------------------------------------------

    def _find(self, account: Account | None, order_id: int, client_order_id: str) -> tuple[Order | None, int]:
        if account is None:
            return None, R_UNKNOWN_ACCOUNT
        if order_id:
            order = account.orders.get(order_id)
            if order is None:
                known = order_id < self.next_order_id and order_id not in self.orders
                return None, R_TOO_LATE_TO_CANCEL if known else R_ORDER_NOT_FOUND
            return order, 0
        order = account.client_ids.get(client_order_id) if client_order_id else None
        return (order, 0) if order is not None else (None, R_ORDER_NOT_FOUND)

    def _cancel_reject(self, account_id: str, order_id: int, clid: str, request: int, reason: int) -> None:
        self.out.append(CancelRejected_(account_id, order_id, clid, request, reason, text(reason)))

    def cancel(self, cmd: CancelOrder) -> None:
        account = self.ledger.accounts.get(cmd.account)
        order, reason = self._find(account, cmd.order_id, cmd.client_order_id)
        if order is None:
            self._cancel_reject(cmd.account, cmd.order_id, cmd.client_order_id, CancelRequest.CANCEL, reason)
            return
        self._remove_live(order, R_USER_CANCEL)

    def _remove_live(self, order: Order, reason: int) -> None:
        """Cancel a live order wherever it is (book or stop book)."""
        market = self.markets[order.instrument.symbol]
        if order.level is not None:
            self._pull(order, market.book.side(order.side), reason)
        else:
            market.stops.remove(order)
            self._cancel(order, reason)

    def replace(self, cmd: ReplaceOrder) -> None:
        account = self.ledger.accounts.get(cmd.account)
        order, reason = self._find(account, cmd.order_id, cmd.orig_client_order_id)
        request = CancelRequest.REPLACE
        if order is None:
            self._cancel_reject(cmd.account, cmd.order_id, cmd.orig_client_order_id, request, reason)
            return
        assert account is not None
        reason = validate_replace(cmd, order, account, self.venue_halted)
        if reason:
            self._cancel_reject(cmd.account, order.order_id, cmd.orig_client_order_id, request, reason)
            return
        market = self.markets[order.instrument.symbol]
        new_leaves = cmd.qty_lots - order.cum_qty
        keeps = order.level is not None and cmd.price_ticks == order.price and new_leaves <= order.leaves
        if order.level is not None and not keeps:
            reason = self._replace_risk(order, account, cmd, new_leaves, market)
            if reason:
                self._cancel_reject(cmd.account, order.order_id, cmd.orig_client_order_id, request, reason)
                return
        old_clid = order.client_order_id
        new_clid = cmd.client_order_id or old_clid
        if new_clid != old_clid:
            account.client_ids.pop(old_clid, None)
            if new_clid:
                account.client_ids[new_clid] = order
            order.client_order_id = new_clid
        if keeps:
            self._replace_in_place(order, market, new_leaves)
        elif order.level is None:  # a held stop
            order.qty, order.leaves = cmd.qty_lots, new_leaves
            order.price = cmd.price_ticks if order.order_type == STOP_LIMIT else 0
            if cmd.stop_price_ticks:
                order.stop_price = cmd.stop_price_ticks
            order.priority = self.priority
            market.stops.add(order)
        self.out.append(
            OrderReplaced_(
                order.order_id,
                account.id,
                new_clid,
                old_clid,
                order.instrument.symbol,
                order.side,
                cmd.price_ticks if order.level is not None or keeps else order.price,
                cmd.qty_lots,
                new_leaves,
                order.cum_qty,
                order.stop_price,
                keeps,
            )
        )
        if order.level is not None and not keeps:
            self._requeue(order, market, cmd.qty_lots, new_leaves, cmd.price_ticks)

    def _replace_risk(
        self, order: Order, account: Account, cmd: ReplaceOrder, new_leaves: int, market: Market
    ) -> int:
        """Checks for a replace that re-queues: post-only must not take; added risk must fit."""
        opposite = market.book.asks if order.side > 0 else market.book.bids
        price = cmd.price_ticks
        if order.post_only and opposite.best and (price - opposite.best) * order.side >= 0:
            return R_POST_ONLY_WOULD_TAKE
        if order.reduce_only:
            return 0
        risk = self.risk
        margin = risk.order_margin(account, order.instrument, order.side, price, new_leaves)
        held = order.margin_micro
        account.order_margin -= held  # the old order's hold is released by the replace itself
        try:
            return risk.check_order(account, order.instrument, order.side, price, new_leaves, margin)
        finally:
            account.order_margin += held

    def _replace_in_place(self, order: Order, market: Market, new_leaves: int) -> None:
        cut = order.leaves - new_leaves
        if cut == 0:
            return
        level = order.level
        assert level is not None
        order.leaves = new_leaves
        order.qty -= cut
        level.total -= cut
        self._release_margin(order, cut)
        self._level_delta(market.book, order.side, level.price, level.total, level.count)

    def _requeue(self, order: Order, market: Market, qty: int, leaves: int, price: int) -> None:
        """Take the order off the book and run it again as if new (same id), losing priority."""
        book_side = market.book.side(order.side)
        level = book_side.remove(order)
        self._level_delta(market.book, order.side, level.price, level.total, level.count)
        account = order.account
        self._release_margin(order)
        if order.reduce_only:
            self._drop_reduce_only(account, order)
        order.qty, order.leaves, order.price = qty, leaves, price
        order.priority = self.priority
        self._execute(order, market, announce=False)

    def mass_cancel(self, cmd: MassCancel) -> None:
        reason = MASS_REASONS.get(MassCancelScope(cmd.scope), R_MASS_CANCEL) if cmd.scope in (1, 2, 3) else 0
        if not reason or cmd.side not in (0, 1, -1):
            reason = R_INVALID_ORDER
            self._cancel_reject(cmd.account, 0, cmd.request_id, CancelRequest.CANCEL, reason)
            return
        if cmd.account:
            account = self.ledger.accounts.get(cmd.account)
            candidates = list(account.orders.values()) if account else []
        else:
            candidates = list(self.orders.values())
        count = 0
        for order in sorted(candidates, key=lambda o: o.order_id):
            inst = order.instrument
            if cmd.symbol and inst.symbol != cmd.symbol:
                continue
            if cmd.underlying and inst.underlying != cmd.underlying:
                continue
            if cmd.side and order.side != cmd.side:
                continue
            self._remove_live(order, reason)
            count += 1
        self.out.append(MassCancelDone_(cmd.account, cmd.request_id, count))

    def cancel_account(self, account: Account, reason: int) -> int:
        """Cancel every live order of ``account``, oldest first; returns how many."""
        victims = sorted(account.orders.values(), key=lambda o: o.order_id)
        for order in victims:
            self._remove_live(order, reason)
        return len(victims)

    def cancel_all(self, reason: int, symbol: str = "") -> int:
        """Cancel every live order (of ``symbol`` if given), oldest first; returns how many."""
        victims = [o for o in self.orders.values() if not symbol or o.instrument.symbol == symbol]
        for order in sorted(victims, key=lambda o: o.order_id):
            self._remove_live(order, reason)
        return len(victims)

    # -- time and triggers --------------------------------------------------------------------------

    def expire_due(self) -> None:
        """Expire GTD orders whose time has come (called before each command with the new time)."""
        heap = self.expiries
        now = self.now
        while heap and heap[0][0] <= now:
            _, order_id = heapq.heappop(heap)
            order = self.orders.get(order_id)
            if order is None or order.expire_ns > now:
                continue
            market = self.markets[order.instrument.symbol]
            leaves = order.leaves
            if order.level is not None:
                book_side = market.book.side(order.side)
                level = book_side.remove(order)
                self._level_delta(market.book, order.side, level.price, level.total, level.count)
            else:
                market.stops.remove(order)
            self._forget(order)
            account = order.account
            self.out.append(
                OrderExpired_(
                    order_id,
                    account.id,
                    order.client_order_id,
                    order.instrument.symbol,
                    order.side,
                    order.cum_qty,
                    leaves,
                )
            )

    def run_mark_stops(self, market: Market) -> None:
        if market.stops.live:
            self._run_stops(market)

    def _run_stops(self, market: Market) -> None:
        self._in_stops = True
        try:
            self._work_off_stops(market)
        finally:
            self._in_stops = False

    def _work_off_stops(self, market: Market) -> None:
        """Trigger due stops one at a time, oldest first, until none is due (cascades loop, never recurse)."""
        inst = market.instrument
        stops = market.stops
        while not inst.halted and not self.venue_halted:
            order = stops.pop_due(inst.mark_ticks, inst.last_trade_ticks)
            if order is None:
                return
            ref = inst.mark_ticks if order.trigger_by == MARK_TRIGGER else inst.last_trade_ticks
            account = order.account
            self.out.append(
                OrderTriggered_(order.order_id, account.id, order.client_order_id, inst.symbol, ref)
            )
            order.triggered = True
            order.order_type = MARKET if order.order_type == STOP_MARKET else LIMIT
            if order.order_type == MARKET and order.tif not in (IOC, FOK):
                order.tif = IOC
            if order.reduce_only:
                room = self._reduce_only_room(account, inst, order.side)
                if room <= 0:
                    self._cancel(order, R_REDUCE_ONLY_WOULD_INCREASE)
                    continue
                if room < order.leaves:
                    cut = order.leaves - room
                    order.leaves -= cut
                    order.qty -= cut
                    self._reduced(order, R_REDUCE_ONLY_REDUCED)
            self._execute(order, market, announce=False)
