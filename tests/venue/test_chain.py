"""The settlement chain at start: the embedded anvil by default (its state and deployment kept in the
data dir), the in-process EVM, or a JSON-RPC node when configured."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import VenueSettings
from contracts.anvil import local_anvil
from venue.chain import open_chain


def test_the_embedded_anvil_deploys_once_and_keeps_its_state(tmp_path: Path) -> None:
    settings = VenueSettings(data_dir=tmp_path, chain_rpc=None, chain_port=0)
    chain = open_chain(settings)
    try:
        assert "embedded anvil" in chain.description and chain.rpc_url
        assert chain.vault.functions.token().call() == chain.token.address
        assert chain.vault.functions.exitTimeout().call() == 3 * 86_400
        assert chain.vault.functions.operator().call() == chain.w3.eth.accounts[0]
        chain.token.functions.mint(chain.w3.eth.accounts[1], 123).transact({"from": chain.w3.eth.accounts[0]})
    finally:
        chain.close()
    assert (tmp_path / "chain" / "anvil-state.json").exists()
    again = open_chain(settings)  # a restart: the same chain, the same contracts, the same balances
    try:
        assert (again.vault.address, again.token.address) == (chain.vault.address, chain.token.address)
        assert again.token.functions.balanceOf(again.w3.eth.accounts[1]).call() == 123
    finally:
        again.close()


def test_the_in_process_evm_deploys_the_contracts(tmp_path: Path) -> None:
    chain = open_chain(VenueSettings(data_dir=tmp_path, chain_rpc=None, chain_embedded="evm"))
    assert "in-process" in chain.description and chain.rpc_url is None
    assert chain.vault.functions.token().call() == chain.token.address


def test_an_rpc_node_with_configured_addresses_is_used_as_is(tmp_path: Path) -> None:
    with local_anvil() as w3:
        url = w3.provider.endpoint_uri  # type: ignore[attr-defined]
        first = open_chain(VenueSettings(data_dir=tmp_path / "a", chain_rpc=url, exit_timeout_s=60))
        assert "chain id 31337" in first.description
        again = open_chain(
            VenueSettings(
                data_dir=tmp_path / "b", chain_rpc=url, token_address=first.token.address,
                vault_address=first.vault.address,
            )
        )  # fmt: skip
        assert again.vault.address == first.vault.address and again.vault.functions.exitTimeout().call() == 60
        # unconfigured, the addresses deployed on this chain before are reused from the data dir
        third = open_chain(VenueSettings(data_dir=tmp_path / "a", chain_rpc=url))
        assert third.vault.address == first.vault.address


def test_an_unreachable_node_is_a_connection_error() -> None:
    with pytest.raises(ConnectionError):
        open_chain(VenueSettings(chain_rpc="http://127.0.0.1:1"))
