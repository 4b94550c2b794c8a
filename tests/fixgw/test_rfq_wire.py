"""RFQ message translation on hostile input: a reason (RequestError) or a command the journal can hold."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from fixgw import fields as f
from fixgw import rfq_wire as wire
from fixgw.wire import FixMessage
from matching.commands import RfqCreate
from matching.journal import encode_command
from rfq.requests import RequestError
from tests.matching.harness import CATALOG, Harness, option_spec

H = Harness(specs=[CATALOG.perpetual("BTC"), option_spec()])
INSTRUMENTS = {s: m.instrument for s, m in H.seq.matcher.markets.items()}
OPTION = option_spec().symbol
NOW = 1_800_000_000_000_000_000
TAGS = [f.QUOTE_REQ_ID, f.NO_RELATED_SYM, f.SYMBOL, f.SIDE, f.ORDER_QTY, f.NO_LEGS, f.LEG_SYMBOL,
        f.LEG_SIDE, f.LEG_RATIO_QTY, f.LEG_QTY, f.LEG_PRICE, f.EXPIRE_TIME, f.AUCTION_WINDOW_MS,
        f.MIN_PACKAGE_PRICE, f.MAX_PACKAGE_PRICE, f.NO_PARTY_IDS, f.PARTY_ID, f.PARTY_ROLE, f.QUOTE_ID,
        f.BID_PX, f.OFFER_PX, f.LEG_BID_PX, f.LEG_OFFER_PX, f.VALID_UNTIL_TIME, f.QUOTE_CANCEL_TYPE,
        f.PRICE]  # fmt: skip
VALUES = st.one_of(
    st.sampled_from(["1", "2", "0", "-1", "1e9", "NaN", "Infinity", "0.0001", "", "BTC", OPTION, "BTC-PERP",
                     "20261202-10:00:00", "99991231-23:59:59.999", "x" * 80, "18446744073709551616"]),
    st.text(max_size=12),
)  # fmt: skip


def message(pairs: list[tuple[int, str]]) -> FixMessage:
    fields: dict[int, str] = {}
    for tag, value in pairs:
        fields.setdefault(tag, value)
    return FixMessage("R", fields, tuple(pairs))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(TAGS), VALUES), max_size=25))
def test_hostile_messages_give_a_reason_or_a_command(pairs: list[tuple[int, str]]) -> None:
    msg = message(pairs)
    for translate in (
        lambda: wire.quote_request(msg, "A", INSTRUMENTS, (100_000_000, 10_000_000_000), NOW),
        lambda: wire.quote(msg, "B", 1, [OPTION], INSTRUMENTS, NOW),
        lambda: wire.quote(msg, "B", 1, [OPTION, "BTC-PERP"], INSTRUMENTS, NOW),
        lambda: wire.quote_cancel(msg, "B"),
        lambda: wire.accept(msg, "A", 1, 1, "c"),
        lambda: wire.quote_id_of(msg),
    ):
        try:
            command = translate()
        except RequestError as exc:
            assert exc.reason and exc.detail
            continue
        if not isinstance(command, int):
            encode_command(command)  # whatever passes translation can be journaled


def test_a_package_with_a_hedge_leg() -> None:
    msg = message([(f.QUOTE_REQ_ID, "r"), (f.NO_RELATED_SYM, "1"), (f.SYMBOL, "BTC"), (f.SIDE, "2"),
                   (f.ORDER_QTY, "2"), (f.NO_LEGS, "2"), (f.LEG_SYMBOL, OPTION), (f.LEG_SIDE, "1"),
                   (f.LEG_RATIO_QTY, "1.5"), (f.LEG_SYMBOL, "BTC-PERP"), (f.LEG_SIDE, "2"),
                   (f.LEG_QTY, "0.25"), (f.LEG_PRICE, "100000"), (f.NO_PARTY_IDS, "1"), (f.PARTY_ID, "MM9"),
                   (f.PARTY_ROLE, "35"), (f.MAX_PACKAGE_PRICE, "5000")])  # fmt: skip
    command = wire.quote_request(msg, "A", INSTRUMENTS, (100_000_000, 10_000_000_000), NOW)
    assert isinstance(command, RfqCreate) and command.side == -1 and command.counterparties == ("MM9",)
    (leg,) = command.legs
    option = INSTRUMENTS[OPTION]
    assert (
        leg.symbol == OPTION and leg.side == 1 and leg.qty_lots == option.qty_to_lots(Decimal(3))
    )  # size 2 x ratio 1.5
    assert command.hedge is not None and command.hedge.side == -1 and command.hedge.qty_lots == 250
    assert command.hedge_price_ticks == 200_000 and command.max_price_micro == 5_000_000_000
