"""A forced withdrawal (an on-chain request near the vault's exit timeout): debited past the margin it
frees, never past the account's equity or collateral."""

from __future__ import annotations

from matching.commands import Withdraw
from matching.events import BalanceChanged, RequestRejected
from matching.reasons import Reason
from matching.types import TimeInForce
from tests.matching.harness import Harness, conservation, first, of

MARK = 200_000


def test_forced_goes_past_free_margin_but_not_past_equity() -> None:
    h = Harness(funds={"A": 10_000_000_000, "C": 10**13})
    h.mark(MARK)
    h.order("C", -1, 500, MARK)
    h.order("A", 1, 500, MARK, tif=TimeInForce.IOC)  # margin tied up in a 0.5 BTC long
    cash = h.cash("A")
    refused = h.do(Withdraw(account="A", amount_micro=cash, reference="w1"))
    assert first(refused, RequestRejected).reason == Reason.INSUFFICIENT_FUNDS
    beyond = h.do(Withdraw(account="A", amount_micro=cash + 1, reference="w2", forced=True))
    assert first(beyond, RequestRejected).reason == Reason.INSUFFICIENT_FUNDS
    h.mark(MARK - 100)  # a loss: equity now below collateral
    equity = cash - 500 * 100 * 500
    assert of(
        h.do(Withdraw(account="A", amount_micro=equity + 1, reference="w3", forced=True)), RequestRejected
    )
    served = h.do(Withdraw(account="A", amount_micro=equity, reference="w4", forced=True))
    assert first(served, BalanceChanged).delta_micro == -equity and h.cash("A") == cash - equity
    conservation(h.seq)
