"""RFQ over FIX: takers ask and accept, makers receive requests and answer with firm quotes.

Takers (order-entry sessions)
- QuoteRequest (R), one NoRelatedSym entry, the package: Symbol (the instrument of a single-leg RFQ;
  for a package any label, e.g. the underlying), Side 1/2 (buy/sell the package; absent: two-way),
  OrderQty (the size in coins), NoLegs with LegSymbol, LegSide (as the package's buyer trades the leg)
  and LegRatioQty (leg quantity = size x ratio); a perpetual leg with LegQty (coins) and optional
  LegPrice is the delta hedge, traded at that price (the mark when absent) and left out of the package
  price. ExpireTime: how long the RFQ stays open; AuctionWindowMs (20034); MinPackagePrice and
  MaxPackagePrice (20032/20033, USD for the whole package); Parties with PartyRole 35 name the makers
  asked (none: every maker).
  Answer: QuoteStatusReport (AI) QuoteStatus 10 (pending: the auction runs) with QuoteID RFQ<id> and
  RfqID (20030), or QuoteRequestReject (AG) with QuoteRequestRejectReason and Text.
- Once the window has closed: a Quote (S) per live quote (QuoteID = the venue's quote id; BidPx/OfferPx
  the package prices in USD, LegBidPx/LegOfferPx per leg, MktBidPx/MktOfferPx the best on the board;
  no maker), again for every quote entered later; a QuoteCancel (Z) for a quote that stops being live.
- Accept: NewOrderSingle (D) with QuoteID and OrdType D (previously quoted), Side, optional Price (the
  worst package price accepted), TimeInForce FOK; or QuoteResponse (AJ) QuoteRespType 1 (hit) with
  QuoteID and Side. Answer: one ExecutionReport per leg (ExecType F, OrdStatus 2, TrdType 1 block,
  QuoteID, RfqID) or one rejected ExecutionReport with OrdRejReason and Text. QuoteResponse with
  QuoteRespType 6 (pass) and QuoteReqID (or QuoteID) withdraws the RFQ.
- When the RFQ ends: QuoteStatusReport 22 (filled), 7 (expired) or 17 (withdrawn).

Makers (order-entry sessions with ``rfq_maker``)
- QuoteRequest (R) for every RFQ one of their accounts may quote: QuoteReqID = RfqID = the venue's RFQ
  id; no taker, no price limits and, for a two-way RFQ, no side; legs with LegQty in coins; the hedge
  leg with its LegPrice.
- Quote (S): QuoteReqID = the RFQ id, QuoteID = the maker's own id, NoLegs with LegSymbol and
  LegBidPx/LegOfferPx (USD per coin; or BidPx/OfferPx for a single-leg RFQ), optional ValidUntilTime.
  A new quote replaces the maker's live one on that RFQ.
- QuoteCancel (Z): QuoteCancelType 1 with QuoteReqID (one RFQ), 3 with Symbol = the underlying, 4 all.
- QuoteStatusReport (AI) on every change of a quote: 0 accepted (live), 5 rejected, 7 expired, 17
  cancelled or replaced, 6 removed (the RFQ ended on another quote, was withdrawn, or market-maker
  protection pulled it), 22 traded (with an ExecutionReport per leg); VenueQuoteID (20031) is the
  venue's id, Text says why.

Makers never see the taker or each other's quotes; takers never see a maker (rfq.views states the
same rules for the WebSocket). A session gets the messages of its own requests; what another door
started reaches every order-entry (or, for makers, every rfq_maker) session of the account.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fixgw import fields as f
from fixgw import rfq_wire as wire
from fixgw.outbound import Pairs
from fixgw.wire import FixMessage, utc_timestamp
from matching.commands import CommandRecord, RfqAccept, RfqCancel, RfqQuoteCancel
from matching.events import (
    BlockTrade,
    Event,
    QuoteClosed,
    QuoteEntered,
    QuoteRejected,
    RfqAcceptRejected,
    RfqClosed,
    RfqOpened,
    RfqQuotes,
    RfqRejected,
)
from matching.reasons import Reason
from matching.reasons import text as reason_text
from matching.types import QuoteStatus, RfqStatus
from rfq.requests import RequestError

if TYPE_CHECKING:
    from fixgw.gateway import Gateway, Origin, SessionState

_CLOSED_STATUS = {
    QuoteStatus.ACCEPTED: wire.QS_TRADED,
    QuoteStatus.CANCELLED: wire.QS_CANCELED,
    QuoteStatus.REPLACED: wire.QS_CANCELED,
    QuoteStatus.EXPIRED: wire.QS_EXPIRED,
    QuoteStatus.REJECTED: wire.QS_REJECTED,
    QuoteStatus.PULLED: wire.QS_REMOVED,
    QuoteStatus.RFQ_CLOSED: wire.QS_REMOVED,
}
_RFQ_END = {RfqStatus.FILLED: wire.QS_TRADED, RfqStatus.EXPIRED: wire.QS_EXPIRED}


@dataclass(slots=True)
class TakerRfq:
    """What a taker's session was told about one open RFQ."""

    opened: RfqOpened
    session: str | None  # the session that asked; None: another door
    shown: set[int] = field(default_factory=set)  # quote ids sent as Quote (S)


class Quoting:
    """The RFQ half of the gateway; runs on the venue's event loop like the rest of it."""

    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        self.takers: dict[int, TakerRfq] = {}  # open RFQs of served taker accounts
        # live quotes of served maker accounts -> the session that entered them (None: another door)
        self.quotes: dict[int, str | None] = {}

    # -- inbound -------------------------------------------------------------------------------------

    def handle(self, state: SessionState, message: FixMessage, account: str) -> None:
        kind = message.msg_type
        if kind in ("S", "Z") and not state.config.rfq_maker:
            self.gw.reject_business(state, message, 6, "this session does not answer RFQs (rfq_maker)")
            return
        try:
            if kind == "R":
                self._request(state, message, account)
            elif kind == "S":
                self._quote(state, message, account)
            elif kind == "Z":
                self.gw.submit_for(state, message, wire.quote_cancel(message, account))
            elif kind == "AJ":
                self._response(state, message, account)
            else:  # NewOrderSingle with OrdType D
                self.accept(state, message, account)
        except RequestError as exc:
            self.refuse(state, message, account, exc.reason, exc.detail)

    def _request(self, state: SessionState, message: FixMessage, account: str) -> None:
        core = self.gw.core
        command = wire.quote_request(message, account, core.instruments, core.rfq_defaults(), self.gw.clock())
        self.gw.submit_for(state, message, command)

    def _quote(self, state: SessionState, message: FixMessage, account: str) -> None:
        raw = message.get(f.QUOTE_REQ_ID)
        rfq_id = int(raw) if raw.isdigit() and len(raw) < 19 else 0
        rfq = self.gw.core.rfqs.get(rfq_id)
        if rfq is None or not rfq.admits(account):
            raise RequestError(Reason.RFQ_NOT_FOUND, f"no open RFQ {raw!r} for {account}")
        command = wire.quote(
            message, account, rfq_id, rfq.leg_symbols, self.gw.core.instruments, self.gw.clock()
        )
        self.gw.submit_for(state, message, command)

    def _response(self, state: SessionState, message: FixMessage, account: str) -> None:
        kind = message.get(f.QUOTE_RESP_TYPE)
        if kind == "1":
            self.accept(state, message, account)
        elif kind == "6":
            rfq_id = self._rfq_of_request(account, message)
            self.gw.submit_for(state, message, RfqCancel(account=account, rfq_id=rfq_id))
        else:
            raise RequestError(Reason.RFQ_INVALID, "QuoteRespType (694) must be 1 (hit) or 6 (pass)")

    def accept(self, state: SessionState, message: FixMessage, account: str) -> None:
        """A hit on a quote of one of the account's open RFQs."""
        quote_id = wire.quote_id_of(message)
        rfq_id = self._rfq_of_quote(account, quote_id, message)
        client_order_id = message.get(f.CL_ORD_ID) or message.get(f.QUOTE_RESP_ID)
        command = wire.accept(message, account, rfq_id, quote_id, client_order_id[: wire.MAX_ID_LENGTH])
        self.gw.submit_for(state, message, command)

    def _rfq_of_quote(self, account: str, quote_id: int, message: FixMessage) -> int:
        """The account's open RFQ whose board shows ``quote_id``; else the one the message names, or
        one still in its window (the desk then answers why the hit cannot execute)."""
        mine = [r for r in self.gw.core.rfqs.values() if r.taker == account]
        for rfq in mine:
            if rfq.board is not None and any(q.quote_id == quote_id for q in rfq.board.quotes):
                return rfq.rfq_id
        if message.get(f.QUOTE_REQ_ID) or message.get(f.RFQ_ID):
            return self._rfq_of_request(account, message)
        waiting = [r.rfq_id for r in mine if r.board is None]
        if waiting:
            return max(waiting)
        raise RequestError(Reason.QUOTE_NOT_FOUND, f"quote {quote_id} is not live on an RFQ of {account}")

    def _rfq_of_request(self, account: str, message: FixMessage) -> int:
        """The open RFQ of ``account`` a pass names, by its QuoteReqID (or RfqID), else by QuoteID."""
        request_id = message.get(f.QUOTE_REQ_ID)
        venue_id = message.get(f.RFQ_ID)
        for rfq in self.gw.core.rfqs.values():
            if rfq.taker != account:
                continue
            if (request_id and rfq.client_rfq_id == request_id) or (venue_id and str(rfq.rfq_id) == venue_id):
                return rfq.rfq_id
        raw = message.get(f.QUOTE_ID)
        for rfq in self.gw.core.rfqs.values():
            if rfq.taker == account and rfq.board and any(str(q.quote_id) == raw for q in rfq.board.quotes):
                return rfq.rfq_id
        raise RequestError(Reason.RFQ_NOT_FOUND, "no open RFQ of the account with that QuoteReqID")

    def refuse(self, state: SessionState, message: FixMessage, account: str, reason: int, text: str) -> None:
        """A request refused before or by the desk, in the form its message type expects."""
        kind = message.msg_type
        now = self.gw.clock()
        text = text or reason_text(reason)
        if kind == "R":
            pairs = wire.request_reject(message.get(f.QUOTE_REQ_ID), message.get(f.SYMBOL), reason, text)
            self.gw.send(state, "AG", pairs)
        elif kind in ("S", "Z"):
            status = wire.QS_NOT_FOUND if reason == Reason.QUOTE_NOT_FOUND else wire.QS_REJECTED
            pairs = wire.status_report(
                message.get(f.QUOTE_REQ_ID), message.get(f.QUOTE_ID), status, now, account=account,
                text=text,
            )  # fmt: skip
            self.gw.send(state, "AI", pairs)
        elif kind == "D" or (kind == "AJ" and message.get(f.QUOTE_RESP_TYPE) == "1"):
            pairs = wire.accept_rejected(message, account, reason, text, now, f"R{now}")
            self.gw.send(state, "8", pairs)
        else:
            self.gw.reject_business(state, message, 0, text, message.get(f.QUOTE_REQ_ID))

    # -- outbound ------------------------------------------------------------------------------------

    def on_events(
        self, record: CommandRecord, events: Iterable[tuple[int, Event]], origin: Origin | None
    ) -> None:
        """One durable record's RFQ events, in order."""
        events = list(events)
        closing = {e.quote_id: e for _, e in events if isinstance(e, QuoteClosed)}
        for i, event in events:
            handler = _HANDLERS.get(type(event))
            if handler is not None:
                handler(self, record, i, event, origin, closing)
        answered = any(isinstance(e, QuoteRejected) for _, e in events)
        if origin is not None and origin.message.msg_type == "Z" and not closing and not answered:
            command = origin.command
            account = command.account if isinstance(command, RfqQuoteCancel) else ""
            self.refuse(origin.session, origin.message, account, Reason.QUOTE_NOT_FOUND, "no live quotes")

    def _origin_session(self, origin: Origin | None) -> SessionState | None:
        return origin.session if origin is not None else None

    def _taker_sessions(self, rfq: TakerRfq) -> list[SessionState]:
        entry, _ = self.gw.by_account(rfq.opened.account)
        return [s for s in entry if rfq.session is None or s.name == rfq.session]

    def _maker_sessions(self, account: str, session: str | None) -> list[SessionState]:
        entry, _ = self.gw.by_account(account)
        return [s for s in entry if s.config.rfq_maker and (session is None or s.name == session)]

    def _opened(self, record: CommandRecord, i: int, e: RfqOpened, origin: Origin | None, _: Any) -> None:
        gw = self.gw
        if gw.serves(e.account):
            session = self._origin_session(origin)
            rfq = TakerRfq(e, session.name if session is not None else None)
            self.takers[e.rfq_id] = rfq
            pairs = wire.status_report(
                e.client_rfq_id or str(e.rfq_id), f"RFQ{e.rfq_id}", wire.QS_PENDING, record.ts_ns,
                rfq_id=e.rfq_id, account=e.account, symbol=wire.package_label(e), expire_ns=e.expire_ns,
                text=f"auction open; quotes shown from {utc_timestamp(e.window_end_ns)}",
            )  # fmt: skip
            for state in self._taker_sessions(rfq):
                gw.send(state, "AI", pairs)
        # every rfq_maker session with an account that may quote, once, naming that account
        for state in gw.maker_sessions():
            accounts = [
                a for a in state.config.accounts
                if a != e.account and (not e.counterparties or a in e.counterparties)
            ]  # fmt: skip
            if accounts:
                named = accounts[0] if len(state.config.accounts) > 1 else ""
                gw.send(state, "R", wire.request_for_maker(e, gw.core.instruments, record.ts_ns, named))

    def _rejected(self, record: CommandRecord, i: int, e: RfqRejected, origin: Origin | None, _: Any) -> None:
        if origin is not None and origin.message.msg_type == "R":
            self.refuse(origin.session, origin.message, e.account, e.reason, e.text)

    def _entered(self, record: CommandRecord, i: int, e: QuoteEntered, origin: Origin | None, _: Any) -> None:
        if not self.gw.serves(e.account):
            return
        session = self._origin_session(origin)
        entered_by = session.name if session is not None else None
        self.quotes[e.quote_id] = entered_by
        pairs = wire.status_report(
            str(e.rfq_id), e.client_quote_id or str(e.quote_id), wire.QS_ACCEPTED, record.ts_ns,
            rfq_id=e.rfq_id, account=e.account, venue_quote_id=e.quote_id, bid_micro=e.bid_micro,
            offer_micro=e.offer_micro, expire_ns=e.expire_ns,
        )  # fmt: skip
        for state in self._maker_sessions(e.account, entered_by):
            self.gw.send(state, "AI", pairs)

    def _quote_rejected(
        self, record: CommandRecord, i: int, e: QuoteRejected, origin: Origin | None, _: Any
    ) -> None:
        if origin is not None and origin.message.msg_type in ("S", "Z"):
            self.refuse(origin.session, origin.message, e.account, e.reason, e.text)

    def _closed(self, record: CommandRecord, i: int, e: QuoteClosed, origin: Origin | None, _: Any) -> None:
        if e.quote_id not in self.quotes:
            return
        entered_by = self.quotes.pop(e.quote_id)
        words = e.text if e.status != QuoteStatus.REPLACED else "replaced by a newer quote"
        pairs = wire.status_report(
            str(e.rfq_id), e.client_quote_id or str(e.quote_id), _CLOSED_STATUS[QuoteStatus(e.status)],
            record.ts_ns, rfq_id=e.rfq_id, account=e.account, venue_quote_id=e.quote_id, text=words,
        )  # fmt: skip
        for state in self._maker_sessions(e.account, entered_by):
            self.gw.send(state, "AI", pairs)

    def _board(self, record: CommandRecord, i: int, e: RfqQuotes, origin: Origin | None, _: Any) -> None:
        rfq = self.takers.get(e.rfq_id)
        if rfq is None:
            return
        live = {q.quote_id for q in e.quotes}
        sessions = self._taker_sessions(rfq)
        instruments = self.gw.core.instruments
        request_id = rfq.opened.client_rfq_id or str(e.rfq_id)
        for quote_id in sorted(rfq.shown - live):
            for state in sessions:
                self.gw.send(state, "Z", wire.quote_withdrawn(request_id, quote_id, e.rfq_id, e.account))
        best = (e.best_bid_micro, e.best_offer_micro)
        for view in e.quotes:
            if view.quote_id not in rfq.shown:
                pairs = wire.quote_for_taker(rfq.opened, view, best, instruments, record.ts_ns)
                for state in sessions:
                    self.gw.send(state, "S", pairs)
        rfq.shown = live

    def _accept_rejected(
        self, record: CommandRecord, i: int, e: RfqAcceptRejected, origin: Origin | None, _: Any
    ) -> None:
        if origin is not None:
            self.refuse(origin.session, origin.message, e.account, e.reason, e.text)

    def _block_trade(
        self,
        record: CommandRecord,
        i: int,
        e: BlockTrade,
        origin: Origin | None,
        closing: dict[int, QuoteClosed],
    ) -> None:
        gw = self.gw
        inst = gw.core.instruments.get(e.symbol)
        command = record.command
        taker_order_id = command.client_order_id if isinstance(command, RfqAccept) else ""
        taker = self.takers.get(e.rfq_id)
        if taker is not None:
            pairs = wire.block_execution(
                e, inst, maker=False, client_order_id=taker_order_id, exec_id=f"{record.seq}-{i}-T",
                ts_ns=record.ts_ns,
            )  # fmt: skip
            self._to(self._taker_sessions(taker), gw.drop_copies(e.taker_account), "8", pairs)
        if gw.serves(e.maker_account):
            closed = closing.get(e.quote_id)
            pairs = wire.block_execution(
                e, inst, maker=True, client_order_id=closed.client_quote_id if closed else "",
                exec_id=f"{record.seq}-{i}-M", ts_ns=record.ts_ns,
            )  # fmt: skip
            makers = self._maker_sessions(e.maker_account, self.quotes.get(e.quote_id))
            self._to(makers, gw.drop_copies(e.maker_account), "8", pairs)

    def _rfq_closed(self, record: CommandRecord, i: int, e: RfqClosed, origin: Origin | None, _: Any) -> None:
        rfq = self.takers.pop(e.rfq_id, None)
        if rfq is None:
            return
        status = _RFQ_END.get(RfqStatus(e.status), wire.QS_CANCELED)
        pairs = wire.status_report(
            rfq.opened.client_rfq_id or str(e.rfq_id), f"RFQ{e.rfq_id}", status, record.ts_ns,
            rfq_id=e.rfq_id, account=e.account, symbol=wire.package_label(rfq.opened), text=e.text,
        )  # fmt: skip
        for state in self._taker_sessions(rfq):
            self.gw.send(state, "AI", pairs)

    def _to(
        self, first: list[SessionState], copies: Iterable[SessionState], msg_type: str, pairs: Pairs
    ) -> None:
        for state in [*first, *copies]:
            self.gw.send(state, msg_type, pairs)


_Handler = Callable[[Quoting, CommandRecord, int, Any, "Origin | None", dict[int, QuoteClosed]], None]
_HANDLERS: dict[type, _Handler] = {
    RfqOpened: Quoting._opened,
    RfqRejected: Quoting._rejected,
    QuoteEntered: Quoting._entered,
    QuoteRejected: Quoting._quote_rejected,
    QuoteClosed: Quoting._closed,
    RfqQuotes: Quoting._board,
    RfqAcceptRejected: Quoting._accept_rejected,
    BlockTrade: Quoting._block_trade,
    RfqClosed: Quoting._rfq_closed,
}
