"""The settlement chain the venue talks to: a JSON-RPC node (``VENUE_CHAIN_RPC``: the L2 in production,
or any node) or, when unset, an embedded one so `make run` needs nothing running:

- ``VENUE_CHAIN_EMBEDDED=anvil`` (the default): a local anvil node (npm ``@foundry-rs/anvil``, installed
  by `make install`) started as a child process, its state kept in ``<data dir>/chain/anvil-state.json``
  (written every few seconds and when it stops), so batches, deposits and withdrawals survive a
  restart exactly as the journal does. The child dies with the venue.
- ``evm``: an in-process EVM (eth-tester with py-evm), gone with the process (tests, one-off runs).
  Also the fallback when anvil is not installed.

Contracts come from the committed artifacts. Where ``VENUE_TOKEN_ADDRESS`` / ``VENUE_VAULT_ADDRESS`` are
unset, the addresses deployed earlier on the same chain are reused (``<data dir>/chain/deployment.json``,
checked for code); otherwise they are deployed from the node's first account, which is also the
vault's owner, operator and guardian (a local chain; production deployments name their own).
"""

from __future__ import annotations

import json
import logging
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from web3 import EthereumTesterProvider, Web3
from web3.contract import Contract

from config.settings import VenueSettings
from contracts.anvil import ANVIL, AnvilError, start_anvil, stop_anvil
from contracts.loader import at, deploy

log = logging.getLogger("venue.chain")
STATE_INTERVAL_S = 2  # how often the embedded anvil writes its state


@dataclass(slots=True)
class Chain:
    w3: Web3
    token: Contract
    vault: Contract
    description: str  # for the start-up banner
    rpc_url: str | None = None  # where other processes reach this chain (None: in-process only)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def close(self) -> None:
        """Stop an embedded node (it writes its state as it stops); nothing for an external one."""
        if self.process is not None:
            stop_anvil(self.process)
            self.process = None


def open_chain(settings: VenueSettings) -> Chain:
    """Connect to (or start) the chain and deploy what is not there. Blocking; call it from the thread
    that lives as long as the venue (an embedded node is tied to it). Raises ``ConnectionError`` when
    the RPC node does not answer."""
    process = None
    if settings.chain_rpc:
        w3 = Web3(Web3.HTTPProvider(settings.chain_rpc))
        where, rpc_url = settings.chain_rpc, settings.chain_rpc
        if not w3.is_connected():
            raise ConnectionError(f"no EVM node answers at {settings.chain_rpc}")
        w3.middleware_onion.remove("validation")
    elif settings.chain_embedded == "anvil" and ANVIL.exists():
        state = settings.data_dir / "chain" / "anvil-state.json"
        state.parent.mkdir(parents=True, exist_ok=True)
        try:
            process, w3 = start_anvil(
                "--state", str(state), "--state-interval", str(STATE_INTERVAL_S), port=settings.chain_port
            )
        except AnvilError as exc:
            raise ConnectionError(f"the embedded anvil did not start: {exc}") from exc
        rpc_url = str(w3.provider.endpoint_uri)  # type: ignore[attr-defined]
        where = f"embedded anvil at {rpc_url}, state in {state}"
    else:
        if settings.chain_embedded == "anvil":
            log.warning("anvil is not installed (make install): settling on an in-process EVM that a "
                        "restart forgets")  # fmt: skip
        w3 = Web3(EthereumTesterProvider())
        w3.middleware_onion.remove("validation")
        where, rpc_url = "in-process EVM (eth-tester, py-evm; forgotten at exit)", None
    try:
        token, vault = _contracts(w3, settings, persist=process is not None or bool(settings.chain_rpc))
    except BaseException:
        if process is not None:
            stop_anvil(process)
        raise
    description = f"{where}, chain id {w3.eth.chain_id}: vault {vault.address}, token {token.address}"
    return Chain(w3, token, vault, description, rpc_url, process)


def _contracts(w3: Web3, settings: VenueSettings, persist: bool) -> tuple[Contract, Contract]:
    record = settings.data_dir / "chain" / "deployment.json"
    known = _known(w3, record) if persist else {}
    deployer = w3.eth.accounts[0]
    token_address = settings.token_address or known.get("token")
    token = at(w3, "CollateralToken", token_address) if token_address else deploy(w3, "CollateralToken")
    # a recorded vault is reused only with the token it was deployed for
    vault_address = settings.vault_address or (
        known.get("vault") if token_address == known.get("token") else None
    )
    if vault_address:
        vault = at(w3, "Vault", vault_address)
    else:
        vault = deploy(
            w3, "Vault", token.address, settings.exit_timeout_s, deployer, deployer, sender=deployer
        )
    if persist and not (settings.token_address and settings.vault_address):
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_text(
            json.dumps(
                {"chain_id": w3.eth.chain_id, "token": token.address, "vault": vault.address}, indent=2
            )
        )
    return token, vault


def _known(w3: Web3, record: Path) -> dict[str, str]:
    """The addresses deployed earlier on this chain, if they still hold code (a fresh chain does not)."""
    try:
        known: dict[str, object] = json.loads(record.read_text())
    except (OSError, ValueError):
        return {}
    if known.get("chain_id") != w3.eth.chain_id:
        return {}
    return {
        name: address
        for name, address in known.items()
        if name in {"token", "vault"}
        and isinstance(address, str)
        and w3.eth.get_code(Web3.to_checksum_address(address))
    }


def deposit_test_usdc(w3: Web3, token: Contract, vault: Contract, address: str, amount_micro: int) -> str:
    """On a local chain whose first account owns the test token (anvil, the in-process EVM): mint
    ``amount_micro`` and deposit it into the vault for ``address``; returns the deposit's transaction
    hash. Raises ``RuntimeError`` when a step reverts (e.g. a token the first account does not own)."""
    treasury = w3.eth.accounts[0]
    tx_hash = ""
    for call in (
        token.functions.mint(treasury, amount_micro),
        token.functions.approve(vault.address, amount_micro),
        vault.functions.depositFor(Web3.to_checksum_address(address), amount_micro),
    ):
        sent = call.transact({"from": treasury})
        tx_hash = sent.hex()
        if w3.eth.wait_for_transaction_receipt(sent)["status"] != 1:
            raise RuntimeError(f"{call.fn_name} reverted (is this a local chain with the test token?)")
    return tx_hash
