"""A local anvil node (npm @foundry-rs/anvil, installed by `make install` under contracts/node_modules)
on a free loopback port, for tests and benchmarks; web3 8 connected to it."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from web3 import Web3

ANVIL = Path(__file__).resolve().parent / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"


class AnvilError(RuntimeError):
    """anvil is not installed or did not start."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def local_anvil(*extra: str, timeout_s: float = 15.0) -> Iterator[Web3]:
    """Start anvil (chain id 31337, ten funded unlocked accounts), yield a connected Web3, stop it."""
    if not ANVIL.exists():
        raise AnvilError(f"anvil not installed at {ANVIL}: run `make install`")
    port = free_port()
    proc = subprocess.Popen(
        [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--silent", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}"))
        w3.middleware_onion.remove("validation")  # it adds two eth_chainId calls to every call
        deadline = time.monotonic() + timeout_s
        while not w3.is_connected():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise AnvilError("anvil did not start")
            time.sleep(0.05)
        yield w3
    finally:
        proc.terminate()
        proc.wait(timeout=10)
