"""`venue bench settlement-gas`: gas of the vault's settleBatch against batch size, on a real anvil.

Every touched account already holds a balance (a second write to a storage slot, the steady state of
a venue), and the deltas sum to zero. ``gas_single_trade`` settles one trade per transaction (buyer,
seller and the fee account); ``gas_ratio`` = ``gas_per_account_1000`` / ``gas_single_trade`` is what
netting many accounts into one batch costs per account relative to settling trade by trade (target
<= 0.1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from web3 import Web3
from web3.contract import Contract

from contracts.anvil import local_anvil
from contracts.loader import deploy

SIZES = (1, 10, 100, 1_000)


def _batch_gas(w3: Web3, vault: Contract, operator: str, batch_id: int, accounts: Sequence[str]) -> int:
    n = len(accounts)
    deltas = [(-1) ** i * 1_000 for i in range(n)]
    if n % 2:
        deltas[-1] = 0 if n == 1 else deltas[-1] - sum(deltas)
    root = Web3.keccak(batch_id.to_bytes(32, "big"))
    call = vault.functions.settleBatch(batch_id, accounts, deltas, [], root, root, 10**12)
    receipt = w3.eth.wait_for_transaction_receipt(call.transact({"from": operator, "gas": 60_000_000}))
    assert receipt["status"] == 1
    return int(receipt["gasUsed"])


def run() -> dict[str, Any]:
    with local_anvil("--gas-limit", "100000000") as w3:
        owner, operator, guardian, fees = list(w3.eth.accounts)[:4]
        token = deploy(w3, "CollateralToken", sender=owner)
        vault = deploy(w3, "Vault", token.address, 86_400, operator, guardian, sender=owner)
        total = max(SIZES) + 2
        accounts = [Web3.to_checksum_address(Web3.keccak(text=f"account {i}")[:20]) for i in range(total)]
        token.functions.mint(owner, 10**15).transact({"from": owner})
        token.functions.approve(vault.address, 2**256 - 1).transact({"from": owner})
        for account in [*accounts, fees]:  # every account starts with a balance
            vault.functions.depositFor(account, 10**6).transact({"from": owner})
        batch = 0
        result: dict[str, Any] = {}
        for n in SIZES:
            batch += 1
            result[f"gas_batch_{n}"] = _batch_gas(w3, vault, operator, batch, accounts[:n])
        batch += 1
        buyer, seller = accounts[-2:]
        trade = vault.functions.settleBatch(
            batch, [buyer, seller, fees], [-1_050, 1_000, 50], [], b"\x01" * 32, b"\x02" * 32, 10**12
        )
        receipt = w3.eth.wait_for_transaction_receipt(trade.transact({"from": operator}))
        result["gas_single_trade"] = int(receipt["gasUsed"])
        result["gas_per_account_1000"] = round(result["gas_batch_1000"] / 1000)
        result["gas_ratio"] = round(result["gas_per_account_1000"] / result["gas_single_trade"], 4)
        result["target_gas_ratio"] = 0.1
        return result
