"""The settlement tests run against a real anvil, as the vault's own tests do."""

from tests.contracts.conftest import Chain, anvil, chain

__all__ = ["Chain", "anvil", "chain"]
