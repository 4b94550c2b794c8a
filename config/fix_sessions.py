"""FIX sessions: who may connect to the acceptor, as what, for which accounts, with which credentials.

A TOML file (``config/fix_sessions.toml`` by default, ``VENUE_FIX_SESSIONS_FILE`` otherwise) with one
``[acceptor]`` table and one ``[[sessions]]`` entry per counterparty. The quickfix settings are
generated from it (``fixgw.quickfix_settings``); nothing about a session is configured twice.

Credentials: ``password_hash`` is ``scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>`` (make one with
``venue fix hash-password``); ``secret_env`` names the environment variable holding the secret of the
signature logon (Deribit style), which needs the secret itself, so it never lives in the file.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tomllib
from datetime import time, timedelta
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DEFAULT_SESSIONS_PATH = Path(__file__).with_name("fix_sessions.toml")
DEFAULT_DICTIONARY_PATH = Path(__file__).with_name("FIX44.xml")

# scrypt work factors: ~50 ms per logon check on these machines, so guessing is slow but logons are not
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


class SessionRole(StrEnum):
    ORDER_ENTRY = "order_entry"  # orders, order status, positions, collateral, reference data
    MARKET_DATA = "market_data"  # market data and reference data
    DROP_COPY = "drop_copy"  # receives every ExecutionReport of its accounts; positions, collateral


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AcceptorConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=9880, ge=0, le=65535)
    sender_comp_id: str = Field(default="VENUE", min_length=1, max_length=32)
    heartbeat_s: int = Field(default=30, ge=1, le=300)
    store: str = Field(default="file", pattern="^(file|memory)$")
    max_latency_s: int = Field(default=120, ge=1, description="SendingTime accuracy required of clients")
    failed_logons_before_lockout: int = Field(default=5, ge=1)
    lockout_s: float = Field(default=300.0, gt=0)
    signature_window_s: float = Field(default=60.0, gt=0, description="how old a signed logon may be")
    reset_time: time | None = Field(
        default=None,
        description=(
            "UTC time of day (HH:MM:SS) at which every session ends its FIX day: logged out, sequence "
            "numbers back to 1, message store emptied (resends reach back to the last reset only). "
            "Unset: sessions never reset on their own, and the store's index grows by about 64 bytes "
            "per message sent until a client logs on with ResetSeqNumFlag."
        ),
    )

    @field_validator("reset_time")
    @classmethod
    def _utc(cls, value: time | None) -> time | None:
        if value is not None and value.utcoffset() not in (None, timedelta(0)):
            raise ValueError("reset_time is a UTC time of day: give it without an offset")
        return value


class SessionConfig(_Strict):
    target_comp_id: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    role: SessionRole
    accounts: tuple[str, ...] = Field(min_length=1)
    username: str = Field(min_length=1, max_length=64)
    password_hash: str | None = None
    secret_env: str | None = None
    rate_per_s: float = Field(default=100.0, gt=0, description="application messages per second")
    burst: int = Field(default=200, ge=1)
    cancel_on_disconnect: bool = False
    rfq_maker: bool = Field(
        default=False, description="receives RFQs its accounts may quote and may answer them (order entry)"
    )

    @field_validator("password_hash")
    @classmethod
    def _hash_format(cls, value: str | None) -> str | None:
        if value is not None:
            parse_password_hash(value)
        return value

    @model_validator(mode="after")
    def _some_credential(self) -> SessionConfig:
        if self.password_hash is None and self.secret_env is None:
            raise ValueError(f"session {self.target_comp_id}: needs password_hash or secret_env")
        if self.rfq_maker and self.role is not SessionRole.ORDER_ENTRY:
            raise ValueError(f"session {self.target_comp_id}: rfq_maker needs the order_entry role")
        return self

    def signing_secret(self) -> bytes | None:
        """The signature-logon secret from the environment, or None if this session has none."""
        if self.secret_env is None:
            return None
        value = os.environ.get(self.secret_env)
        return value.encode() if value else None


class FixConfig(_Strict):
    acceptor: AcceptorConfig = AcceptorConfig()
    sessions: tuple[SessionConfig, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> FixConfig:
        ids = [s.target_comp_id for s in self.sessions]
        if len(ids) != len(set(ids)):
            raise ValueError("target_comp_id must be unique across sessions")
        return self

    @classmethod
    def load(cls, path: Path | None = None) -> FixConfig:
        with (path or DEFAULT_SESSIONS_PATH).open("rb") as handle:
            return cls.model_validate(tomllib.load(handle))

    def session(self, target_comp_id: str) -> SessionConfig | None:
        return next((s for s in self.sessions if s.target_comp_id == target_comp_id), None)


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def parse_password_hash(stored: str) -> tuple[int, int, int, bytes, bytes]:
    """(n, r, p, salt, digest) of a stored hash; ValueError if it is not one."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise ValueError("password_hash must be scrypt$n$r$p$salt$hash")
    n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
    return n, r, p, bytes.fromhex(parts[4]), bytes.fromhex(parts[5])


def check_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a stored ``hash_password`` value."""
    n, r, p, salt, digest = parse_password_hash(stored)
    candidate = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024)
    return hmac.compare_digest(candidate, digest)
