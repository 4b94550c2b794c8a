"""Turns the committed artifacts (contracts/artifacts/*.json, written by contracts/build.js) into web3.py
contract objects, so the venue needs no Node at run time.

``artifact(name)`` reads one; ``sources_match()`` says whether every artifact was built from the sources
as they are now (sha256 of each file); ``deploy`` and ``at`` give web3 contracts.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from web3 import Web3
from web3.contract import Contract

ROOT = Path(__file__).resolve().parent
ARTIFACTS = ROOT / "artifacts"
SOURCES = ROOT / "src"


@cache
def artifact(name: str) -> dict[str, Any]:
    """The artifact of contract ``name`` (abi, bytecode, compiler, source hashes); KeyError if absent."""
    path = ARTIFACTS / f"{name}.json"
    if not path.exists():
        raise KeyError(f"no artifact for {name} in {ARTIFACTS}")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def source_hashes() -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(SOURCES.glob("*.sol"))}


def stale_artifacts() -> list[str]:
    """Names of artifacts not built from the current sources (empty when all agree)."""
    current = source_hashes()
    return sorted(
        p.stem for p in ARTIFACTS.glob("*.json") if json.loads(p.read_text())["sourceHashes"] != current
    )


def deploy(w3: Web3, name: str, *args: Any, sender: str | None = None) -> Contract:
    """Deploy contract ``name`` with constructor ``args`` from ``sender`` (default: the node's first
    account) and wait for the receipt; raises on a reverted deployment."""
    art = artifact(name)
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    tx = factory.constructor(*args).transact({"from": sender or w3.eth.accounts[0]})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    address = receipt["contractAddress"]
    if receipt["status"] != 1 or address is None:
        raise RuntimeError(f"deploying {name} reverted")
    return at(w3, name, address)


def at(w3: Web3, name: str, address: str) -> Contract:
    """The deployed contract ``name`` at ``address``."""
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact(name)["abi"])
