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


class SettlePerpetuals(_Command, frozen=True):
    """Realise every open perpetual position's P&L at its instrument's mark (variation margin).

    Each position's entry cost becomes its value at the mark and the difference moves to cash, so
    equity is unchanged and the cash moved between two settlements sums to zero over all accounts: a
    settlement batch is cut at each one. ``reference`` names the cut (e.g. the batch). Refused as a whole
    (NO_MARK) while a perpetual with open positions has no mark.
    """

    reference: str


class ApplyFunding(_Command, frozen=True):
    """Pay one funding interval on a perpetual: every position pays ``qty x lot x index x rate`` (longs
    pay shorts when ``rate_ppb`` > 0), booked at the index in force. ``rate_ppb`` is the interval's
    rate in parts per billion, computed from the premium and capped by ``risk.funding``; refused
    (INVALID_AMOUNT) beyond +-100 %, NO_MARK while the underlying has no index.
    """

    symbol: str
    rate_ppb: I64


class Withdraw(_Command, frozen=True):
    """Debit collateral if the account's available funds allow it.

    ``forced``: an on-chain request the vault will let anyone freeze on if it stays unserved; it is
    debited whatever margin it frees, as long as the account's equity and collateral cover it (so
    nobody else pays for it), and an account it leaves below maintenance is liquidated at once.
    """

    account: str
    amount_micro: I64
    reference: str
    forced: bool = False


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
    """Lets time pass with no other command: GTD expiries, circuit-breaker cool-offs, RFQ deadlines."""


# -- RFQ (handled by the plugged-in desk, ``rfq.desk``) -----------------------------------------------


class RfqLeg(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """One leg of a package: ``side`` +1/-1 as the package's buyer trades it, ``qty_lots`` in total."""

    symbol: str
    side: I64
    qty_lots: I64


class RfqCreate(_Command, frozen=True):
    """Ask for quotes on a package of 1 to 20 legs (all of one underlying), filled all-or-none.

    ``side`` +1: the taker wants to buy the package, -1 sell, 0 two-way (makers quote both sides).
    ``hedge`` is an optional perpetual leg executed with the package at ``hedge_price_ticks`` (the
    taker's price) and left out of the package price. ``counterparties`` empty means every maker.
    ``min_price_micro``/``max_price_micro`` bound the package price quotes may have (micro-USDC, the
    signed sum of qty x price over the legs as the buyer pays it). ``window_ns``: the auction window
    before the taker sees quotes; ``validity_ns``: how long the RFQ stays open from its intake.
    """

    account: str
    client_rfq_id: str
    legs: tuple[RfqLeg, ...]
    window_ns: I64
    validity_ns: I64
    side: I64 = 0
    hedge: RfqLeg | None = None
    hedge_price_ticks: I64 = 0
    counterparties: tuple[str, ...] = ()
    min_price_micro: I64 | None = None
    max_price_micro: I64 | None = None


class RfqQuote(_Command, frozen=True):
    """A maker's firm quote on an RFQ: per-leg prices in ticks for the bid and/or the offer.

    A bid is the price at which the maker buys the package (each leg on its side), an offer the price
    at which it sells; either may be empty but not both. A new quote replaces the maker's live one on
    the same RFQ. ``valid_ns`` 0: valid until the RFQ closes.
    """

    account: str
    rfq_id: I64
    client_quote_id: str
    bid_ticks: tuple[I64, ...] = ()
    offer_ticks: tuple[I64, ...] = ()
    valid_ns: I64 = 0


class RfqQuoteCancel(_Command, frozen=True):
    """Withdraw the account's live quote on ``rfq_id``; ``rfq_id`` 0: every live quote of the account
    (on ``underlying`` only, when given)."""

    account: str
    rfq_id: I64 = 0
    underlying: str = ""


class RfqAccept(_Command, frozen=True):
    """The taker takes a quote: ``side`` +1 buys the package (lifts the offer), -1 sells (hits the bid).

    ``limit_price_micro``: the worst package price the taker accepts (None: the quote's own price).
    """

    account: str
    rfq_id: I64
    quote_id: I64
    side: I64
    limit_price_micro: I64 | None = None
    client_order_id: str = ""


class RfqCancel(_Command, frozen=True):
    """The taker withdraws its RFQ (declines every quote)."""

    account: str
    rfq_id: I64


class MmpSet(_Command, frozen=True):
    """Market-maker protection of one maker on one underlying (quantities and delta in nano-coins).

    When the RFQ quantity the maker traded within ``interval_ns`` reaches ``qty_limit`` or the absolute
    delta it took on reaches ``delta_limit`` (0: no such limit), all its quotes on the underlying are
    pulled and new ones refused for ``frozen_ns`` (0: until MmpReset).
    """

    account: str
    underlying: str
    interval_ns: I64
    qty_limit: I64
    delta_limit: I64
    frozen_ns: I64 = 0


class MmpReset(_Command, frozen=True):
    """Lift a triggered market-maker protection before its cool-off ends."""

    account: str
    underlying: str


Command = (
    NewOrder
    | CancelOrder
    | ReplaceOrder
    | MassCancel
    | SetStpMode
    | Deposit
    | Withdraw
    | SettlePerpetuals
    | ApplyFunding
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
    | RfqCreate
    | RfqQuote
    | RfqQuoteCancel
    | RfqAccept
    | RfqCancel
    | MmpSet
    | MmpReset
)


class CommandRecord(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """A command as the sequencer took it: its sequence number and intake time are part of the record."""

    seq: I64
    ts_ns: I64
    command: Command
