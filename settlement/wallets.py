"""Which vault address holds each ledger account's collateral, and back.

- An account named by an address (``0x`` and 40 hex digits, any case) is that address: deposits from a
  wallet credit the account named by its checksum address, so a trader needs no registration.
- Other accounts (the fee account, the insurance fund, desks named in the FIX sessions file) are
  mapped in a TOML table ``[wallets]`` of ``account = "0x..."`` (``config/wallets.toml`` by default).
- An account in neither gets a derived address, keccak256("venue account:" + id)[:20]: its cash
  settles like any other (so the vault's books balance) but nobody holds that address's key, so it
  cannot exit through the escape hatch by itself. ``custodial`` names such accounts. A ``depositFor``
  to a derived address credits its account once the registry knows the name (``know``: the venue
  passes its desks, key holders and ledger accounts); to an address it cannot place, the account
  named by that address.

Errors: ``WalletError`` for a malformed address or two accounts mapped to one address.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from web3 import Web3

ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


class WalletError(ValueError):
    pass


def is_address(text: str) -> bool:
    return ADDRESS.match(text) is not None


def derived_address(account: str) -> str:
    return Web3.to_checksum_address(Web3.keccak(text=f"venue account:{account}")[:20])


class WalletRegistry:
    """Account id <-> checksum address. Lookups are cached; the registry never changes once built."""

    def __init__(self, mapping: Mapping[str, str] | None = None) -> None:
        self._address: dict[str, str] = {}
        self._account: dict[str, str] = {}
        self._discover: Callable[[], Iterable[str]] | None = None
        for account, address in (mapping or {}).items():
            if not is_address(address):
                raise WalletError(f"wallet of {account!r} is not an address: {address!r}")
            checksum = Web3.to_checksum_address(address)
            if checksum in self._account:
                raise WalletError(f"{checksum} is mapped to both {self._account[checksum]!r} and {account!r}")
            self._address[account] = checksum
            self._account[checksum] = account
        self.mapped = frozenset(self._address)

    @classmethod
    def load(cls, path: Path) -> WalletRegistry:
        """From a TOML file's ``[wallets]`` table; an absent file is an empty registry."""
        if not path.exists():
            return cls()
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        wallets = data.get("wallets", {})
        if not isinstance(wallets, dict) or not all(isinstance(v, str) for v in wallets.values()):
            raise WalletError(f"{path}: [wallets] must map account names to address strings")
        return cls(wallets)

    def address(self, account: str) -> str:
        """The vault address of ``account`` (mapped, itself, or derived)."""
        known = self._address.get(account)
        if known is None:
            known = Web3.to_checksum_address(account) if is_address(account) else derived_address(account)
            self._address[account] = known
            self._account.setdefault(known, account)
        return known

    def know(self, accounts: Iterable[str] | Callable[[], Iterable[str]]) -> None:
        """Learn the derived addresses of ``accounts`` (the venue's desks, fee and insurance accounts),
        so a ``depositFor`` to one credits that account rather than a new account named by the address.
        A callable is asked again whenever an address is not placed (accounts named after start-up)."""
        if callable(accounts):
            self._discover = accounts
            accounts = accounts()
        for account in accounts:
            self.address(account)

    def account(self, address: str) -> str:
        """The ledger account a deposit or request from ``address`` belongs to."""
        checksum = Web3.to_checksum_address(address)
        found = self._account.get(checksum)
        if found is None and self._discover is not None:
            self.know(self._discover())
            found = self._account.get(checksum)
        if found is None:  # a wallet: the account named by its address, from now on without asking
            found = self._account[checksum] = checksum
        return found

    def custodial(self, account: str) -> bool:
        """True when nobody outside the venue holds the key of ``account``'s address."""
        return account not in self.mapped and not is_address(account)
