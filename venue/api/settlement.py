"""Settlement: withdrawals signed by the account's wallet, exit proofs, and the service's state.

- ``POST /accounts/{account}/withdrawals``: the body carries an EIP-712 ``Withdrawal`` signature by the
  account's wallet (``settlement.withdrawal_sig``); no API key is needed, the signature is the
  authority. Checked here against the account's available funds under its margin mode, then relayed
  on chain (the operator pays the gas) and answered 202 with the vault's request id; the ledger
  debits it when the request is booked, and the next batch pays it out. Refusals: 400 (bad or expired
  signature, wrong nonce), 403 (a venue account with no wallet), 404 (unknown account), 409 (the vault
  holds less than the amount beyond the account's open requests until the next batch settles its
  gains; ``settlement_off`` on a venue that does not settle), 422 (beyond the available funds), 503
  (the chain down).
- ``GET /accounts/{account}/proof``: the account's leaf in the last confirmed state root and its Merkle
  path, with the exact ``exit`` call to make if the venue stops (reader access to the account).
- ``GET /settlement``: batches, the chain, the alarm (risk officers and admins);
  ``POST /admin/settlement/resume`` clears the alarm once resolved (admins).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from matching.reasons import Reason
from settlement.service import SettlementService
from settlement.vault_client import ChainUnavailable, VaultRefused
from settlement.withdrawal_sig import SignatureError, recover
from venue.api.deps import ApiError, rate_limit, reader, require, venue_of
from venue.api.errors import error, reject
from venue.api.keys import OVERSIGHT_ROLES, ApiKey, Role

router = APIRouter(tags=["settlement"])
Caller = Annotated[ApiKey | None, Depends(rate_limit)]


class WithdrawalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_micro: int = Field(gt=0, lt=2**63, description="micro-USDC (the token's 6-decimal units)")
    nonce: int = Field(ge=0, lt=2**63, description="the vault's nonces(wallet) the signature covers")
    deadline: int = Field(gt=0, lt=2**63, description="unix seconds; the vault refuses it after")
    signature: str = Field(min_length=130, max_length=132, description="0x + r || s || v (65 bytes)")


def service_of(request: Request) -> SettlementService:
    venue = venue_of(request)
    if venue.settlement is None or venue.chain is None:
        raise ApiError(error(409, "settlement_off", "this venue does not settle on a chain"))
    return venue.settlement


@router.post("/accounts/{account}/withdrawals", status_code=202)
async def withdraw(request: Request, account: str, body: WithdrawalIn, key: Caller) -> Any:
    """Withdraw to the account's wallet; answered once the request is on chain (202)."""
    settle = service_of(request)
    venue = venue_of(request)
    assert venue.chain is not None
    if settle.wallets.custodial(account):
        raise ApiError(error(403, "no_wallet", f"account {account} has no wallet to sign for it"))
    held = venue.sequencer.ledger.accounts.get(account)
    if held is None:
        raise ApiError(reject(Reason.UNKNOWN_ACCOUNT, f"unknown account {account}"))
    if body.deadline <= time.time():
        raise ApiError(error(400, "expired", "the deadline has passed"))
    address = settle.wallets.address(account)
    client = settle.client
    try:
        nonce = await _read(lambda: client.vault.functions.nonces(address).call())
        if body.nonce != nonce:
            raise ApiError(error(400, "wrong_nonce", f"the vault's next nonce for {address} is {nonce}"))
        chain_id = await _read(lambda: venue.chain.w3.eth.chain_id if venue.chain else 0)
        signed = recover(
            body.signature, chain_id, client.vault.address, address, body.amount_micro, nonce, body.deadline
        )
    except SignatureError as exc:
        raise ApiError(error(400, "bad_signature", str(exc))) from exc
    # The same check the Withdraw command makes when the request is booked (the event loop is the
    # sequencer's thread: this reads a consistent ledger).
    reason = venue.sequencer.risk.check_withdrawal(held, body.amount_micro)
    if reason:
        raise ApiError(reject(reason))
    on_chain = await _read(lambda: client.balance(address) - client.pending_of(address))
    if on_chain < body.amount_micro:
        raise ApiError(
            error(
                409,
                "vault_balance_short",
                f"the vault holds {on_chain} for {address} beyond its open requests until the next batch",
            )
        )
    try:
        tx_hash, request_id = await settle.relay_withdrawal(signed)
    except VaultRefused as exc:
        raise ApiError(error(409, "vault_refused", exc.reason)) from exc
    except ChainUnavailable as exc:
        raise ApiError(error(503, "chain_unavailable", str(exc))) from exc
    return {
        "account": account,
        "wallet": address,
        "amount_micro": body.amount_micro,
        "request_id": request_id,
        "tx_hash": tx_hash,
        "status": "requested",
        "served_by": "the next settlement batch",
    }


async def _read(fn: Callable[[], Any]) -> Any:
    """A blocking chain read off the loop; the chain down is a 503."""
    try:
        return await asyncio.to_thread(fn)
    except (ConnectionError, OSError) as exc:  # ChainUnavailable is a ConnectionError
        raise ApiError(error(503, "chain_unavailable", str(exc))) from exc


@router.get("/accounts/{account}/proof")
async def proof(request: Request, account: str, key: Caller) -> Any:
    """The account's state in the last confirmed batch and its Merkle proof, for the vault's exit."""
    reader(key, account)
    settle = service_of(request)
    found = await settle.proof(account)
    if found is None:
        raise ApiError(error(404, "no_proof", f"account {account} is in no confirmed state root yet"))
    state = found.state
    proof = [p.hex() for p in found.proof]
    return {
        "account": account,
        "wallet": state.account,
        "batch_id": found.batch_id,
        "state_root": "0x" + found.root.hex(),
        "collateral_micro": state.collateral,
        "equity_micro": state.equity,
        "positions_hash": "0x" + state.positions_hash.hex(),
        "proof": ["0x" + p for p in proof],
        "vault": settle.client.vault.address,
        "exit": {
            "function": "exit(uint256 collateral, uint256 equity, bytes32 positionsHash, bytes32[] proof)",
            "note": "callable by the wallet once the vault is frozen (a request left unserved past "
            "exitTimeout lets anyone freeze it); pays equity plus deposits made after this batch",
        },
    }


@router.get("/chain")
async def chain(request: Request) -> Any:
    """Where the venue settles (public, like a venue's published contract addresses): the chain id, the
    vault and token addresses, the exit timeout, the last settled batch and, for a local or
    configured node, its RPC URL."""
    venue = venue_of(request)
    found = venue.chain
    if found is None or venue.settlement is None:
        raise ApiError(error(409, "settlement_off", "this venue does not settle on a chain"))
    vault = found.vault.functions
    chain_id, last, timeout = await _read(
        lambda: (found.w3.eth.chain_id, vault.lastBatchId().call(), vault.exitTimeout().call())
    )
    return {
        "chain_id": int(chain_id),
        "rpc_url": found.rpc_url,
        "vault": found.vault.address,
        "token": found.token.address,
        "exit_timeout_s": int(timeout),
        "last_batch_id": int(last),
    }


@router.get("/settlement")
def status(request: Request, key: Caller) -> Any:
    require(key, OVERSIGHT_ROLES)
    stats = service_of(request).stats
    return {
        "alarm": stats.alarm or None,
        "chain_up": stats.chain_up,
        "batches_built": stats.batches_built,
        "batches_confirmed": stats.batches_confirmed,
        "last_confirmed_batch": stats.last_confirmed,
        "submissions": stats.submissions,
        "replacements": stats.replacements,
        "refusals": stats.refusals,
        "deposits_credited": stats.deposits_credited,
        "requests_debited": stats.requests_debited,
        "refused_requests": stats.refused_requests,
        "rejected_requests": stats.rejected_requests,
        "gas_used": stats.gas_used,
    }


@router.post("/admin/settlement/resume")
def resume(request: Request, key: Caller) -> Any:
    require(key, frozenset({Role.ADMIN}))
    cleared = service_of(request).resume()
    return {"cleared": cleared or None}
