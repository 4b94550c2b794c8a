"""The FIX gateway: sessions' application messages -> commands; durable events -> FIX messages.

Threads: none of its own. The acceptor polls quickfix from the venue's event loop, so ``Application``
runs there too; it parses each message and puts it in the gateway's inbox (``deliver``), which is
drained once the poll returns: a batch per poll, handled outside quickfix's callback.

Routing: a report about an order goes to the session that placed it, or, for orders placed through
another door (REST, liquidation), to every order-entry session of its account; and always to the
drop-copy sessions of its account. A report for a session that is logged out is stored by quickfix
and delivered by the resend that follows its next logon, as FIX prescribes.

Duplicates: a NewOrderSingle with PossResend (97=Y) whose ClOrdID the account already used is not
executed again; the current state of that order is reported instead (ExecType I).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import quickfix as fix

from config.fix_sessions import FixConfig, SessionConfig, SessionRole
from fixgw import fields as f
from fixgw import inbound, marketdata, positions
from fixgw import quoting as rfq_quoting
from fixgw.core import Core, OpenOrder
from fixgw.inbound import Refused
from fixgw.marketdata import MdRefused, Subscription
from fixgw.outbound import Pairs, build, clean
from fixgw.refdata import security_list
from fixgw.reports import (
    OrderState,
    business_reject,
    cancel_reject,
    execution_report,
    fill_details,
    rejection,
)
from fixgw.wire import FixMessage
from matching.commands import CancelOrder, Command, CommandRecord, MassCancel, NewOrder, ReplaceOrder
from matching.events import (
    BookDelta,
    CancelRejected,
    Event,
    MassCancelDone,
    OrderAccepted,
    OrderCancelled,
    OrderExpired,
    OrderReduced,
    OrderRejected,
    OrderReplaced,
    OrderTriggered,
    Trade,
)
from matching.reasons import Reason
from matching.reasons import text as reason_text
from matching.types import CancelRequest, MassCancelScope
from rfq.views import RFQ_EVENTS

log = logging.getLogger(__name__)

ORDER_MESSAGES = frozenset({"D", "F", "G", "q"})
ALLOWED: dict[SessionRole, frozenset[str]] = {
    SessionRole.ORDER_ENTRY: frozenset(
        {"D", "F", "G", "H", "q", "AF", "x", "V", "AN", "BB", "R", "S", "Z", "AJ"}
    ),
    SessionRole.MARKET_DATA: frozenset({"x", "V"}),
    SessionRole.DROP_COPY: frozenset({"H", "AF", "x", "AN", "BB"}),
}
SUPPORTED = frozenset().union(*ALLOWED.values())


@dataclass(slots=True)
class SessionState:
    config: SessionConfig
    session_id: fix.SessionID | None = None
    logged_on: bool = False
    subscriptions: dict[str, Subscription] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.config.target_comp_id


@dataclass(slots=True)
class Origin:
    """Why a command was submitted: the session and request it answers."""

    session: SessionState
    message: FixMessage
    command: Command


class Gateway:
    def __init__(self, core: Core, config: FixConfig, clock: Callable[[], int] = time.time_ns) -> None:
        self.core = core
        self.config = config
        self.clock = clock
        # a SessionID from the start: reports for a session that is not logged on are stored by
        # quickfix and reach it through the resend after its next logon
        sender = config.acceptor.sender_comp_id
        self.sessions = {
            s.target_comp_id: SessionState(s, fix.SessionID("FIX.4.4", sender, s.target_comp_id))
            for s in config.sessions
        }
        self.orders: dict[int, OrderState] = {}
        self.in_flight: set[tuple[str, str]] = set()  # (account, ClOrdID) submitted, not yet durable
        # recently finished orders with their final OrdStatus: status requests must not depend on how
        # far the derived records have caught up
        self.finished: OrderedDict[tuple[str, str], tuple[OrderState, str]] = OrderedDict()
        self._origins: dict[int, Origin] = {}  # id(command) -> origin, until its record is durable
        self._inbox: deque[tuple[str, str, Any]] = deque()
        self._scheduled = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._served = {a for s in config.sessions for a in s.accounts}
        self._by_account = {
            a: (self._with(a, SessionRole.ORDER_ENTRY), self._with(a, SessionRole.DROP_COPY))
            for a in self._served
        }
        self._tasks: set[asyncio.Task[None]] = set()
        self.quoting = rfq_quoting.Quoting(self)
        self.closed = False  # set when the acceptor stops: nothing is sent after
        self.sent = 0
        self.received = 0

    def serves(self, account: str) -> bool:
        """Some session of this acceptor trades for ``account``."""
        return account in self._served

    def by_account(self, account: str) -> tuple[tuple[SessionState, ...], tuple[SessionState, ...]]:
        """(order-entry sessions, drop-copy sessions) of ``account``."""
        return self._by_account.get(account, ((), ()))

    def drop_copies(self, account: str) -> tuple[SessionState, ...]:
        return self._by_account.get(account, ((), ()))[1]

    def maker_sessions(self) -> list[SessionState]:
        return [s for s in self.sessions.values() if s.config.rfq_maker]

    def _with(self, account: str, role: SessionRole) -> tuple[SessionState, ...]:
        return tuple(
            s for s in self.sessions.values() if s.config.role is role and account in s.config.accounts
        )

    # -- start -----------------------------------------------------------------------------------------

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """Bind to the venue's loop, load the live orders of served accounts, start listening."""
        self._loop = loop
        for account in sorted(self._served):
            for order in self.core.open_orders(account):
                self.orders[order.order_id] = _state_of(order)
        self.core.add_listener(self.on_record)

    # -- quickfix callbacks --------------------------------------------------------------------------

    def deliver(self, target: str, kind: str, payload: Any) -> None:
        """From a quickfix callback (on the loop): queue ('app', FixMessage), ('logon', SessionID) or
        ('logout', None) for the drain that runs after the current poll."""
        self._inbox.append((target, kind, payload))
        if not self._scheduled and self._loop is not None:
            self._scheduled = True
            self._loop.call_soon(self._drain)

    # -- event loop ----------------------------------------------------------------------------------

    def _drain(self) -> None:
        self._scheduled = False  # before popping: a message queued meanwhile schedules another drain
        inbox = self._inbox
        while inbox:
            target, kind, payload = inbox.popleft()
            state = self.sessions.get(target)
            if state is None:
                continue
            try:
                if kind == "app":
                    self.received += 1
                    self.handle(state, payload)
                elif kind == "logon":
                    state.logged_on = True
                    log.info("FIX session %s logged on", target)
                elif kind == "logout":
                    self._logged_out(state)
            except Exception:  # one bad message must not stop the others
                log.exception("FIX %s: failed on %s", target, kind)
                if kind == "app":
                    self.reject_business(state, payload, 0, "internal error while processing the message")

    def _logged_out(self, state: SessionState) -> None:
        was_on = state.logged_on
        state.logged_on = False
        state.subscriptions.clear()
        log.info("FIX session %s logged out", state.name)
        if was_on and state.config.cancel_on_disconnect:
            for account in state.config.accounts:
                self.core.submit(MassCancel(account=account, scope=MassCancelScope.DISCONNECT))

    def send(self, state: SessionState, msg_type: str, pairs: Pairs) -> None:
        if self.closed:  # the acceptor has stopped: its sessions are gone
            return
        try:
            fix.Session.sendToTarget(build(msg_type, pairs), state.session_id)
            self.sent += 1
        except fix.SessionNotFound:
            log.warning("FIX session %s not found while sending %s", state.name, msg_type)

    def reject_business(
        self, state: SessionState, message: FixMessage, reason: int, text: str, ref_id: str = ""
    ) -> None:
        self.send(
            state, "j", business_reject(message.get(f.MSG_SEQ_NUM), message.msg_type, reason, text, ref_id)
        )

    # -- inbound -------------------------------------------------------------------------------------

    def handle(self, state: SessionState, message: FixMessage) -> None:
        kind = message.msg_type
        if kind not in SUPPORTED:
            self.reject_business(state, message, 3, f"message type {kind!r} is not supported")
            return
        if kind not in ALLOWED[state.config.role]:
            self.reject_business(
                state, message, 6, f"{kind!r} not permitted on a {state.config.role} session"
            )
            return
        if kind == "x":
            for msg_type, pairs in security_list(message, self.core.instruments):
                self.send(state, msg_type, pairs)
            return
        if kind == "V":
            self._market_data(state, message)
            return
        account = self._account(state, message)
        if account is not None:
            _ACCOUNT_MESSAGES[kind](self, state, message, account)

    def _positions(self, state: SessionState, message: FixMessage, account: str) -> None:
        for msg_type, pairs in positions.position_reports(message, account, self.core, self.clock()):
            self.send(state, msg_type, pairs)

    def _collateral(self, state: SessionState, message: FixMessage, account: str) -> None:
        self.send(state, *positions.collateral_report(message, account, self.core, self.clock()))

    def _order_status_request(self, state: SessionState, message: FixMessage, account: str) -> None:
        self._spawn(self._order_status(state, message, account))

    def _rfq(self, state: SessionState, message: FixMessage, account: str) -> None:
        self.quoting.handle(state, message, account)

    def _account(self, state: SessionState, message: FixMessage) -> str | None:
        account = message.get(f.ACCOUNT)
        accounts = state.config.accounts
        if not account and len(accounts) == 1:
            return accounts[0]
        if account in accounts:
            return account
        text = f"account {account!r} not permitted on this session" if account else "Account (1) is required"
        if message.msg_type == "D":
            self._reject_order(state, message, account, Reason.UNKNOWN_ACCOUNT, text)
        elif message.msg_type in ("R", "S", "Z"):
            self.quoting.refuse(state, message, account, Reason.RFQ_NOT_PERMITTED, text)
        else:
            self.reject_business(state, message, 6 if account else 5, text, message.get(f.CL_ORD_ID))
        return None

    def submit_for(self, state: SessionState, message: FixMessage, command: Command) -> None:
        """Submit ``command`` on behalf of ``message``: its events are answered to ``state``."""
        self._submit(state, message, command)

    def _submit(self, state: SessionState, message: FixMessage, command: Command) -> None:
        self._origins[id(command)] = Origin(state, message, command)
        self.core.submit_quiet(command, lambda exc: self._refused_by_core(exc, command))

    def _refused_by_core(self, exc: BaseException, command: Command) -> None:
        origin = self._origins.pop(id(command), None)
        if isinstance(command, NewOrder):
            self.in_flight.discard((command.account, command.client_order_id))
        if origin is not None:
            reason = getattr(exc, "reason", Reason.INVALID_ORDER)  # e.g. the journal is unavailable
            self._refuse(origin.session, origin.message, reason, str(exc))

    def _refuse(self, state: SessionState, message: FixMessage, reason: Reason, text: str) -> None:
        """A request refused before it became a command, answered in the form its type expects."""
        kind = message.msg_type
        account = message.get(f.ACCOUNT) or state.config.accounts[0]
        if kind == "D":
            self._reject_order(state, message, account, reason, text)
        elif kind in ("F", "G"):
            response_to = CancelRequest.CANCEL if kind == "F" else CancelRequest.REPLACE
            order = self._find_live(account, message)
            status = order.status() if order else f.STATUS_REJECTED
            self.send(state, "9", cancel_reject(
                order.order_id if order else 0, message.get(f.CL_ORD_ID), message.get(f.ORIG_CL_ORD_ID),
                status, response_to, reason, text, account,
            ))  # fmt: skip
        elif kind == "q":
            self.send(state, "r", _mass_cancel_report(message, "0", 0, text))
        else:
            self.reject_business(state, message, 0, text)

    def _reject_order(
        self, state: SessionState, message: FixMessage, account: str, reason: Reason, text: str
    ) -> None:
        inst = self.core.instruments.get(message.get(f.SYMBOL))
        order = OrderState(
            0, account, message.get(f.CL_ORD_ID)[:64], message.get(f.SYMBOL)[:64],
            f.SIDES.get(message.get(f.SIDE), 1), int(f.ORD_TYPES.get(message.get(f.ORD_TYPE), 1)),
            int(f.TIFS.get(message.get(f.TIME_IN_FORCE), 1)), 0, 0, 0,
        )  # fmt: skip
        pairs = execution_report(
            order, inst, f"R{self.clock()}", f.EXEC_REJECTED, f.STATUS_REJECTED, self.clock()
        )
        self.send(state, "8", pairs + rejection(reason, text))

    def _new_order(self, state: SessionState, message: FixMessage, account: str) -> None:
        cl_ord_id = message.get(f.CL_ORD_ID)
        if message.get(f.POSS_RESEND) == "Y":
            self._spawn(self._possible_resend(state, message, account, cl_ord_id))
            return
        if message.get(f.ORD_TYPE) == f.PREVIOUSLY_QUOTED or message.get(f.QUOTE_ID):
            self.quoting.handle(state, message, account)  # a hit on an RFQ quote
            return
        try:
            command = inbound.new_order(message, account, self.core.instruments)
        except Refused as exc:
            self._reject_order(state, message, account, exc.reason, exc.text)
            return
        self.in_flight.add((account, cl_ord_id))
        self._submit(state, message, command)

    async def _possible_resend(
        self, state: SessionState, message: FixMessage, account: str, cl_ord_id: str
    ) -> None:
        """Execute a PossResend order only if the account never used its ClOrdID."""
        live = self._find_by_client_id(account, cl_ord_id)
        if live is not None:
            self._status_report(state, live, message)
            return
        done = self.finished.get((account, cl_ord_id))
        if done is not None:
            self._status_report(state, done[0], message, done[1])
            return
        if (account, cl_ord_id) in self.in_flight:
            self.reject_business(
                state, message, 0, "duplicate ClOrdID (PossResend): the order is in flight", cl_ord_id
            )
            return
        row = await self.core.order_record(account, cl_ord_id)
        if row is not None:
            self._status_report(state, _state_of_row(row), message, _row_status(row))
            return
        self._new_order(state, _without_poss_resend(message), account)

    def _cancel_or_replace(self, state: SessionState, message: FixMessage, account: str) -> None:
        try:
            if message.msg_type == "F":
                command: Command = inbound.cancel(message, account)
            else:
                target = self._find_live(account, message)
                symbol = target.symbol if target else message.get(f.SYMBOL)
                inst = self.core.instruments.get(symbol)
                if inst is None:
                    raise Refused(Reason.ORDER_NOT_FOUND, "no such open order")
                command = inbound.replace(message, account, inst)
        except Refused as exc:
            self._refuse(state, message, exc.reason, exc.text)
            return
        self._submit(state, message, command)

    def _mass_cancel(self, state: SessionState, message: FixMessage, account: str) -> None:
        try:
            command = inbound.mass_cancel(message, account, self.core.instruments)
        except Refused as exc:
            self._refuse(state, message, exc.reason, exc.text)
            return
        self._submit(state, message, command)

    def _find_live(self, account: str, message: FixMessage) -> OrderState | None:
        raw = message.get(f.ORDER_ID)
        if raw.isdigit() and len(raw) < 19:
            order = self.orders.get(int(raw))
            return order if order is not None and order.account == account else None
        return self._find_by_client_id(account, message.get(f.ORIG_CL_ORD_ID) or message.get(f.CL_ORD_ID))

    def _find_by_client_id(self, account: str, cl_ord_id: str) -> OrderState | None:
        if not cl_ord_id:
            return None
        for order in self.core.open_orders(account):
            if order.client_order_id == cl_ord_id:
                return self.orders.get(order.order_id) or _state_of(order)
        return None

    async def _order_status(self, state: SessionState, message: FixMessage, account: str) -> None:
        """OrderStatusRequest (H): live orders from the read side, finished ones from the records."""
        order = self._find_live(account, message)
        if order is not None:
            self._status_report(state, order, message)
            return
        cl_ord_id = message.get(f.CL_ORD_ID)
        done = self.finished.get((account, cl_ord_id))
        if done is not None:
            self._status_report(state, done[0], message, done[1])
            return
        row = await self.core.order_record(account, cl_ord_id) if cl_ord_id else None
        if row is not None:
            self._status_report(state, _state_of_row(row), message, _row_status(row))
            return
        unknown = OrderState(
            0, account, cl_ord_id, message.get(f.SYMBOL), f.SIDES.get(message.get(f.SIDE), 1), 2, 1, 0, 0, 0
        )
        pairs = execution_report(
            unknown, None, f"S{self.clock()}", f.EXEC_STATUS, f.STATUS_REJECTED, self.clock()
        )
        pairs += rejection(Reason.ORDER_NOT_FOUND, "unknown order")
        if message.get(f.ORD_STATUS_REQ_ID):
            pairs.append((f.ORD_STATUS_REQ_ID, clean(message.get(f.ORD_STATUS_REQ_ID))))
        self.send(state, "8", pairs)

    def _status_report(
        self,
        state: SessionState,
        order: OrderState,
        message: FixMessage,
        status: str | None = None,
        extra: Pairs | None = None,
    ) -> None:
        inst = self.core.instruments.get(order.symbol)
        pairs = execution_report(
            order, inst, f"S{self.clock()}", f.EXEC_STATUS, status or order.status(), self.clock()
        )
        if message.get(f.ORD_STATUS_REQ_ID):
            pairs.append((f.ORD_STATUS_REQ_ID, clean(message.get(f.ORD_STATUS_REQ_ID))))
        self.send(state, "8", pairs + (extra or []))

    def _mass_status(self, state: SessionState, message: FixMessage, account: str) -> None:
        """OrderMassStatusRequest (AF): one ExecType I report per live order (7 all, 1 one security)."""
        request_id = clean(message.get(f.MASS_STATUS_REQ_ID))
        kind = message.get(f.MASS_STATUS_REQ_TYPE)
        if kind not in ("1", "7"):
            self.reject_business(state, message, 0, "MassStatusReqType (585) must be 1 or 7", request_id)
            return
        live = [o for o in self.core.open_orders(account) if kind == "7" or o.symbol == message.get(f.SYMBOL)]
        live.sort(key=lambda o: o.order_id)
        if not live:
            empty = OrderState(0, account, "NONE", message.get(f.SYMBOL) or "NONE", 1, 2, 1, 0, 0, 0)
            pairs = execution_report(
                empty,
                None,
                f"S{self.clock()}",
                f.EXEC_STATUS,
                f.STATUS_REJECTED,
                self.clock(),
                text="no open orders",
            )
            pairs += [
                (f.MASS_STATUS_REQ_ID, request_id),
                (f.TOT_NUM_REPORTS, "0"),
                (f.LAST_RPT_REQUESTED, "Y"),
            ]
            self.send(state, "8", pairs)
            return
        for n, order in enumerate(live, 1):
            extra: Pairs = [(f.MASS_STATUS_REQ_ID, request_id), (f.TOT_NUM_REPORTS, str(len(live)))]
            if n == len(live):
                extra.append((f.LAST_RPT_REQUESTED, "Y"))
            self._status_report(
                state, self.orders.get(order.order_id) or _state_of(order), message, extra=extra
            )

    def _market_data(self, state: SessionState, message: FixMessage) -> None:
        request_id = message.get(f.MD_REQ_ID)
        try:
            if not request_id:
                raise MdRefused("1", "MDReqID (262) is required")
            request = marketdata.parse_request(message, self.core.instruments)
            if request.kind == "2":
                if state.subscriptions.pop(request_id, None) is None:
                    raise MdRefused("1", f"no subscription {request_id!r}")
                return
            if request.kind == "1" and request_id in state.subscriptions:
                raise MdRefused("1", f"MDReqID {request_id!r} already subscribed")
        except MdRefused as exc:
            self.send(
                state,
                "Y",
                [
                    (f.MD_REQ_ID, clean(request_id) or "NONE"),
                    (f.MD_REQ_REJ_REASON, exc.reason),
                    (f.TEXT, exc.text),
                ],
            )
            return
        subscription = Subscription(request_id, request.symbols, request.depth, request.types)
        for symbol in request.symbols:
            self.send(state, "W", self._snapshot(subscription, symbol))
        if request.kind == "1":
            state.subscriptions[request_id] = subscription

    def _snapshot(self, subscription: Subscription, symbol: str) -> Pairs:
        inst = self.core.instruments.get(symbol)
        bids, asks = self.core.book(symbol, subscription.depth)
        subscription.sent[symbol] = (marketdata.as_levels(bids), marketdata.as_levels(asks))
        entries: Pairs = []
        count = 0
        if marketdata.BID in subscription.types:
            entries += marketdata.level_entries(inst, symbol, marketdata.BID, bids)
            count += len(bids)
        if marketdata.OFFER in subscription.types:
            entries += marketdata.level_entries(inst, symbol, marketdata.OFFER, asks)
            count += len(asks)
        if marketdata.TRADE in subscription.types:
            trades = self.core.recent_trades(symbol, marketdata.SNAPSHOT_TRADES)
            for trade in trades:
                entries += marketdata.trade_entry(inst, trade, self.clock(), incremental=False)
            count += len(trades)
        head: Pairs = [
            (f.MD_REQ_ID, clean(subscription.request_id)),
            (f.SYMBOL, symbol),
            (f.NO_MD_ENTRIES, str(count)),
        ]
        return head + entries

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- outbound: durable records -> reports --------------------------------------------------------

    def on_record(self, record: CommandRecord, events: list[Event]) -> None:
        """Runtime listener: turn one durable record's events into FIX messages."""
        origin = self._origins.pop(id(record.command), None) if self._origins else None
        moved: set[str] = set()
        trades: list[Trade] = []
        rfq_events: list[tuple[int, Event]] = []
        for i, event in enumerate(events):
            kind = type(event)
            if kind is BookDelta:
                moved.add(event.symbol)  # type: ignore[union-attr]
                continue
            if kind in _RFQ_KINDS:
                rfq_events.append((i, event))
                continue
            handler = _HANDLERS.get(kind)
            if handler is not None:
                handler(self, record, i, event, origin)
            if kind is Trade:
                trades.append(event)  # type: ignore[arg-type]
        if rfq_events or (origin is not None and origin.message.msg_type == "Z"):
            self.quoting.on_events(record, rfq_events, origin)
        if moved or trades:
            self._publish_market_data(moved, trades, record.ts_ns)

    def _route(self, order: OrderState, msg_type: str, pairs: Pairs) -> None:
        for state in self._targets(order):
            self.send(state, msg_type, pairs)

    def _targets(self, order: OrderState) -> list[SessionState]:
        """The order's own session (every order-entry session of its account if it came from another
        door), then the account's drop-copy sessions."""
        entry, copies = self._by_account.get(order.account, ((), ()))
        if order.session is not None:
            entry = tuple(state for state in entry if state.name == order.session)
        return [*entry, *copies]

    def _report(
        self,
        order: OrderState,
        record: CommandRecord,
        exec_id: str,
        exec_type: str,
        status: str,
        extra: Pairs | None = None,
        **kw: Any,
    ) -> None:
        inst = self.core.instruments.get(order.symbol)
        pairs = execution_report(order, inst, exec_id, exec_type, status, record.ts_ns, **kw)
        self._route(order, "8", pairs + extra if extra else pairs)

    def _finish(self, order: OrderState, status: str) -> None:
        self.orders.pop(order.order_id, None)
        for cl_ord_id in {order.client_order_id, order.first_client_order_id}:
            key = (order.account, cl_ord_id)
            self.finished[key] = (order, status)
            self.finished.move_to_end(key)
        while len(self.finished) > FINISHED_KEPT:
            self.finished.popitem(last=False)

    def _on_accepted(self, record: CommandRecord, i: int, e: OrderAccepted, origin: Origin | None) -> None:
        if e.account not in self._served:
            return
        self.in_flight.discard((e.account, e.client_order_id))
        order = OrderState(
            e.order_id, e.account, e.client_order_id, e.symbol, e.side, e.order_type, e.tif, e.price_ticks,
            e.qty_lots, e.stop_price_ticks, e.expire_ns, e.qty_lots, 0, 0,
            origin.session.name if origin else None,
        )  # fmt: skip
        self.orders[e.order_id] = order
        self._report(order, record, f"{record.seq}-{i}", f.EXEC_NEW, f.STATUS_NEW)

    def _on_rejected(self, record: CommandRecord, i: int, e: OrderRejected, origin: Origin | None) -> None:
        if e.account not in self._served:
            return
        self.in_flight.discard((e.account, e.client_order_id))
        command = record.command
        if not isinstance(command, NewOrder):
            return
        order = OrderState(
            0, e.account, e.client_order_id, e.symbol, command.side, command.order_type, command.tif,
            command.price_ticks, command.qty_lots, command.stop_price_ticks, command.expire_ns, 0, 0, 0,
            origin.session.name if origin else None,
        )  # fmt: skip
        self._report(
            order,
            record,
            f"{record.seq}-{i}",
            f.EXEC_REJECTED,
            f.STATUS_REJECTED,
            rejection(e.reason, e.text),
        )

    def _on_trade(self, record: CommandRecord, i: int, e: Trade, origin: Origin | None) -> None:
        inst = self.core.instruments.get(e.symbol)
        for maker in (True, False):
            order_id = e.maker_order_id if maker else e.taker_order_id
            order = self.orders.get(order_id)
            if order is None:
                continue
            if maker:
                order.cum_qty, order.leaves_qty, order.cum_value = (
                    e.maker_cum_qty,
                    e.maker_leaves_qty,
                    e.maker_cum_value,
                )
            else:
                order.cum_qty, order.leaves_qty, order.cum_value = (
                    e.taker_cum_qty,
                    e.taker_leaves_qty,
                    e.taker_cum_value,
                )
            fee = e.maker_fee_micro if maker else e.taker_fee_micro
            done = order.leaves_qty == 0
            extra = fill_details(inst, e.price_ticks, e.qty_lots, fee, maker, e.trade_id)
            status = f.STATUS_FILLED if done else f.STATUS_PARTIAL
            self._report(
                order, record, f"{record.seq}-{i}-{'M' if maker else 'T'}", f.EXEC_TRADE, status, extra
            )
            if done:
                self._finish(order, f.STATUS_FILLED)

    def _on_cancelled(self, record: CommandRecord, i: int, e: OrderCancelled, origin: Origin | None) -> None:
        order = self.orders.get(e.order_id)
        if order is None:
            return
        order.cum_qty, order.leaves_qty = e.cum_qty, 0
        self._finish(order, f.STATUS_CANCELED)
        kw: dict[str, Any] = {"text": reason_text(e.reason)}
        if origin is not None and isinstance(origin.command, CancelOrder):
            kw["client_order_id"] = origin.message.get(f.CL_ORD_ID)
            kw["orig_client_order_id"] = order.client_order_id
        self._report(order, record, f"{record.seq}-{i}", f.EXEC_CANCELED, f.STATUS_CANCELED, **kw)

    def _on_expired(self, record: CommandRecord, i: int, e: OrderExpired, origin: Origin | None) -> None:
        order = self.orders.get(e.order_id)
        if order is not None:
            order.leaves_qty = 0
            self._finish(order, f.STATUS_EXPIRED)
            self._report(order, record, f"{record.seq}-{i}", f.EXEC_EXPIRED, f.STATUS_EXPIRED)

    def _on_triggered(self, record: CommandRecord, i: int, e: OrderTriggered, origin: Origin | None) -> None:
        order = self.orders.get(e.order_id)
        if order is not None:
            self._report(order, record, f"{record.seq}-{i}", f.EXEC_TRIGGERED, order.status())

    def _on_replaced(self, record: CommandRecord, i: int, e: OrderReplaced, origin: Origin | None) -> None:
        order = self.orders.get(e.order_id)
        if order is None:
            return
        order.client_order_id, order.price_ticks, order.qty_lots = (
            e.client_order_id,
            e.price_ticks,
            e.qty_lots,
        )
        order.leaves_qty, order.cum_qty, order.stop_price_ticks = e.leaves_qty, e.cum_qty, e.stop_price_ticks
        self._report(
            order,
            record,
            f"{record.seq}-{i}",
            f.EXEC_REPLACED,
            order.status(),
            orig_client_order_id=e.orig_client_order_id,
        )

    def _on_reduced(self, record: CommandRecord, i: int, e: OrderReduced, origin: Origin | None) -> None:
        order = self.orders.get(e.order_id)
        if order is None:
            return
        order.qty_lots, order.leaves_qty, order.cum_qty = e.qty_lots, e.leaves_qty, e.cum_qty
        status = order.status() if e.leaves_qty else f.STATUS_CANCELED
        if not e.leaves_qty:
            self._finish(order, status)
        self._report(order, record, f"{record.seq}-{i}", f.EXEC_RESTATED, status, text=reason_text(e.reason))

    def _on_cancel_rejected(
        self, record: CommandRecord, i: int, e: CancelRejected, origin: Origin | None
    ) -> None:
        if origin is None:
            return
        message = origin.message
        order = self.orders.get(e.order_id) if e.order_id else self._find_live(e.account, message)
        status = order.status() if order is not None else f.STATUS_REJECTED
        command = origin.command
        orig = message.get(f.ORIG_CL_ORD_ID) or (order.client_order_id if order else "")
        if isinstance(command, ReplaceOrder | CancelOrder):
            self.send(origin.session, "9", cancel_reject(
                order.order_id if order else e.order_id, message.get(f.CL_ORD_ID), orig, status, e.request,
                e.reason, e.text, e.account,
            ))  # fmt: skip

    def _on_mass_cancel_done(
        self, record: CommandRecord, i: int, e: MassCancelDone, origin: Origin | None
    ) -> None:
        if origin is not None and isinstance(origin.command, MassCancel):
            self.send(
                origin.session,
                "r",
                _mass_cancel_report(
                    origin.message,
                    origin.message.get(f.MASS_CANCEL_REQUEST_TYPE),
                    e.cancelled,
                    "",
                    f"{record.seq}",
                ),
            )

    def _publish_market_data(self, moved: set[str], trades: list[Trade], ts_ns: int) -> None:
        for state in self.sessions.values():
            if not state.logged_on or not state.subscriptions:
                continue
            for subscription in state.subscriptions.values():
                entries: Pairs = []
                count = 0
                for symbol in subscription.symbols:
                    inst = self.core.instruments.get(symbol)
                    if symbol in moved and subscription.types & {marketdata.BID, marketdata.OFFER}:
                        old_bids, old_asks = subscription.sent.get(symbol, ({}, {}))
                        bids, asks = self.core.book(symbol, subscription.depth)
                        new_bids, new_asks = marketdata.as_levels(bids), marketdata.as_levels(asks)
                        subscription.sent[symbol] = (new_bids, new_asks)
                        for side, old, new in (
                            (marketdata.BID, old_bids, new_bids),
                            (marketdata.OFFER, old_asks, new_asks),
                        ):
                            if side in subscription.types:
                                part = marketdata.diff(inst, symbol, side, old, new)
                                entries += part
                                count += sum(1 for tag, _ in part if tag == f.MD_UPDATE_ACTION)
                    if marketdata.TRADE in subscription.types:
                        for trade in trades:
                            if trade.symbol == symbol:
                                entries += marketdata.trade_entry(inst, trade, ts_ns, incremental=True)
                                count += 1
                if count:
                    self.send(
                        state,
                        "X",
                        [
                            (f.MD_REQ_ID, clean(subscription.request_id)),
                            (f.NO_MD_ENTRIES, str(count)),
                            *entries,
                        ],
                    )


_HANDLERS: dict[type, Callable[[Gateway, CommandRecord, int, Any, Origin | None], None]] = {
    OrderAccepted: Gateway._on_accepted,
    OrderRejected: Gateway._on_rejected,
    Trade: Gateway._on_trade,
    OrderCancelled: Gateway._on_cancelled,
    OrderExpired: Gateway._on_expired,
    OrderTriggered: Gateway._on_triggered,
    OrderReplaced: Gateway._on_replaced,
    OrderReduced: Gateway._on_reduced,
    CancelRejected: Gateway._on_cancel_rejected,
    MassCancelDone: Gateway._on_mass_cancel_done,
}

_RFQ_KINDS = frozenset(RFQ_EVENTS)  # the FIX side handles those it has a message for

# application messages that act for an account, by MsgType
_ACCOUNT_MESSAGES: dict[str, Callable[[Gateway, SessionState, FixMessage, str], None]] = {
    "D": Gateway._new_order,
    "F": Gateway._cancel_or_replace,
    "G": Gateway._cancel_or_replace,
    "q": Gateway._mass_cancel,
    "H": Gateway._order_status_request,
    "AF": Gateway._mass_status,
    "AN": Gateway._positions,
    "BB": Gateway._collateral,
    "R": Gateway._rfq,
    "S": Gateway._rfq,
    "Z": Gateway._rfq,
    "AJ": Gateway._rfq,
}

FINISHED_KEPT = 100_000


def _mass_cancel_report(
    message: FixMessage, response: str, affected: int, text: str, order_id: str = "NONE"
) -> Pairs:
    """OrderMassCancelReport (r); ``response`` 0 means the request was rejected."""
    pairs: Pairs = [
        (f.CL_ORD_ID, clean(message.get(f.CL_ORD_ID)) or "NONE"),
        (f.ORDER_ID, order_id),
        (f.MASS_CANCEL_REQUEST_TYPE, clean(message.get(f.MASS_CANCEL_REQUEST_TYPE)) or "7"),
        (f.MASS_CANCEL_RESPONSE, response),
        (f.TOTAL_AFFECTED_ORDERS, str(affected)),
    ]
    if response == "0":
        pairs.append((f.MASS_CANCEL_REJECT_REASON, "99"))
    if text:
        pairs.append((f.TEXT, clean(text)))
    return pairs


def _state_of(order: OpenOrder) -> OrderState:
    return OrderState(
        order.order_id, order.account, order.client_order_id, order.symbol, order.side, order.order_type,
        order.tif, order.price_ticks, order.qty_lots, order.stop_price_ticks, 0, order.leaves_qty,
        order.cum_qty, order.cum_value,
    )  # fmt: skip


def _state_of_row(row: dict[str, Any]) -> OrderState:
    return OrderState(
        row["order_id"], row["account"], row["client_order_id"], row["symbol"], row["side"],
        row["order_type"], row["tif"], row["price_ticks"], row["qty_lots"], 0, 0, row["leaves_lots"],
        row["cum_lots"], row["cum_value"],
    )  # fmt: skip


_ROW_STATUS = {
    "open": None,
    "filled": f.STATUS_FILLED,
    "cancelled": f.STATUS_CANCELED,
    "expired": f.STATUS_EXPIRED,
}


def _row_status(row: dict[str, Any]) -> str:
    status = _ROW_STATUS.get(row["status"])
    if status is None:
        return f.STATUS_PARTIAL if row["cum_lots"] else f.STATUS_NEW
    return status


def _without_poss_resend(message: FixMessage) -> FixMessage:
    fields = dict(message.fields)
    fields.pop(f.POSS_RESEND, None)
    return FixMessage(message.msg_type, fields, tuple(p for p in message.pairs if p[0] != f.POSS_RESEND))


def business_date(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y%m%d")
