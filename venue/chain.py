"""The settlement chain the venue talks to: a JSON-RPC node (``VENUE_CHAIN_RPC``: anvil locally, the L2 in
production) or, when unset, an in-process EVM (eth-tester with py-evm) so `make run` needs nothing.

Contracts come from the committed artifacts. Where ``VENUE_TOKEN_ADDRESS`` / ``VENUE_VAULT_ADDRESS`` are
unset they are deployed at start from the node's first account, which is also the vault's owner,
operator and guardian (a local chain; production deployments name their own).
"""

from __future__ import annotations

from dataclasses import dataclass

from web3 import EthereumTesterProvider, Web3
from web3.contract import Contract

from config.settings import VenueSettings
from contracts.loader import at, deploy


@dataclass(slots=True)
class Chain:
    w3: Web3
    token: Contract
    vault: Contract
    description: str  # for the start-up banner


def open_chain(settings: VenueSettings) -> Chain:
    """Connect (or start the in-process EVM) and deploy what is not configured. Blocking: call it from
    a thread in async code. Raises ``ConnectionError`` when the RPC node does not answer."""
    if settings.chain_rpc:
        w3 = Web3(Web3.HTTPProvider(settings.chain_rpc))
        where = settings.chain_rpc
        if not w3.is_connected():
            raise ConnectionError(f"no EVM node answers at {settings.chain_rpc}")
    else:
        w3 = Web3(EthereumTesterProvider())
        where = "in-process EVM (eth-tester, py-evm)"
    w3.middleware_onion.remove("validation")
    deployer = w3.eth.accounts[0] if not settings.vault_address or not settings.token_address else None
    if settings.token_address:
        token = at(w3, "CollateralToken", settings.token_address)
    else:
        token = deploy(w3, "CollateralToken", sender=deployer)
    if settings.vault_address:
        vault = at(w3, "Vault", settings.vault_address)
    else:
        vault = deploy(
            w3, "Vault", token.address, settings.exit_timeout_s, deployer, deployer, sender=deployer
        )
    return Chain(
        w3, token, vault, f"{where}, chain id {w3.eth.chain_id}: vault {vault.address}, token {token.address}"
    )
