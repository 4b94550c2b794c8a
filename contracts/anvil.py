"""A local anvil node (npm @foundry-rs/anvil, installed by `make install` under contracts/node_modules)
on a free loopback port, for tests and benchmarks; web3 8 connected to it."""

from __future__ import annotations

import ctypes
import signal
import socket
import subprocess
import sys
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


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM it when the parent dies (a venue killed with -9 must not
    leave its chain running with the port and the state file)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start_anvil(*extra: str, port: int = 0, timeout_s: float = 15.0) -> tuple[subprocess.Popen[bytes], Web3]:
    """Start anvil (chain id 31337, ten funded unlocked accounts) on loopback ``port`` (0: a free one);
    returns the process and a connected Web3. Stop it with ``stop_anvil`` (SIGTERM: it writes
    ``--state`` then). ``AnvilError`` if it is not installed or does not start (a port in use)."""
    if not ANVIL.exists():
        raise AnvilError(f"anvil not installed at {ANVIL}: run `make install`")
    port = port or free_port()
    proc = subprocess.Popen(
        [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--silent", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,
    )
    w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}"))
    w3.middleware_onion.remove("validation")  # it adds two eth_chainId calls to every call
    deadline = time.monotonic() + timeout_s
    while not w3.is_connected():
        if time.monotonic() > deadline or proc.poll() is not None:
            stop_anvil(proc)
            raise AnvilError("anvil did not start")
        time.sleep(0.05)
    return proc, w3


def stop_anvil(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def local_anvil(*extra: str, timeout_s: float = 15.0) -> Iterator[Web3]:
    """A throw-away anvil for tests and benchmarks: started, yielded as a connected Web3, stopped."""
    proc, w3 = start_anvil(*extra, timeout_s=timeout_s)
    try:
        yield w3
    finally:
        stop_anvil(proc)
