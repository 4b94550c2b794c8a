"""The embedded default: the same artifacts on an in-process EVM (eth-tester with py-evm), no node."""

from __future__ import annotations

from web3 import EthereumTesterProvider, Web3

from contracts.loader import deploy
from settlement.merkle import AccountState, MerkleTree

MICRO = 1_000_000


def test_vault_smoke_on_the_in_process_evm() -> None:
    provider = EthereumTesterProvider()
    w3 = Web3(provider)
    w3.middleware_onion.remove("validation")
    owner, operator, guardian, alice = w3.eth.accounts[:4]
    token = deploy(w3, "CollateralToken", sender=owner)
    vault = deploy(w3, "Vault", token.address, 60, operator, guardian, sender=owner)

    def tx(call: object, sender: str) -> None:
        receipt = w3.eth.wait_for_transaction_receipt(call.transact({"from": sender}))  # type: ignore[attr-defined]
        assert receipt["status"] == 1

    tx(token.functions.mint(alice, 100 * MICRO), owner)
    tx(token.functions.approve(vault.address, 100 * MICRO), alice)
    tx(vault.functions.deposit(100 * MICRO), alice)
    tree = MerkleTree([AccountState(alice, 100 * MICRO, 100 * MICRO)])
    tx(vault.functions.settleBatch(1, [], [], [], tree.root, b"\x01" * 32, 100 * MICRO), operator)
    tx(vault.functions.requestWithdrawal(40 * MICRO), alice)
    tree = MerkleTree([AccountState(alice, 60 * MICRO, 60 * MICRO)])  # after the 40 served
    tx(vault.functions.settleBatch(2, [], [], [1], tree.root, b"\x01" * 32, 60 * MICRO), operator)
    assert token.functions.balanceOf(alice).call() == 40 * MICRO
    # the escape hatch: an unserved request, time passes, anyone freezes, alice exits with her proof
    tx(vault.functions.requestWithdrawal(10 * MICRO), alice)
    now = w3.eth.get_block("latest")["timestamp"]
    provider.ethereum_tester.time_travel(now + 61)
    tx(vault.functions.freeze(2), owner)
    tx(vault.functions.exit(60 * MICRO, 60 * MICRO, b"\x00" * 32, tree.proof(alice)), alice)
    assert token.functions.balanceOf(alice).call() == 100 * MICRO  # 40 served + 60 on exit
    assert token.functions.balanceOf(vault.address).call() == 0
