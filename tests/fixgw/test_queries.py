"""Reference data, market data, positions, collateral, order status and mass requests over FIX."""

from __future__ import annotations

from tests.fixgw.conftest import FixVenue
from tests.fixgw.harness import FixClient, now
from tests.fixgw.test_orders import order


def entries(message: dict, count_tag: int, delimiter: int) -> list[dict[int, str]]:  # type: ignore[type-arg]
    out: list[dict[int, str]] = []
    inside = False
    for tag, value in message["pairs"]:
        if tag == count_tag:
            inside = True
        elif inside and tag == delimiter:
            out.append({tag: value})
        elif inside and out and tag not in out[-1] and tag != 10:
            out[-1][tag] = value
    return out


def test_security_list_carries_the_option_fields(fix_venue: FixVenue) -> None:
    md = fix_venue.client("MD1")
    try:
        md.logon()
        md.send("x", [(320, "sl-1"), (559, "4"), (167, "OPT")])
        first = md.app("y", t320="sl-1")
        assert first["fields"]["560"] == "0"
        total = int(first["fields"]["393"])
        options = fix_venue.venue.sequencer.instruments
        assert total == sum(1 for i in options.values() if i.is_option and i.active)
        rows = entries(first, 146, 55)
        row = rows[0]
        inst = options[row[55]]
        assert row[167] == "OPT" and row[311] == inst.underlying and row[201] in ("0", "1")
        assert row[202] == str(inst.spec.strike) and row[541] == inst.symbol.split("-")[1][:0] + row[541]
        assert row[969] == str(inst.spec.tick_size) and row[231] == str(inst.spec.multiplier)
        md.send("x", [(320, "sl-2"), (559, "0"), (55, "BTC-PERP")])
        perp = md.app("y", t320="sl-2")
        assert entries(perp, 146, 55)[0][167] == "FUT"
        md.send("x", [(320, "sl-3"), (559, "0"), (55, "NOPE")])
        assert md.app("y", t320="sl-3")["fields"]["560"] == "2"
    finally:
        md.close()


def test_market_data_snapshot_incremental_unsubscribe_and_rejects(fix_venue: FixVenue) -> None:
    md, hf1, hf2 = fix_venue.client("MD1"), fix_venue.client("HF1"), fix_venue.client("HF2")
    try:
        for c in (md, hf1, hf2):
            c.logon()
        hf1.send("D", order("mdb-1", "1", "1", "99000"))
        hf1.app("8", t11="mdb-1", t150="0")
        md.send("V", [(262, "md-1"), (263, "1"), (264, "5"), (265, "1"), (267, "3"), (269, "0"), (269, "1"),
                      (269, "2"), (146, "1"), (55, "BTC-PERP")])  # fmt: skip
        snap = md.app("W", t262="md-1")
        bids = [e for e in entries(snap, 268, 269) if e[269] == "0"]
        assert bids[0][270] == "99000" and bids[0][271] == "1" and bids[0][346] == "1"
        hf2.send("D", order("mda-1", "2", "2", "99500"))
        new_level = md.app("X", t262="md-1")
        change = entries(new_level, 268, 279)
        assert change == [{279: "0", 269: "1", 55: "BTC-PERP", 270: "99500", 271: "2", 346: "1"}]
        hf1.send("D", order("mdb-2", "1", "0.5", "99500", t59="3"))  # trades half the offer
        traded = entries(md.app("X", t262="md-1"), 268, 279)
        assert {279: "1", 269: "1", 55: "BTC-PERP", 270: "99500", 271: "1.5", 346: "1"} in traded
        assert any(e[269] == "2" and e[270] == "99500" and e[271] == "0.5" for e in traded)
        unsubscribe = [
            (262, "md-1"),
            (263, "2"),
            (264, "0"),
            (267, "1"),
            (269, "0"),
            (146, "1"),
            (55, "BTC-PERP"),
        ]
        md.send("V", unsubscribe)
        md.send("V", unsubscribe)  # not subscribed any more
        assert md.app("Y", t262="md-1")["fields"]["281"] == "1"
        md.send("V", [(262, "md-2"), (263, "1"), (264, "0"), (265, "1"), (267, "1"), (269, "0"), (146, "1"),
                      (55, "NOPE")])  # fmt: skip
        assert md.app("Y", t262="md-2")["fields"]["281"] == "0"
        md.send("V", [(262, "md-3"), (263, "1"), (264, "0"), (265, "0"), (267, "1"), (269, "0"), (146, "1"),
                      (55, "BTC-PERP")])  # fmt: skip
        assert md.app("Y", t262="md-3")["fields"]["281"] == "6"
    finally:
        for c in (md, hf1, hf2):
            c.close()


def test_positions_and_collateral_from_the_risk_engine(fix_venue: FixVenue) -> None:
    hf1, hf2 = fix_venue.client("HF1"), fix_venue.client("HF2")
    try:
        hf1.logon()
        hf2.logon()
        hf1.send("AN", [(710, "p-0"), (724, "0")])
        assert hf1.app("AO", t710="p-0")["fields"]["728"] == "2"  # no positions yet
        hf2.send("D", order("pos-s", "2", "0.3", "100000"))
        hf2.app("8", t11="pos-s", t150="0")
        hf1.send("D", order("pos-b", "1", "0.3", "100000", t59="3"))
        hf1.app("8", t11="pos-b", t150="F")
        hf1.send("AN", [(710, "p-1"), (724, "0")])
        ack = hf1.app("AO", t710="p-1")
        assert ack["fields"]["727"] == "1" and ack["fields"]["728"] == "0"
        report = hf1.app("AP", t710="p-1")
        assert report["fields"]["55"] == "BTC-PERP" and report["fields"]["704"] == "0.3"
        assert report["fields"]["705"] == "0" and report["fields"]["20020"] == "100000"
        hf1.send("BB", [(909, "c-1")])
        collateral = hf1.app("BA", t909="c-1")["fields"]
        equity, im, mm = float(collateral["20010"]), float(collateral["20011"]), float(collateral["20012"])
        assert 999_000 < equity <= 1_000_000 and im > mm > 0
        assert float(collateral["20013"]) == equity - im and collateral["20014"] in ("P", "S")
        assert collateral["901"] and collateral["900"] == collateral["20010"]
    finally:
        hf1.close()
        hf2.close()


def test_order_status_mass_status_and_mass_cancel(fix_venue: FixVenue) -> None:
    hf1 = fix_venue.client("HF1")
    try:
        hf1.logon()
        for n in range(3):
            hf1.send("D", order(f"mc-{n}", "1", "0.1", str(95000 + n)))
            hf1.app("8", t11=f"mc-{n}", t150="0")
        hf1.send("H", [(11, "mc-1"), (55, "BTC-PERP"), (54, "1"), (790, "st-1")])
        status = hf1.app("8", t11="mc-1", t150="I")
        assert status["fields"]["39"] == "0" and status["fields"]["790"] == "st-1"
        hf1.send("AF", [(584, "ms-1"), (585, "7")])
        reports = [hf1.app("8", t584="ms-1") for _ in range(3)]
        assert sorted(r["fields"]["11"] for r in reports) == ["mc-0", "mc-1", "mc-2"]
        assert all(r["fields"]["911"] == "3" for r in reports)
        assert sum(1 for r in reports if r["fields"].get("912") == "Y") == 1
        hf1.send("q", [(11, "mass-1"), (530, "7"), (60, now())])
        done = hf1.app("r", t11="mass-1")
        assert done["fields"]["531"] == "7" and done["fields"]["533"] == "3"
        cancelled = [hf1.app("8", t150="4") for _ in range(3)]
        assert {c["fields"]["11"] for c in cancelled} == {"mc-0", "mc-1", "mc-2"}
        hf1.send("H", [(11, "mc-1"), (55, "BTC-PERP"), (54, "1")])
        after = hf1.app("8", t11="mc-1", t150="I")
        assert after["fields"]["39"] == "4"  # from the records: cancelled
        hf1.send("H", [(11, "never"), (55, "BTC-PERP"), (54, "1")])
        unknown = hf1.app("8", t11="never", t150="I")
        assert unknown["fields"]["39"] == "8" and unknown["fields"]["103"] == "5"
    finally:
        hf1.close()


def _client_ok(client: FixClient) -> None:
    client.logon()
