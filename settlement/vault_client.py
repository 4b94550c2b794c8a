"""The vault on chain, as the settlement service uses it: blocking web3 8 calls (run them in a thread
from async code).

Transactions come from the operator: signed here with its key when one is given (production), else
sent by the node from its unlocked account (anvil, the in-process EVM). Fees are EIP-1559: the cap is
twice the latest base fee plus the tip, and a replacement raises both by ``bump`` (nodes refuse a
replacement under +10 %). Gas is the node's estimate plus a margin, so a batch that would revert
(``BadBatchId``, ``NegativeBalance``, paused) fails at estimation with its reason, before it costs gas.
Network failures surface as ``ChainUnavailable``; a call the vault refuses as ``VaultRefused``. Sends
are serialised (one lock), so the batch stage and relayed withdrawals never race for a nonce.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import requests
from eth_abi.abi import decode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError, TimeExhausted, TransactionNotFound

from settlement.merkle import AccountState

GAS_MARGIN = 1.25


class ChainUnavailable(ConnectionError):
    """The node did not answer (down, unreachable, timing out)."""


class VaultRefused(RuntimeError):
    """The vault refuses the call (a revert at estimation or on chain); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Sent:
    tx_hash: str
    nonce: int
    max_fee_wei: int
    tip_wei: int


@dataclass(frozen=True, slots=True)
class Mined:
    tx_hash: str
    block: int
    status: int  # 1 success, 0 reverted
    gas_used: int


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One vault event: where it is (block, transaction, log index) and its arguments."""

    name: str
    block: int
    block_hash: str
    tx_hash: str
    log_index: int
    args: dict[str, Any]

    @property
    def reference(self) -> str:
        """Unique per event on a chain: ``tx_hash:log_index`` (the Deposit command's reference)."""
        return f"{self.tx_hash}:{self.log_index}"


def _unavailable(exc: Exception) -> bool:
    return isinstance(
        exc, (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError, OSError)
    )


class VaultClient:
    def __init__(
        self, w3: Web3, vault: Contract, operator: str, key: str | None = None, bump: float = 1.25
    ) -> None:
        self.w3 = w3
        self.vault = vault
        self.signer: LocalAccount | None = Account.from_key(key) if key else None
        self.operator = Web3.to_checksum_address(self.signer.address if self.signer else operator)
        self.bump = bump
        self._sending = threading.Lock()

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (ContractLogicError, ContractCustomError, TransactionNotFound, TimeExhausted):
            raise
        except Exception as exc:
            if _unavailable(exc):
                raise ChainUnavailable(str(exc)) from exc
            raise

    # -- reads --------------------------------------------------------------------------------------

    def head(self) -> int:
        return int(self._call(lambda: self.w3.eth.block_number))

    def last_batch_id(self, block: int | str = "latest") -> int:
        return int(self._call(self.vault.functions.lastBatchId().call, block_identifier=block))

    def balance(self, address: str, block: int | str = "latest") -> int:
        return int(self._call(self.vault.functions.balance(address).call, block_identifier=block))

    def pending_of(self, address: str, block: int | str = "latest") -> int:
        """What ``address``'s unserved withdrawal requests ask for (token units; still in its balance)."""
        return int(self._call(self.vault.functions.pendingOf(address).call, block_identifier=block))

    def requested_at(self, request_id: int) -> int:
        """When withdrawal request ``request_id`` was made (chain seconds); 0 if unknown."""
        return int(self._call(self.vault.functions.withdrawals(request_id).call)[2])

    def request_closed(self, request_id: int) -> bool:
        """True once request ``request_id`` was served or rejected."""
        return bool(self._call(self.vault.functions.withdrawals(request_id).call)[3])

    def exit_timeout(self) -> int:
        return int(self._call(self.vault.functions.exitTimeout().call))

    def chain_time(self) -> int:
        """The latest block's timestamp: the clock the vault's exit timeout runs on."""
        return int(self._call(self.w3.eth.get_block, "latest")["timestamp"])

    def receipt(self, tx_hash: str) -> Mined | None:
        try:
            r = self._call(self.w3.eth.get_transaction_receipt, tx_hash)
        except TransactionNotFound:
            return None
        return Mined(tx_hash, int(r["blockNumber"]), int(r["status"]), int(r["gasUsed"]))

    def block_hash(self, block: int) -> str:
        return str(self._call(self.w3.eth.get_block, block)["hash"].to_0x_hex())

    def logs(self, event: str, from_block: int, to_block: int) -> list[LogEntry]:
        """Every ``event`` the vault emitted in blocks ``from_block..to_block`` (both included)."""
        if to_block < from_block:
            return []
        entries = self._call(
            getattr(self.vault.events, event)().get_logs, from_block=from_block, to_block=to_block
        )
        return [
            LogEntry(
                event,
                int(e["blockNumber"]),
                e["blockHash"].to_0x_hex(),
                e["transactionHash"].to_0x_hex(),
                int(e["logIndex"]),
                dict(e["args"]),
            )
            for e in entries
        ]

    def settled_batch(self, batch_id: int, from_block: int = 0) -> LogEntry | None:
        """The BatchSettled event of ``batch_id``, if the vault has it."""
        entries = self._call(
            self.vault.events.BatchSettled().get_logs,
            from_block=from_block,
            to_block="latest",
            argument_filters={"batchId": batch_id},
        )
        for e in entries:
            return LogEntry(
                "BatchSettled",
                int(e["blockNumber"]),
                e["blockHash"].to_0x_hex(),
                e["transactionHash"].to_0x_hex(),
                int(e["logIndex"]),
                dict(e["args"]),
            )
        return None

    # -- writes -------------------------------------------------------------------------------------

    def fees(self, previous: Sent | None = None) -> tuple[int, int]:
        """(max fee, tip) in wei: fresh, or ``previous`` bumped by ``bump`` (and never below fresh)."""
        block = self._call(self.w3.eth.get_block, "latest")
        base = int(block.get("baseFeePerGas", 0) or 0)
        tip = int(self._call(lambda: self.w3.eth.max_priority_fee))
        fresh = (2 * base + tip, tip)
        if previous is None:
            return fresh
        bumped_tip = max(int(previous.tip_wei * self.bump) + 1, tip)
        return max(int(previous.max_fee_wei * self.bump) + 1, fresh[0], bumped_tip), bumped_tip

    def settle_batch(
        self,
        batch_id: int,
        accounts: Sequence[str],
        deltas: Sequence[int],
        serve: Sequence[int],
        root: bytes,
        marks: bytes,
        equity: int,
        replacing: Sent | None = None,
    ) -> Sent:
        """Send ``settleBatch`` (a new nonce, or ``replacing``'s with bumped fees); raises
        ``VaultRefused`` when the vault would revert it."""
        call = self.vault.functions.settleBatch(
            batch_id, list(accounts), list(deltas), list(serve), root, marks, equity
        )
        return self._send(call, replacing)

    def request_withdrawal_with_sig(
        self, account: str, amount: int, deadline: int, v: int, r: bytes, s: bytes, timeout_s: float = 60.0
    ) -> tuple[str, int]:
        """Relay a wallet's signed withdrawal request and wait for it to be mined: (tx hash, request
        id). ``VaultRefused`` when the vault refuses it (bad signature, expired, balance short)."""
        call = self.vault.functions.requestWithdrawalWithSig(account, amount, deadline, v, r, s)
        sent = self._send(call, None)
        receipt = self._call(self.w3.eth.wait_for_transaction_receipt, sent.tx_hash, timeout=timeout_s)
        if int(receipt["status"]) != 1:
            raise VaultRefused(f"transaction {sent.tx_hash} reverted")
        (event,) = self.vault.events.WithdrawalRequested().process_receipt(receipt)
        return sent.tx_hash, int(event["args"]["id"])

    def reject_withdrawal(
        self, request_id: int, state: AccountState, proof: Sequence[bytes], timeout_s: float = 60.0
    ) -> str:
        """Refuse a request beyond what the account may withdraw (its collateral, capped at its equity,
        plus deposits after the batch), proven by ``state`` and ``proof`` against the current root;
        waits for it to be mined. ``VaultRefused`` (``CoveredByEquity``, ``BadProof``) when the vault
        does not agree."""
        call = self.vault.functions.rejectWithdrawal(
            request_id, state.collateral, state.equity, state.positions_hash, list(proof)
        )
        sent = self._send(call, None)
        receipt = self._call(self.w3.eth.wait_for_transaction_receipt, sent.tx_hash, timeout=timeout_s)
        if int(receipt["status"]) != 1:
            raise VaultRefused(f"transaction {sent.tx_hash} reverted")
        return sent.tx_hash

    def _send(self, call: Any, replacing: Sent | None) -> Sent:
        with self._sending:
            return self._send_locked(call, replacing)

    def _send_locked(self, call: Any, replacing: Sent | None) -> Sent:
        try:
            gas = int(self._call(call.estimate_gas, {"from": self.operator}) * GAS_MARGIN)
        except (ContractLogicError, ContractCustomError) as exc:
            raise VaultRefused(_revert_reason(self.vault, exc)) from exc
        max_fee, tip = self.fees(replacing)
        nonce = (
            replacing.nonce
            if replacing is not None
            else int(self._call(self.w3.eth.get_transaction_count, self.operator, "pending"))
        )
        tx: dict[str, Any] = {
            "from": self.operator,
            "nonce": nonce,
            "gas": gas,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": tip,
            "chainId": int(self._call(lambda: self.w3.eth.chain_id)),
        }
        built = call.build_transaction(tx)
        if self.signer is not None:
            signed = self.signer.sign_transaction(built)
            tx_hash = self._call(self.w3.eth.send_raw_transaction, signed.raw_transaction)
        else:
            tx_hash = self._call(self.w3.eth.send_transaction, built)
        return Sent(tx_hash.to_0x_hex(), nonce, max_fee, tip)


def _revert_reason(vault: Contract, exc: Exception) -> str:
    """The vault's custom error by name where it can be decoded (``BadBatchId(3, 5)``), else the text."""
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        selector = data[:10]
        for item in cast(list[dict[str, Any]], vault.abi):
            if item.get("type") != "error":
                continue
            types = [i["type"] for i in item.get("inputs", [])]
            signature = f"{item['name']}({','.join(types)})"
            if Web3.keccak(text=signature)[:4].to_0x_hex() == selector:
                values = decode(types, bytes.fromhex(data[10:])) if types else ()
                return f"{item['name']}({', '.join(str(v) for v in values)})"
    return str(exc)
