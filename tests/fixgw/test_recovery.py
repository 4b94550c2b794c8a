"""Sequence numbers and the message store across reconnects and venue restarts; PossResend; resets."""

from __future__ import annotations

import time
from pathlib import Path

from config.settings import VenueSettings
from matching.commands import Deposit
from tests.fixgw.conftest import FixVenue, start
from tests.fixgw.harness import now
from tests.fixgw.raw import RawSession, frame, logon
from tests.fixgw.test_orders import order


def test_reports_missed_while_away_are_resent_with_poss_dup_even_across_a_venue_restart(
    fix_settings: VenueSettings, tmp_path: Path
) -> None:
    store = tmp_path / "mm1-store"
    runs = start(fix_settings, tmp_path)
    venue = next(runs)
    mm1 = venue.client("MM1", store=store)
    mm1.logon()
    mm1.send("D", order("rest-1", "2", "1", "100000"))
    assert mm1.app("8", t11="rest-1", t150="0")["fields"]["39"] == "0"
    mm1.kill()  # MM1 has no cancel-on-disconnect: its order stays
    hf2 = venue.client("HF2")
    hf2.logon()
    hf2.send("D", order("take-1", "1", "0.4", "100000", t59="3"))
    hf2.app("8", t11="take-1", t150="F")
    hf2.close()
    runs.close()  # the venue stops: journal flushed, acceptor stopped
    restarted = start(fix_settings, tmp_path, fund=False)
    again = next(restarted)
    # MM1 has not logged on since the restart when its order trades again
    hf2 = again.client("HF2")
    hf2.logon()
    hf2.send("D", order("take-2", "1", "0.1", "100000", t59="3"))
    hf2.app("8", t11="take-2", t150="F")
    hf2.close()
    mm1 = again.client("MM1", store=store)  # same store: sequence numbers continue
    try:
        mm1.logon()
        fills = [mm1.app("8", t11="rest-1", t150="F", timeout=15) for _ in range(2)]
        assert all(fill["fields"].get("43") == "Y" for fill in fills)  # resent, with PossDupFlag
        assert sorted(fill["fields"]["32"] for fill in fills) == ["0.1", "0.4"]
        assert {fill["fields"]["14"] for fill in fills} == {"0.4", "0.5"}
        mm1.send("D", order("rest-2", "2", "1", "100010"))
        assert mm1.app("8", t11="rest-2", t150="0")["fields"].get("43") is None
    finally:
        mm1.close()
        restarted.close()


def test_an_order_resent_with_poss_resend_is_not_executed_twice(fix_venue: FixVenue) -> None:
    mm1 = fix_venue.client("MM1")
    try:
        mm1.logon()
        mm1.send("D", order("dup-1", "1", "0.1", "90000"))
        first = mm1.app("8", t11="dup-1", t150="0")
        mm1.send("D", order("dup-1", "1", "0.1", "90000"), header=[(97, "Y")])
        status = mm1.app("8", t11="dup-1", t150="I")
        assert status["fields"]["37"] == first["fields"]["37"] and status["fields"]["39"] == "0"
        model = fix_venue.venue.readmodel.accounts["MM1"]
        assert [o.client_order_id for o in model.orders.values()].count("dup-1") == 1
        # replaced, then cancelled: a late PossResend of the original order still is not executed
        mm1.send("G", [(11, "dup-1b"), (41, "dup-1"), (55, "BTC-PERP"), (54, "1"), (38, "0.2"), (40, "2"),
                       (44, "90001"), (60, now())])  # fmt: skip
        mm1.app("8", t11="dup-1b", t150="5")
        mm1.send("F", [(11, "dup-1c"), (41, "dup-1b"), (55, "BTC-PERP"), (54, "1"), (60, now())])
        mm1.app("8", t11="dup-1c", t150="4")
        mm1.send("D", order("dup-1", "1", "0.1", "90000"), header=[(97, "Y")])
        late = mm1.app("8", t11="dup-1b", t150="I")
        assert late["fields"]["39"] == "4" and late["fields"]["37"] == first["fields"]["37"]
        # a PossResend order the venue never saw is executed
        mm1.send("D", order("dup-2", "1", "0.1", "90000"), header=[(97, "Y")])
        assert mm1.app("8", t11="dup-2", t150="0")["fields"]["39"] == "0"
    finally:
        mm1.close()


def test_sequence_reset_and_reset_on_logon(fix_venue: FixVenue) -> None:
    raw = RawSession(fix_venue.port)
    try:
        raw.send(logon("HF2", "demo-hf2"))
        assert raw.read_messages(1.5)[0][35] == "A"
        raw.send(frame("4", [(36, "20")], 2, "HF2"))  # SequenceReset-Reset: next expected is 20
        raw.send(frame("D", [(11, "sr-1"), (55, "BTC-PERP"), (54, "1"), (38, "0.1"), (40, "2"), (44, "90000"),
                             (60, now())], 20, "HF2"))  # fmt: skip
        replies = raw.read_messages(2.0)
        assert any(m.get(35) == "8" and m.get(11) == "sr-1" and m.get(150) == "0" for m in replies)
    finally:
        raw.close()
    # a logon with ResetSeqNumFlag starts both sides at 1 again (once HF2's cancel-on-disconnect report,
    # stored for it while it was away, has been sent: otherwise it takes number 1 after the reset)
    time.sleep(1.0)
    raw = RawSession(fix_venue.port)
    try:
        raw.send(logon("HF2", "demo-hf2", reset=True))
        answer = raw.read_messages(1.5)[0]
        assert answer[35] == "A" and answer[34] == "1" and answer.get(141) == "Y"
    finally:
        raw.close()


def _deposit(venue: FixVenue, account: str) -> None:
    venue.submit(Deposit(account=account, amount_micro=1, reference=f"x-{account}"))
