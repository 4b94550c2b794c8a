"""A real anvil (npm @foundry-rs/anvil, installed by `make install` under contracts/node_modules) on a
free loopback port, and web3 8 connected to it; each test gets the vault and token freshly deployed."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from web3 import Web3
from web3.contract import Contract

from contracts.loader import deploy

ANVIL = Path(__file__).resolve().parents[2] / "contracts/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
EXIT_TIMEOUT = 60  # seconds; days in production
MICRO = 1_000_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def anvil() -> Iterator[Web3]:
    if not ANVIL.exists():
        pytest.fail(f"anvil not installed at {ANVIL}: run `make install`")
    port = free_port()
    proc = subprocess.Popen(
        [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--silent"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}"))
    w3.middleware_onion.remove("validation")
    deadline = time.monotonic() + 15
    while not w3.is_connected():
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("anvil did not start")
        time.sleep(0.05)
    try:
        yield w3
    finally:
        proc.terminate()
        proc.wait(timeout=10)


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
