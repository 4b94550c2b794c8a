"""Raw FIX over TCP: hand-made (and deliberately broken) messages, for robustness tests."""

from __future__ import annotations

import socket
import time

from fixgw.wire import utc_timestamp

SOH = "\x01"


def frame(
    msg_type: str,
    fields: list[tuple[int, str]],
    seq: int,
    sender: str,
    target: str = "VENUE",
    *,
    body_length: int | None = None,
    checksum: str | None = None,
    begin: str = "FIX.4.4",
) -> bytes:
    """A message with correct BodyLength and CheckSum unless overridden."""
    header = [(35, msg_type), (49, sender), (56, target), (34, str(seq)), (52, utc_timestamp(time.time_ns()))]
    body = "".join(f"{t}={v}{SOH}" for t, v in header + fields)
    length = len(body.encode()) if body_length is None else body_length
    head = f"8={begin}{SOH}9={length}{SOH}"
    total = sum((head + body).encode()) % 256
    return (head + body + f"10={checksum if checksum is not None else f'{total:03d}'}{SOH}").encode()


class RawSession:
    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def read_messages(self, timeout: float = 2.0) -> list[dict[int, str]]:
        """Every complete message received within ``timeout`` (stops early on close)."""
        deadline = time.monotonic() + timeout
        self.sock.settimeout(0.2)
        while time.monotonic() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            self.buffer += chunk
        messages = []
        for part in self.buffer.split(b"8=FIX")[1:]:
            fields: dict[int, str] = {}
            for item in ("8=FIX" + part.decode(errors="replace")).split(SOH):
                tag, _, value = item.partition("=")
                if tag.isdigit() and int(tag) not in fields:
                    fields[int(tag)] = value
            messages.append(fields)
        self.buffer = b""
        return messages

    def closed(self, timeout: float = 3.0) -> bool:
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(65536) == b""
        except TimeoutError:
            return False
        except OSError:
            return True

    def close(self) -> None:
        self.sock.close()


def logon(sender: str, password: str, seq: int = 1, reset: bool = True) -> bytes:
    fields = (
        [(98, "0"), (108, "30")] + ([(141, "Y")] if reset else []) + [(553, sender.lower()), (554, password)]
    )
    return frame("A", fields, seq, sender)
