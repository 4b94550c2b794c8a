"""Commands: everything that may change the venue's state. Immutable, tagged, journaled verbatim.

Units: prices in ticks of the named instrument, quantities in lots, cash in micro-USDC, times in
nanoseconds since the Unix epoch (UTC). A command carries no sequence number or time of its own: the
sequencer stamps both into the ``CommandRecord`` at intake, and replay applies the records.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from config.catalog import InstrumentSpec

# Every integer a command carries fits the journal's 64-bit encoding; decoding from a wire or the
# journal with msgspec enforces it, so an out-of-range value is refused at the front door.
I64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class _Command(msgspec.Struct, frozen=True, tag=True, kw_only=True, gc=False):
    pass


class NewOrder(_Command, frozen=True):
    """Place an order. ``price_ticks`` is ignored (0) for market and stop-market orders.

    ``stop_price_ticks`` and ``trigger_by`` apply to stop orders; ``expire_ns`` to GTD;
    ``stp_mode`` 0 means the account's default self-trade prevention.
    """

    account: str
    client_order_id: str
    symbol: str
    side: I64
    qty_lots: I64
    price_ticks: I64 = 0
    order_type: I64 = 1
    tif: I64 = 1
    expire_ns: I64 = 0
    post_only: bool = False
    reduce_only: bool = False
    stop_price_ticks: I64 = 0
    trigger_by: I64 = 0
    stp_mode: I64 = 0


class CancelOrder(_Command, frozen=True):
    """Cancel by ``order_id``, or by ``client_order_id`` when ``order_id`` is 0."""

    account: str
    order_id: I64 = 0
    client_order_id: str = ""


class ReplaceOrder(_Command, frozen=True):
    """Cancel-replace: new total quantity (including what is filled), new price, new client order id.

    Keeps time priority only when the price is unchanged and the quantity goes down.
    """

    account: str
    qty_lots: I64
    price_ticks: I64
    order_id: I64 = 0
    orig_client_order_id: str = ""
    client_order_id: str = ""
    stop_price_ticks: I64 = 0


class MassCancel(_Command, frozen=True):
    """Cancel every live order matching all given filters. ``account`` empty means every account."""

    account: str = ""
    symbol: str = ""
    underlying: str = ""
    side: I64 = 0
    scope: I64 = 1  # matching.types.MassCancelScope
    request_id: str = ""


class SetStpMode(_Command, frozen=True):
    account: str
    stp_mode: I64


class Deposit(_Command, frozen=True):
    """Credit collateral. ``reference`` (e.g. tx hash and log index) makes it idempotent."""

    account: str
    amount_micro: I64
    reference: str


class Withdraw(_Command, frozen=True):
    """Debit collateral if the account's available funds allow it."""

    account: str
    amount_micro: I64
    reference: str


class SmileMark(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One expiry's forward (micro-USDC) and raw SVI smile in log-moneyness (see ``risk.surface``)."""

    expiry_ns: I64
    forward_micro: I64
    a: float
    b: float
    rho: float
    m: float
    sigma: float
    k_min: float = -1.5
    k_max: float = 1.5


class MarkUpdate(_Command, frozen=True):
    """New marks of one underlying: its index in micro-USDC, per-instrument mark prices in ticks and the
    volatility surface (one smile per expiry) the risk engine revalues every scenario with.
    """

    underlying: str
    index_price_micro: I64
    marks: tuple[tuple[str, I64], ...] = ()
    smiles: tuple[SmileMark, ...] = ()


class SetMarginMode(_Command, frozen=True):
    """Enable (``portfolio`` True) or disable portfolio margin for an account; standard margin otherwise."""

    account: str
    portfolio: bool


class Liquidate(_Command, frozen=True):
    """Liquidate an account below maintenance margin (an admin request; the monitor runs on marks)."""

    account: str


class HaltInstrument(_Command, frozen=True):
    symbol: str
    reason: str = ""


class ResumeInstrument(_Command, frozen=True):
    symbol: str


class KillSwitch(_Command, frozen=True):
    """Halt every instrument and cancel every order, until ResumeVenue."""

    reason: str = ""


class ResumeVenue(_Command, frozen=True):
    pass


class ListInstrument(_Command, frozen=True):
    spec: InstrumentSpec


class DelistInstrument(_Command, frozen=True):
    symbol: str


class ClockTick(_Command, frozen=True):
    """Lets time pass with no other command: GTD expiries, circuit-breaker cool-offs."""


Command = (
    NewOrder
    | CancelOrder
    | ReplaceOrder
    | MassCancel
    | SetStpMode
    | Deposit
    | Withdraw
    | MarkUpdate
    | SetMarginMode
    | Liquidate
    | HaltInstrument
    | ResumeInstrument
    | KillSwitch
    | ResumeVenue
    | ListInstrument
    | DelistInstrument
    | ClockTick
)


class CommandRecord(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A command as the sequencer took it: its sequence number and intake time are part of the record."""

    seq: I64
    ts_ns: I64
    command: Command
