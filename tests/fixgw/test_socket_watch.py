"""The watch over quickfix's sockets, on real sockets of this process (and a real forked child)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import Iterator

import pytest

from fixgw import socket_watch
from fixgw.socket_watch import SocketWatch, quickfix_sockets


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock
    sock.close()


def connect(listener: socket.socket) -> tuple[socket.socket, socket.socket]:
    """(client end, accepted end) of a new loopback connection."""
    client = socket.create_connection(listener.getsockname())
    accepted, _ = listener.accept()
    return client, accepted


def test_finds_the_listening_and_accepted_sockets_of_its_port_only(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    client, accepted = connect(listener)
    datagram = socket.socket(type=socket.SOCK_DGRAM)
    datagram.bind(("127.0.0.1", port))  # same port, not TCP
    elsewhere = socket.socket()
    elsewhere.bind(("127.0.0.1", 0))
    elsewhere.listen()
    local = socket.socket(socket.AF_UNIX)
    try:
        assert quickfix_sockets(port) == ({listener.fileno()}, {accepted.fileno()})
        # the descriptors it looked at are still open and working
        client.sendall(b"8=FIX.4.4")
        assert accepted.recv(64) == b"8=FIX.4.4"
        assert listener.fileno() >= 0 and local.fileno() >= 0 and datagram.fileno() >= 0
    finally:
        for sock in (client, accepted, datagram, elsewhere, local):
            sock.close()


def test_wait_ends_when_a_watched_socket_is_readable(listener: socket.socket) -> None:
    asyncio.run(_wait_ends_when_readable(listener))


async def _wait_ends_when_readable(listener: socket.socket) -> None:
    watch = SocketWatch(listener.getsockname()[1])
    client, accepted = connect(listener)
    try:
        watch.polled(time.monotonic())
        assert watch.watched == 2
        assert await watch.wait(0.05) is False  # nothing to read: the timeout
        asyncio.get_running_loop().call_later(0.02, client.sendall, b"x")
        started = time.monotonic()
        assert await watch.wait(5.0) is True
        assert time.monotonic() - started < 4.0  # woken by the byte, long before the timeout
        assert watch.wakeups == 1
    finally:
        client.close()
        accepted.close()
        watch.close()


def test_an_accepted_connection_is_watched_after_the_next_poll(listener: socket.socket) -> None:
    asyncio.run(_accepted_connection_watched(listener))


async def _accepted_connection_watched(listener: socket.socket) -> None:
    watch = SocketWatch(listener.getsockname()[1])
    watch.polled(time.monotonic())
    assert watch.watched == 1
    client = socket.create_connection(listener.getsockname())
    try:
        assert await watch.wait(5.0) is True  # the listening socket: a connection waits
        accepted, _ = listener.accept()  # what quickfix's poll does
        watch.polled(time.monotonic())
        assert watch.watched == 2
        client.sendall(b"x")
        assert await watch.wait(5.0) is True
        accepted.close()
    finally:
        client.close()
        watch.close()


def test_a_socket_a_forked_child_still_holds_is_dropped_soon_after_a_wake_brings_nothing(
    listener: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(socket_watch, "RESCAN_S", 3600.0)  # only the suspicion may rebuild
    asyncio.run(_stale_entry_dropped(listener))


async def _stale_entry_dropped(listener: socket.socket) -> None:
    watch = SocketWatch(listener.getsockname()[1])
    client, accepted = connect(listener)
    watch.polled(time.monotonic())
    child = os.fork()
    if child == 0:  # holds copies of the descriptors, as a forked snapshot does (not the peer's end)
        os.close(client.fileno())
        time.sleep(30)
        os._exit(0)
    try:
        accepted.close()  # quickfix closed it; the child's copy keeps the socket (and the entry)
        client.close()  # the peer goes: the stale entry is readable (end of stream) for good
        assert await watch.wait(5.0) is True
        await asyncio.sleep(socket_watch.SUSPECT_RESCAN_S)
        watch.polled(time.monotonic())
        assert watch.watched == 2 and await watch.wait(5.0) is True  # still there, still readable
        watch.suspect()  # the poll after that wake found no message
        watch.polled(time.monotonic())
        assert watch.watched == 1
        assert await watch.wait(0.05) is False
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        watch.close()
