"""Process settings, read from the environment (prefix ``VENUE_``) and optionally a TOML file.

Every setting has an embedded default so the venue runs on a bare machine: no database URL means the
SQLite journal under ``data_dir``; no Redis URL means the in-process bus.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from config.catalog import DEFAULT_CATALOG_PATH
from config.fix_sessions import DEFAULT_SESSIONS_PATH
from config.risk_params import DEFAULT_RISK_PATH

DEFAULT_WALLETS_PATH = Path(__file__).resolve().parent / "wallets.toml"


class VenueSettings(BaseSettings):
    """All process-level settings. The environment wins over the TOML file named by ``VENUE_CONFIG_FILE``."""

    model_config = SettingsConfigDict(env_prefix="VENUE_", extra="forbid", frozen=True)

    config_file: Path | None = Field(default=None, description="optional TOML file with these settings")
    data_dir: Path = Field(default=Path("var"), description="where embedded stores keep their files")
    catalog_path: Path = Field(default=DEFAULT_CATALOG_PATH, description="instrument catalog (TOML)")
    risk_path: Path = Field(default=DEFAULT_RISK_PATH, description="risk parameters (TOML)")
    mark_feed: str = Field(
        default="sim",
        pattern=r"^(sim|none|file:.+)$",
        description="marks: 'sim' (random walk), 'file:PATH' (JSON lines) or 'none' (MarkUpdate by API)",
    )
    mark_interval_s: float = Field(default=1.0, gt=0, description="seconds between simulated mark updates")
    chain_rpc: str | None = Field(
        default=None, description="EVM JSON-RPC URL of the settlement chain; an in-process EVM if unset"
    )
    chain_embedded: Literal["anvil", "evm"] = Field(
        default="anvil",
        description="without chain_rpc: 'anvil' (a child node keeping its state in the data dir) or 'evm' "
        "(in-process, forgotten at exit)",
    )
    chain_port: int = Field(
        default=8545, ge=0, le=65535, description="the embedded anvil's loopback port (0: any free one)"
    )
    token_address: str | None = Field(
        default=None, description="collateral token on the chain; deployed if unset"
    )
    vault_address: str | None = Field(default=None, description="the vault on the chain; deployed if unset")
    exit_timeout_s: int = Field(
        default=3 * 86_400,
        gt=0,
        description="vault deployments: how long a request waits before anyone may freeze",
    )
    settlement_enabled: bool = Field(
        default=True,
        description="run the settlement service (batches to the vault, deposits and requests from it)",
    )
    settlement_interval_s: float = Field(default=2.0, gt=0, description="seconds between batch cuts")
    settlement_max_cash_moves: int = Field(
        default=50_000, ge=1, description="cut a batch early once this many cash moves wait"
    )
    settlement_confirmations: int = Field(
        default=1, ge=1, description="blocks (its own included) before a batch or deposit counts"
    )
    settlement_bump_after_s: float = Field(
        default=30.0, gt=0, description="replace a settlement transaction with no receipt after this long"
    )
    settlement_from_block: int = Field(default=0, ge=0, description="the vault's deployment block")
    operator_address: str | None = Field(
        default=None, description="the vault operator; the node's first account if unset (local chains)"
    )
    operator_key: SecretStr | None = Field(
        default=None,
        description="the operator's private key; unset: the node signs for its unlocked account",
    )
    wallets_file: Path = Field(
        default=DEFAULT_WALLETS_PATH, description="account -> wallet address map (TOML [wallets])"
    )
    catalog_as_of: str | None = Field(
        default=None, description="ISO date the option ladder is generated from; today (UTC) when unset"
    )
    database_url: str | None = Field(
        default=None, description="PostgreSQL DSN; SQLite under data_dir if unset"
    )
    redis_url: str | None = Field(default=None, description="Redis URL; in-process bus if unset")
    api_keys_file: Path | None = Field(
        default=None, description="hashed API keys; data_dir/api_keys.toml if unset"
    )
    public_rate_per_s: float = Field(default=50.0, gt=0, description="rate limit per client IP without a key")
    snapshot_every: int = Field(
        default=100_000, ge=0, description="commands between state snapshots (0: never); bounds start-up time"
    )
    fix_sessions_file: Path = Field(
        default=DEFAULT_SESSIONS_PATH, description="FIX acceptor and sessions (TOML, config/fix_sessions.py)"
    )
    fix_enabled: bool = Field(default=True, description="run the FIX acceptor")
    fix_port: int | None = Field(
        default=None, ge=0, le=65535, description="overrides the sessions file's port"
    )
    rfq_window_ms: int = Field(
        default=1_000, ge=50, le=10_000, description="RFQ auction window when a request names none"
    )
    rfq_validity_s: int = Field(
        default=60, ge=1, le=3_600, description="how long an RFQ stays open when a request names no validity"
    )
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="the least severe log records `venue run` writes to stderr"
    )
    gc_gen0_threshold: int = Field(
        default=10_000, ge=700, description="net allocations between GC collections (each a pause)"
    )
    gc_freeze_survivors: bool = Field(
        default=True,
        description="freeze what each GC collection leaves alive (venue.gc_policy): pauses stay short",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        import os

        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = os.environ.get("VENUE_CONFIG_FILE")
        if toml_path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(toml_path)))
        return tuple(sources)
