"""Who sees which RFQ event, and in what form: the anonymity rules, in one place for every front door.

- The taker sees its RFQ, the auction board (``RfqQuotes``: quote ids and prices, never a maker), the
  execution and its legs without the maker.
- A maker sees RFQs it may quote without the taker, the taker's client id, the counterparty list or the
  taker's price limits; its own quotes; executions of its quotes without the taker. Makers never see
  each other's quotes.
- The public tape sees block trades without accounts or fees, flagged as block trades.

``routes`` returns (audience, message) pairs: audience ``("account", id)``, ``("requests", "")`` (every
maker) or ``("tape", symbol)``; messages are JSON-ready dicts with the event's ``type``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from matching.events import (
    BlockTrade,
    Event,
    MmpUpdated,
    QuoteClosed,
    QuoteEntered,
    QuoteRejected,
    RfqAcceptRejected,
    RfqClosed,
    RfqExecuted,
    RfqOpened,
    RfqQuotes,
    RfqRejected,
)

RFQ_EVENTS = (
    RfqOpened,
    RfqRejected,
    QuoteEntered,
    QuoteRejected,
    QuoteClosed,
    RfqQuotes,
    RfqAcceptRejected,
    BlockTrade,
    RfqExecuted,
    RfqClosed,
    MmpUpdated,
)
Audience = tuple[str, str]
HIDDEN_FROM_MAKERS = ("account", "client_rfq_id", "counterparties", "min_price_micro", "max_price_micro")
PRIVATE_TO_PARTIES = ("taker_account", "maker_account", "taker_fee_micro", "maker_fee_micro", "quote_id")


def _named(value: Any) -> Any:
    """Nested structs (legs, quotes) as objects with field names: they are stored as arrays."""
    if isinstance(value, msgspec.Struct):
        return {name: _named(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, tuple | list):
        return [_named(item) for item in value]
    return value


def message(event: Event, drop: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"type": type(event).__name__}
    data.update(_named(event))
    for name in drop:
        data.pop(name, None)
    data.update(extra)
    return data


def request_for_makers(event: RfqOpened) -> dict[str, Any]:
    return message(event, HIDDEN_FROM_MAKERS)


def routes(event: Event) -> list[tuple[Audience, dict[str, Any]]]:
    """Where an RFQ event goes; [] for any other event."""
    if isinstance(event, RfqOpened):
        out: list[tuple[Audience, dict[str, Any]]] = [(("account", event.account), message(event))]
        anonymous = request_for_makers(event)
        if event.counterparties:
            out += [(("account", maker), anonymous) for maker in event.counterparties]
        else:
            out.append((("requests", ""), anonymous))
        return out
    if isinstance(event, RfqExecuted):
        return [
            (("account", event.taker_account), message(event, ("maker_account",))),
            (("account", event.maker_account), message(event, ("taker_account",), side=-event.side)),
        ]
    if isinstance(event, BlockTrade):
        maker_view = message(event, ("taker_account", "taker_fee_micro"), side=-event.side)
        return [
            (("account", event.taker_account), message(event, ("maker_account", "maker_fee_micro"))),
            (("account", event.maker_account), maker_view),
            (
                ("tape", event.symbol),
                message(event, PRIVATE_TO_PARTIES, block=True),
            ),
        ]  # fmt: skip
    if isinstance(event, RfqClosed):
        return [
            (("account", event.account), message(event)),
            (("requests", ""), message(event, ("account",))),
        ]
    if isinstance(event, RFQ_EVENTS):
        return [(("account", event.account), message(event))]
    return []
