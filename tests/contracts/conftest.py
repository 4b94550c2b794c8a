"""A real anvil on a free loopback port (contracts.anvil) for the session; each test gets the vault
and token freshly deployed, and the chain reverted to a snapshot afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from web3 import Web3
from web3.contract import Contract

from contracts.anvil import AnvilError, local_anvil
from contracts.loader import deploy

EXIT_TIMEOUT = 60  # seconds; days in production
MICRO = 1_000_000


@pytest.fixture(scope="session")
def anvil() -> Iterator[Web3]:
    try:
        with local_anvil() as w3:
            yield w3
    except AnvilError as exc:
        pytest.fail(str(exc))


@dataclass
class Chain:
    w3: Web3
    token: Contract
    vault: Contract
    owner: str
    operator: str
    guardian: str
    users: list[str]

    def tx(self, call: object, sender: str) -> dict:  # type: ignore[type-arg]
        tx_hash = call.transact({"from": sender})  # type: ignore[attr-defined]
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash)
        assert receipt["status"] == 1
        return dict(receipt)

    def fund(self, user: str, amount: int) -> None:
        self.tx(self.token.functions.mint(user, amount), self.owner)
        self.tx(self.token.functions.approve(self.vault.address, 2**256 - 1), user)

    def travel(self, seconds: int) -> None:
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


@pytest.fixture
def chain(anvil: Web3) -> Iterator[Chain]:
    snapshot = anvil.provider.make_request("evm_snapshot", [])  # type: ignore[arg-type]
    owner, operator, guardian, *users = anvil.eth.accounts
    token = deploy(anvil, "CollateralToken", sender=owner)
    vault = deploy(anvil, "Vault", token.address, EXIT_TIMEOUT, operator, guardian, sender=owner)
    yield Chain(anvil, token, vault, owner, operator, guardian, users[:5])
    anvil.provider.make_request("evm_revert", [snapshot["result"]])  # type: ignore[arg-type]
