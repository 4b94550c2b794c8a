"""Withdrawals signed by a wallet, exit proofs and the settlement status over REST, on anvil; and the
escape hatch: the proof the API served before the venue stopped takes the money out without it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from settlement.service import SettlementService
from settlement.withdrawal_sig import sign
from tests.contracts.conftest import EXIT_TIMEOUT, Chain, anvil, chain
from tests.settlement.chain_venue import USDC, deposit_on_chain, marks, settings_for, trade_perp
from venue.api.app import create_app
from venue.api.keys import KeyStore, Role

__all__ = ["anvil", "chain"]


@pytest.fixture
def wallet(chain: Chain) -> Iterator[Any]:
    """A fresh wallet whose key the test holds, with gas, 10,000 USDC deposited from it."""
    holder = Account.create()
    rpc = chain.w3.provider.make_request  # type: ignore[attr-defined]
    rpc("anvil_setBalance", [holder.address, hex(10**19)])
    rpc("anvil_impersonateAccount", [holder.address])  # its transactions sent by the node for the test
    deposit_on_chain(chain, holder.address, 10_000 * USDC)
    yield holder
    rpc("anvil_stopImpersonatingAccount", [holder.address])


def wait(condition: Any, timeout_s: float = 20.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_signed_withdrawals_proofs_and_the_escape_hatch(chain: Chain, wallet: Any, tmp_path: Path) -> None:
    w, b = wallet.address, chain.users[1]
    deposit_on_chain(chain, b, 100_000 * USDC)
    settings = settings_for(chain, tmp_path / "var", settlement_interval_s=3600.0)  # cuts when told
    assert settings.api_keys_file is not None
    keys = KeyStore(settings.api_keys_file)
    own = {"X-API-Key": keys.create({Role.TRADER}, {w})[0]}
    risk = {"X-API-Key": keys.create({Role.RISK_OFFICER}, set())[0]}
    admin = {"X-API-Key": keys.create({Role.ADMIN}, set())[0]}
    vault, token = chain.vault.functions, chain.token.functions
    chain_id = chain.w3.eth.chain_id

    def signed(amount: int, key: str | None = None, nonce: int | None = None, **body: Any) -> dict[str, Any]:
        nonce = vault.nonces(w).call() if nonce is None else nonce
        deadline = int(time.time()) + 600
        signature = sign(key or wallet.key.hex(), chain_id, chain.vault.address, amount, nonce, deadline)
        return {"amount_micro": amount, "nonce": nonce, "deadline": deadline, "signature": signature, **body}

    with TestClient(create_app(settings)) as client:
        venue = client.app.state.venue  # type: ignore[attr-defined]
        settle: SettlementService = venue.settlement
        portal = client.portal
        assert portal is not None
        wait(lambda: venue.sequencer.ledger.accounts.get(w) is not None, what="the deposit credited")

        # a withdrawal the wallet signed: on chain at once, paid by the next batch
        before = token.balanceOf(w).call()
        answer = client.post(f"/accounts/{w}/withdrawals", json=signed(2_000 * USDC))
        assert answer.status_code == 202, answer.text
        assert answer.json()["request_id"] == 1 and answer.json()["status"] == "requested"
        wait(lambda: venue.sequencer.ledger.accounts[w].collateral == 8_000 * USDC, what="the debit")
        assert portal.call(settle.cut)
        wait(lambda: vault.pendingWithdrawals().call() == 0, what="the request served")
        assert token.balanceOf(w).call() == before + 2_000 * USDC

        # refusals, each with its reason
        stranger = Account.create().key.hex()
        assert client.post(f"/accounts/{w}/withdrawals", json=signed(USDC, stranger)).json()["code"] == (
            "bad_signature"
        )
        assert client.post(f"/accounts/{w}/withdrawals", json=signed(USDC, nonce=7)).json()["code"] == (
            "wrong_nonce"
        )
        too_much = client.post(f"/accounts/{w}/withdrawals", json=signed(9_000 * USDC))
        assert too_much.status_code == 422 and too_much.json()["code"] == "insufficient_funds"
        assert client.post("/accounts/fees/withdrawals", json=signed(USDC)).status_code == 403
        assert client.post(f"/accounts/{w}/withdrawals", json={"amount_micro": -1}).status_code == 422
        credit = {"account": w, "amount": "1", "reference": "x"}  # the ledger must stay the vault's
        assert (
            client.post("/admin/deposits", json=credit, headers=admin).json()["code"] == "deposits_from_chain"
        )

        # trading moves the state; the next batch commits it and the API serves the proof
        portal.call(venue.runtime.submit, marks(venue, 100_000.0))
        portal.call(trade_perp, venue, w, b, 100, 200_000, "1")  # W long 0.1 BTC
        portal.call(venue.runtime.submit, marks(venue, 102_000.0))  # +200 USD for W
        assert portal.call(settle.cut)
        wait(lambda: settle.stats.batches_confirmed == 2, what="batch 2 confirmed")
        status = client.get("/settlement", headers=risk).json()
        assert status["batches_confirmed"] == 2 and status["alarm"] is None and status["chain_up"]
        assert client.get(f"/accounts/{w}/proof").status_code == 401
        proof = client.get(f"/accounts/{w}/proof", headers=own).json()
        assert proof["batch_id"] == 2 and proof["state_root"] == "0x" + vault.stateRoot().call().hex()
        account = venue.sequencer.ledger.accounts[w]
        assert proof["collateral_micro"] == account.collateral
        assert proof["equity_micro"] == account.collateral  # the cut realised the perp at its mark

    # the venue is gone; the wallet asks on chain, nobody serves it, anyone freezes, the wallet exits
    chain.tx(vault.requestWithdrawal(1), w)
    chain.travel(EXIT_TIMEOUT + 1)
    chain.tx(vault.freeze(2), b)
    before = token.balanceOf(w).call()
    chain.tx(
        vault.exit(
            proof["collateral_micro"],
            proof["equity_micro"],
            bytes.fromhex(proof["positions_hash"][2:]),
            [bytes.fromhex(p[2:]) for p in proof["proof"]],
        ),
        w,
    )
    assert token.balanceOf(w).call() == before + proof["equity_micro"]
