"""The EIP-712 ``Withdrawal`` a wallet signs to withdraw through the venue (contracts/src/Vault.sol's
``requestWithdrawalWithSig``): domain ``VenueVault`` version ``1`` on the vault's chain and address,
message ``Withdrawal(address account, uint256 amount, uint256 nonce, uint256 deadline)``; ``amount``
in token units (micro-USDC), ``nonce`` the vault's ``nonces(account)``, ``deadline`` unix seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from web3 import Web3

SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


class SignatureError(ValueError):
    """Not a 65-byte signature, a malleable one (high s), or one that does not recover."""


@dataclass(frozen=True, slots=True)
class SignedWithdrawal:
    account: str
    amount: int
    nonce: int
    deadline: int
    v: int
    r: bytes
    s: bytes


def typed_data(
    chain_id: int, vault: str, account: str, amount: int, nonce: int, deadline: int
) -> dict[str, Any]:
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "Withdrawal": [
                {"name": "account", "type": "address"},
                {"name": "amount", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "Withdrawal",
        "domain": {
            "name": "VenueVault",
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": Web3.to_checksum_address(vault),
        },
        "message": {
            "account": Web3.to_checksum_address(account),
            "amount": amount,
            "nonce": nonce,
            "deadline": deadline,
        },
    }


def sign(key: str, chain_id: int, vault: str, amount: int, nonce: int, deadline: int) -> str:
    """A wallet's signature (0x + 130 hex digits, r || s || v) of its own withdrawal."""
    account = Account.from_key(key).address
    message = encode_typed_data(full_message=typed_data(chain_id, vault, account, amount, nonce, deadline))
    return str(Account.sign_message(message, key).signature.to_0x_hex())


def recover(
    signature: str, chain_id: int, vault: str, account: str, amount: int, nonce: int, deadline: int
) -> SignedWithdrawal:
    """Check ``signature`` is ``account``'s over this withdrawal; ``SignatureError`` otherwise."""
    try:
        raw = bytes.fromhex(signature.removeprefix("0x"))
    except ValueError as exc:
        raise SignatureError("the signature is not hex") from exc
    if len(raw) != 65:
        raise SignatureError("a signature is 65 bytes: r, s, v")
    r, s, v = raw[:32], raw[32:64], raw[64]
    v = v + 27 if v < 27 else v
    if int.from_bytes(s, "big") > SECP256K1_HALF_N or v not in (27, 28):
        raise SignatureError("malleable or malformed signature (the vault refuses high s)")
    message = encode_typed_data(full_message=typed_data(chain_id, vault, account, amount, nonce, deadline))
    try:
        signer = Account.recover_message(message, vrs=(v, r, s))
    except Exception as exc:  # eth_keys raises several kinds for a point off the curve
        raise SignatureError("the signature does not recover") from exc
    if Web3.to_checksum_address(signer) != Web3.to_checksum_address(account):
        raise SignatureError(f"signed by {signer}, not by {Web3.to_checksum_address(account)}")
    return SignedWithdrawal(Web3.to_checksum_address(account), amount, nonce, deadline, v, r, s)
