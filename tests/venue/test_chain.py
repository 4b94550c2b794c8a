"""The settlement chain at start: the in-process EVM by default, a JSON-RPC node when configured."""

from __future__ import annotations

import pytest

from config.settings import VenueSettings
from contracts.anvil import local_anvil
from venue.chain import open_chain


def test_the_embedded_default_deploys_the_contracts() -> None:
    chain = open_chain(VenueSettings(chain_rpc=None))
    assert "in-process" in chain.description
    assert chain.vault.functions.token().call() == chain.token.address
    assert chain.vault.functions.exitTimeout().call() == 3 * 86_400
    assert chain.vault.functions.operator().call() == chain.w3.eth.accounts[0]


def test_an_rpc_node_with_configured_addresses_is_used_as_is() -> None:
    with local_anvil() as w3:
        url = w3.provider.endpoint_uri  # type: ignore[attr-defined]
        first = open_chain(VenueSettings(chain_rpc=url, exit_timeout_s=60))
        assert "chain id 31337" in first.description
        again = open_chain(
            VenueSettings(chain_rpc=url, token_address=first.token.address, vault_address=first.vault.address)
        )
        assert again.vault.address == first.vault.address and again.vault.functions.exitTimeout().call() == 60


def test_an_unreachable_node_is_a_connection_error() -> None:
    with pytest.raises(ConnectionError):
        open_chain(VenueSettings(chain_rpc="http://127.0.0.1:1"))
