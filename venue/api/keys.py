"""API keys with roles, stored hashed in a TOML file.

A key is shown once, at creation: ``vk_<id>.<secret>``. The file keeps only the id, the SHA-256 of
the secret (a 256-bit random secret needs no salt or slow hash), the roles, the accounts the key may
act for (empty: any, for risk officers and admins) and its rate limit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tomllib
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Role(StrEnum):
    TRADER = "trader"
    MARKET_MAKER = "market_maker"
    RISK_OFFICER = "risk_officer"
    ADMIN = "admin"


TRADING_ROLES = frozenset({Role.TRADER, Role.MARKET_MAKER, Role.ADMIN})
READING_ROLES = frozenset({Role.TRADER, Role.MARKET_MAKER, Role.RISK_OFFICER, Role.ADMIN})
OVERSIGHT_ROLES = frozenset({Role.RISK_OFFICER, Role.ADMIN})  # may read every account


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    secret_sha256: str
    roles: frozenset[Role]
    accounts: frozenset[str]
    rate_per_s: float = 20.0
    burst: int = 40

    def may_act_for(self, account: str) -> bool:
        return not self.accounts or account in self.accounts


class KeyStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.keys: dict[str, ApiKey] = {}
        self._loaded_ns = -1  # the file's mtime when last read
        if path.exists():
            self.load()

    def load(self) -> None:
        with self.path.open("rb") as handle:
            self._loaded_ns = os.fstat(handle.fileno()).st_mtime_ns
            data = tomllib.load(handle)
        self.keys = {
            entry["id"]: ApiKey(
                entry["id"],
                entry["secret_sha256"],
                frozenset(Role(r) for r in entry["roles"]),
                frozenset(entry.get("accounts", [])),
                float(entry.get("rate_per_s", 20.0)),
                int(entry.get("burst", 40)),
            )
            for entry in data.get("keys", [])
        }

    def verify(self, token: str) -> ApiKey | None:
        """The key a presented token belongs to, or None (constant-time comparison of the hash)."""
        if not token.startswith("vk_") or "." not in token:
            return None
        key_id, secret = token[3:].split(".", 1)
        key = self.keys.get(key_id)
        if key is None and self._changed():  # `venue keys create` ran while the venue was up
            self.load()
            key = self.keys.get(key_id)
        if key is None:
            return None
        digest = hashlib.sha256(secret.encode()).hexdigest()
        return key if hmac.compare_digest(digest, key.secret_sha256) else None

    def _changed(self) -> bool:
        try:
            return self.path.stat().st_mtime_ns != self._loaded_ns
        except OSError:
            return False

    def create(
        self, roles: set[Role], accounts: set[str], rate_per_s: float = 20.0, burst: int = 40
    ) -> tuple[str, ApiKey]:
        """Make a key, append it to the file, return (token to hand over once, the stored key)."""
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        key = ApiKey(
            key_id,
            hashlib.sha256(secret.encode()).hexdigest(),
            frozenset(roles),
            frozenset(accounts),
            rate_per_s,
            burst,
        )
        self.keys[key_id] = key
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # JSON strings and arrays of strings are valid TOML, escaping included
        with self.path.open("a") as handle:
            handle.write(
                f"\n[[keys]]\nid = {json.dumps(key_id)}\nsecret_sha256 = {json.dumps(key.secret_sha256)}\n"
                f"roles = {json.dumps(sorted(str(r) for r in roles))}\n"
                f"accounts = {json.dumps(sorted(accounts))}\nrate_per_s = {rate_per_s}\nburst = {burst}\n"
            )
        return f"vk_{key_id}.{secret}", key
