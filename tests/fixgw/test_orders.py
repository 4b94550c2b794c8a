"""Order entry over FIX against the real venue: a quickfix initiator in another process."""

from __future__ import annotations

from tests.fixgw.conftest import FixVenue
from tests.fixgw.harness import now


def order(
    cl: str, side: str, qty: str, price: str | None = None, **extra: object
) -> list[tuple[int, object]]:
    fields: list[tuple[int, object]] = [(11, cl), (55, "BTC-PERP"), (54, side), (38, qty), (60, now())]
    fields += [(40, "2"), (44, price)] if price is not None else [(40, "1")]
    return fields + [(int(k[1:]), v) for k, v in extra.items()]


def test_full_order_lifecycle_with_partial_fills_and_replace(fix_venue: FixVenue) -> None:
    hf1, hf2 = fix_venue.client("HF1"), fix_venue.client("HF2")
    try:
        hf1.logon()
        hf2.logon()
        hf1.send("D", order("s1", "2", "1.5", "100000.5"))
        new = hf1.app("8", t11="s1", t150="0")
        assert new["fields"]["39"] == "0" and new["fields"]["151"] == "1.5" and new["fields"]["14"] == "0"
        order_id = new["fields"]["37"]
        hf2.send("D", order("b1", "1", "0.5", "100001", t59="3"))
        taker = hf2.app("8", t11="b1", t150="F")
        assert taker["fields"]["31"] == "100000.5" and taker["fields"]["32"] == "0.5"
        assert taker["fields"]["39"] == "2" and taker["fields"]["851"] == "2"
        maker = hf1.app("8", t11="s1", t150="F")
        assert (
            maker["fields"]["39"] == "1" and maker["fields"]["14"] == "0.5" and maker["fields"]["151"] == "1"
        )
        assert maker["fields"]["6"] == "100000.5" and maker["fields"]["851"] == "1"
        assert float(maker["fields"]["12"]) >= 0 and maker["fields"]["17"] != taker["fields"]["17"]
        # replace: new price, new total quantity
        hf1.send("G", [(11, "s1b"), (41, "s1"), (37, order_id), (55, "BTC-PERP"), (54, "2"), (38, "2"),
                       (40, "2"), (44, "100002"), (60, now())])  # fmt: skip
        replaced = hf1.app("8", t11="s1b", t150="5")
        assert replaced["fields"]["41"] == "s1" and replaced["fields"]["44"] == "100002"
        assert replaced["fields"]["151"] == "1.5" and replaced["fields"]["14"] == "0.5"
        # cancel with its own ClOrdID
        hf1.send("F", [(11, "s1c"), (41, "s1b"), (55, "BTC-PERP"), (54, "2"), (60, now())])
        cancelled = hf1.app("8", t150="4")
        assert cancelled["fields"]["11"] == "s1c" and cancelled["fields"]["41"] == "s1b"
        assert cancelled["fields"]["39"] == "4" and cancelled["fields"]["151"] == "0"
        # cancelling again: OrderCancelReject
        hf1.send("F", [(11, "s1d"), (41, "s1b"), (55, "BTC-PERP"), (54, "2"), (60, now())])
        reject = hf1.app("9", t11="s1d")
        assert reject["fields"]["434"] == "1" and reject["fields"]["102"] in ("0", "1")
    finally:
        hf1.close()
        hf2.close()
