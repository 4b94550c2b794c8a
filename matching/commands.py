"""Commands: everything that may change the venue's state. Immutable, tagged, journaled verbatim.

Units: prices in ticks of the named instrument, quantities in lots, cash in micro-USDC, times in
nanoseconds since the Unix epoch (UTC). A command carries no sequence number or time of its own: the
sequencer stamps both into the ``CommandRecord`` at intake, and replay applies the records.
"""

from __future__ import annotations

import msgspec

from config.catalog import InstrumentSpec


class _Command(msgspec.Struct, frozen=True, tag=True, kw_only=True, gc=False):
    pass


class NewOrder(_Command):
    """Place an order. ``price_ticks`` is ignored (0) for market and stop-market orders.

    ``stop_price_ticks`` and ``trigger_by`` apply to stop orders; ``expire_ns`` to GTD;
    ``stp_mode`` 0 means the account's default self-trade prevention.
    """

    account: str
    client_order_id: str
    symbol: str
    side: int
    qty_lots: int
    price_ticks: int = 0
    order_type: int = 1
    tif: int = 1
    expire_ns: int = 0
    post_only: bool = False
    reduce_only: bool = False
    stop_price_ticks: int = 0
    trigger_by: int = 0
    stp_mode: int = 0


class CancelOrder(_Command):
    """Cancel by ``order_id``, or by ``client_order_id`` when ``order_id`` is 0."""

    account: str
    order_id: int = 0
    client_order_id: str = ""


class ReplaceOrder(_Command):
    """Cancel-replace: new total quantity (including what is filled), new price, new client order id.

    Keeps time priority only when the price is unchanged and the quantity goes down.
    """

    account: str
    qty_lots: int
    price_ticks: int
    order_id: int = 0
    orig_client_order_id: str = ""
    client_order_id: str = ""
    stop_price_ticks: int = 0


class MassCancel(_Command):
    """Cancel every live order matching all given filters. ``account`` empty means every account."""

    account: str = ""
    symbol: str = ""
    underlying: str = ""
    side: int = 0
    scope: int = 1  # matching.types.MassCancelScope
    request_id: str = ""


class SetStpMode(_Command):
    account: str
    stp_mode: int


class Deposit(_Command):
    """Credit collateral. ``reference`` (e.g. tx hash and log index) makes it idempotent."""

    account: str
    amount_micro: int
    reference: str


class Withdraw(_Command):
    """Debit collateral if the account's available funds allow it."""

    account: str
    amount_micro: int
    reference: str


class MarkUpdate(_Command):
    """New marks of one underlying: its index in micro-USDC and per-instrument mark prices in ticks."""

    underlying: str
    index_price_micro: int
    marks: tuple[tuple[str, int], ...] = ()


class HaltInstrument(_Command):
    symbol: str
    reason: str = ""


class ResumeInstrument(_Command):
    symbol: str


class KillSwitch(_Command):
    """Halt every instrument and cancel every order, until ResumeVenue."""

    reason: str = ""


class ResumeVenue(_Command):
    pass


class ListInstrument(_Command):
    spec: InstrumentSpec


class DelistInstrument(_Command):
    symbol: str


class ClockTick(_Command):
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

    seq: int
    ts_ns: int
    command: Command
