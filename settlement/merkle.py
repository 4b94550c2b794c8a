"""The account-state Merkle tree the vault's exits are proven against (contracts/src/Vault.sol).

Leaf of an account: keccak256(keccak256(abi.encode(address account, uint256 collateral, uint256 equity,
bytes32 positionsHash))) (hashed twice, so a leaf can never pass for an inner node). Inner nodes hash
their two children in sorted order (OpenZeppelin's MerkleProof convention), so a proof is just the
siblings from leaf to root. Leaves are sorted before the tree is built; an odd node moves up unpaired.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_abi.abi import encode
from web3 import Web3

keccak = Web3.keccak
to_checksum_address = Web3.to_checksum_address


@dataclass(frozen=True, slots=True)
class AccountState:
    """What the root commits to per account: token units (6 decimals) and a hash of its positions."""

    account: str
    collateral: int
    equity: int  # never negative in a leaf: an insolvent account exits with nothing
    positions_hash: bytes = b"\x00" * 32

    def leaf(self) -> bytes:
        inner = keccak(
            encode(
                ["address", "uint256", "uint256", "bytes32"],
                [to_checksum_address(self.account), self.collateral, self.equity, self.positions_hash],
            )
        )
        return keccak(inner)


def _pair(a: bytes, b: bytes) -> bytes:
    return keccak(a + b) if a < b else keccak(b + a)


class MerkleTree:
    """A tree over account states; ``root`` and ``proof(account)``."""

    def __init__(self, states: Sequence[AccountState]) -> None:
        if not states:
            raise ValueError("a tree needs at least one account")
        self.states = {to_checksum_address(s.account): s for s in states}
        leaves = sorted(s.leaf() for s in states)
        self.levels: list[list[bytes]] = [leaves]
        while len(self.levels[-1]) > 1:
            level = self.levels[-1]
            nxt = [_pair(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            self.levels.append(nxt)

    @property
    def root(self) -> bytes:
        return self.levels[-1][0]

    def proof(self, account: str) -> list[bytes]:
        """Siblings from the account's leaf to the root; KeyError for an account not in the tree."""
        leaf = self.states[to_checksum_address(account)].leaf()
        index = self.levels[0].index(leaf)
        proof = []
        for level in self.levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                proof.append(level[sibling])
            index //= 2
        return proof
