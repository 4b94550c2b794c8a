"""Snapshots of the sequencer's whole state, so recovery replays only the journal after them.

Invariant: restoring a snapshot taken after record S and applying records S+1.. yields exactly the
events the live sequencer produced for them (tests/matching/test_snapshot.py proves it with the
event-stream hash). Everything that can influence a future event is captured: instruments and their
live state (marks, halts, circuit-breaker windows, book sequence numbers), indices, accounts,
positions, every live order with its time-priority stamp (FIFO within a level is rebuilt from it),
held stops, counters and idempotence references. Derived structures (price heaps, level totals,
margin sums, GTD and stop heaps) are rebuilt, not stored.

A plugged-in RiskCheck saves what it needs beyond the ledger (``save_state``) into the snapshot and
rebuilds the rest from the restored ledger and instruments (``load_state``).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import msgspec

from config.catalog import InstrumentSpec
from matching.book import Order
from matching.instruments import Instrument, UnderlyingIndex
from matching.ledger import Position
from matching.liquidation import LiquidationTerms
from matching.matcher import Market
from matching.native_codes import STOP_LIMIT, STOP_MARKET
from matching.risk_check import RiskCheck
from matching.sequencer import Extension, Sequencer
from matching.types import TimeInForce

VERSION = 1


class OrderState(msgspec.Struct, array_like=True, frozen=True):
    order_id: int
    account: str
    client_order_id: str
    symbol: str
    side: int
    price: int
    qty: int
    leaves: int
    order_type: int
    tif: int
    expire_ns: int
    post_only: bool
    reduce_only: bool
    stop_price: int
    trigger_by: int
    stp_mode: int
    cum_qty: int
    cum_value: int
    margin_micro: int
    triggered: bool
    priority: int
    resting: bool


class PositionState(msgspec.Struct, array_like=True, frozen=True):
    symbol: str
    qty: int
    cost: int
    realised: int


class AccountState(msgspec.Struct, array_like=True, frozen=True):
    id: str
    collateral: int
    stp_mode: int
    positions: list[PositionState]


class InstrumentState(msgspec.Struct, array_like=True, frozen=True):
    id: int
    spec: InstrumentSpec
    active: bool
    halted: bool
    halted_until_ns: int
    mark_ticks: int
    last_trade_ticks: int
    delta_seq: int
    breaker_lows: list[tuple[int, int]]
    breaker_highs: list[tuple[int, int]]


class IndexState(msgspec.Struct, array_like=True, frozen=True):
    underlying: str
    price_micro: int
    updated_ns: int


class Snapshot(msgspec.Struct, frozen=True):
    version: int
    seq: int  # the last record applied
    last_ts: int
    fee_account: str
    next_order_id: int
    next_trade_id: int
    venue_halted: bool
    net_deposits: int
    references: list[str]
    cooloffs: list[int]
    indices: list[IndexState]
    instruments: list[InstrumentState]
    accounts: list[AccountState]
    orders: list[OrderState]
    risk_state: bytes = b""  # the plugged-in RiskCheck's own state (RiskCheck.save_state)
    extension_states: list[bytes] = []  # each hosted extension's state, in hosting order


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Snapshot)


def take(seq: Sequencer) -> bytes:
    """The state after record ``seq.next_seq - 1``, encoded (MessagePack)."""
    matcher, ledger = seq.matcher, seq.ledger
    instruments = []
    for inst in sorted(seq.instruments_by_id.values(), key=lambda i: i.id):
        market = matcher.markets[inst.symbol]
        lows, highs = market.breaker.window()
        instruments.append(
            InstrumentState(
                inst.id,
                inst.spec,
                inst.active,
                inst.halted,
                inst.halted_until_ns,
                inst.mark_ticks,
                inst.last_trade_ticks,
                market.book.delta_seq,
                lows,
                highs,
            )
        )
    accounts = [
        AccountState(
            account.id,
            account.collateral,
            account.stp_mode,
            [
                PositionState(pos.instrument.symbol, pos.qty, pos.cost, pos.realised)
                for _, pos in sorted(account.positions.items())
            ],
        )
        for account in sorted(ledger.accounts.values(), key=lambda a: a.id)
    ]
    orders = [
        OrderState(
            o.order_id,
            o.account.id,
            o.client_order_id,
            o.instrument.symbol,
            o.side,
            o.price,
            o.qty,
            o.leaves,
            o.order_type,
            o.tif,
            o.expire_ns,
            o.post_only,
            o.reduce_only,
            o.stop_price,
            o.trigger_by,
            o.stp_mode,
            o.cum_qty,
            o.cum_value,
            o.margin_micro,
            o.triggered,
            o.priority,
            o.level is not None,
        )
        for o in sorted(matcher.orders.values(), key=lambda o: o.order_id)
    ]
    snapshot = Snapshot(
        VERSION,
        seq.next_seq - 1,
        seq.last_ts,
        ledger.fee_account.id,
        matcher.next_order_id,
        matcher.next_trade_id,
        matcher.venue_halted,
        ledger.net_deposits,
        sorted(ledger.references),
        sorted(matcher.cooloffs),
        [IndexState(i.underlying, i.price_micro, i.updated_ns) for _, i in sorted(seq.indices.items())],
        instruments,
        accounts,
        orders,
        seq.risk.save_state(),
        [extension.save_state() for extension in seq.extensions],
    )
    return _encoder.encode(snapshot)


def restore(
    blob: bytes,
    risk: RiskCheck | None = None,
    liquidation: LiquidationTerms | None = None,
    extensions: Sequence[Extension] = (),
) -> Sequencer:
    """A sequencer in exactly the state the snapshot was taken in; the next record it takes is seq + 1.

    ``extensions`` are hosted again, in the order they were when the snapshot was taken.
    """
    snap = _decoder.decode(blob)
    if snap.version != VERSION:
        raise ValueError(f"snapshot version {snap.version} is not {VERSION}")
    seq = Sequencer(snap.fee_account, risk, liquidation)
    matcher, ledger = seq.matcher, seq.ledger
    seq.next_seq = snap.seq + 1
    seq.last_ts = snap.last_ts
    seq.resume_stamping(snap.seq + 1, snap.last_ts)
    for index_state in snap.indices:
        index = seq.indices[index_state.underlying] = UnderlyingIndex(index_state.underlying)
        index.price_micro, index.updated_ns = index_state.price_micro, index_state.updated_ns
    for state in snap.instruments:
        shared = seq.indices.get(state.spec.underlying)
        if shared is None:
            shared = seq.indices[state.spec.underlying] = UnderlyingIndex(state.spec.underlying)
        inst = Instrument(state.id, state.spec, shared)
        inst.active, inst.halted, inst.halted_until_ns = state.active, state.halted, state.halted_until_ns
        inst.mark_ticks, inst.last_trade_ticks = state.mark_ticks, state.last_trade_ticks
        seq.instruments_by_id[state.id] = inst
        seq.by_underlying.setdefault(inst.underlying, []).append(inst)
        market = matcher.markets[inst.symbol] = Market(inst)
        market.book.delta_seq = state.delta_seq
        market.breaker.load(state.breaker_lows, state.breaker_highs)
    markets = matcher.markets
    for account_state in snap.accounts:
        account = ledger.open(account_state.id)
        account.collateral, account.stp_mode = account_state.collateral, account_state.stp_mode
        for p in account_state.positions:
            inst = markets[p.symbol].instrument
            pos = account.positions[inst.id] = Position(inst)
            pos.qty, pos.cost, pos.realised = p.qty, p.cost, p.realised
    for o in sorted(snap.orders, key=lambda o: o.priority):  # FIFO within each level follows priority
        market = markets[o.symbol]
        account = ledger.accounts[o.account]
        order = Order(
            o.order_id,
            account,
            o.client_order_id,
            market.instrument,
            o.side,
            o.price,
            o.qty,
            o.leaves,
            o.order_type,
            o.tif,
            o.expire_ns,
            o.post_only,
            o.reduce_only,
            o.stop_price,
            o.trigger_by,
            o.stp_mode,
        )
        order.cum_qty, order.cum_value, order.margin_micro = o.cum_qty, o.cum_value, o.margin_micro
        order.triggered, order.priority = o.triggered, o.priority
        account.orders[o.order_id] = order
        if o.client_order_id:
            account.client_ids[o.client_order_id] = order
        matcher.orders[o.order_id] = order
        if o.resting:
            market.book.side(o.side).append(order)
            account.order_margin += o.margin_micro
            if o.reduce_only:
                account.reduce_only.setdefault(market.instrument.id, []).append(order)
        elif o.order_type == STOP_MARKET or o.order_type == STOP_LIMIT:
            market.stops.add(order)
        if o.tif == TimeInForce.GTD:
            heapq.heappush(matcher.expiries, (o.expire_ns, o.order_id))
    matcher.next_order_id, matcher.next_trade_id = snap.next_order_id, snap.next_trade_id
    matcher.venue_halted = snap.venue_halted
    matcher.cooloffs.update(snap.cooloffs)
    ledger.net_deposits = snap.net_deposits
    ledger.references.update(snap.references)
    seq.risk.load_state(snap.risk_state, list(ledger.accounts.values()), list(seq.instruments_by_id.values()))
    for i, extension in enumerate(extensions):
        seq.extend(extension)
        extension.load_state(snap.extension_states[i] if i < len(snap.extension_states) else b"")
    seq.refresh_extension_due()
    return seq


def snapshot_seq(blob: bytes) -> int:
    return _decoder.decode(blob).seq
