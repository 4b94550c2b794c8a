"""A FIX 4.4 initiator (quickfix) driven by JSON lines: for tests, benchmarks and the demo.

Run it in its own process (``python -m fixgw.client --port P --sender HF1 --password demo-hf1``).
stdin, one JSON object per line:
  {"op": "send", "type": "D", "fields": [[11, "c1"], [55, "BTC-PERP"], ...], "header": [[97, "Y"]]}
  {"op": "load", "count": N, "rate": R, "fields": [...]}  NewOrderSingles at R/s (0: as fast as acks
        allow, keeping ``window`` in flight); ClOrdID is set per order; prints a "load" summary with
        the acknowledgement latencies (send -> ExecutionReport New or Rejected)
  {"op": "logout"} | {"op": "quit"}
stdout, one JSON object per line: {"event": "logon"}, {"event": "logout"}, {"event": "app" | "admin",
"type": MsgType, "fields": {tag: value}, "pairs": [[tag, value], ...]}, {"event": "load", ...}.
Credentials: --password, or --secret for the signature logon (RawData = timestamp.nonce).
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import quickfix as fix

from config.fix_sessions import DEFAULT_DICTIONARY_PATH
from fixgw import fields as f
from fixgw.auth import sign
from fixgw.outbound import build
from fixgw.wire import FixMessage, utc_timestamp

_out_lock = threading.Lock()


def emit(obj: dict[str, Any]) -> None:
    line = json.dumps(obj)
    with _out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class LoadRun:
    """Latency bookkeeping of a ``load`` op: send times by ClOrdID, acknowledgement latencies."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.sent: dict[str, int] = {}
        self.latencies_ns: list[int] = []
        self.rejected = 0
        self.other_rejects: dict[str, int] = {}
        self.done = threading.Event()
        self.acked = threading.Semaphore(0)

    def ack(self, cl_ord_id: str, rejected: bool, text: str) -> None:
        sent = self.sent.pop(cl_ord_id, None)
        if sent is None:
            return
        self.latencies_ns.append(time.perf_counter_ns() - sent)
        if rejected:
            self.rejected += 1
            self.other_rejects[text] = self.other_rejects.get(text, 0) + 1
        self.acked.release()
        if len(self.latencies_ns) >= self.count:
            self.done.set()


class Client(fix.Application):  # type: ignore[misc]
    def __init__(
        self, username: str, password: str | None, secret: str | None, quiet_load: bool = True
    ) -> None:
        super().__init__()
        self.username, self.password, self.secret = username, password, secret
        self.session_id: fix.SessionID | None = None
        self.load: LoadRun | None = None
        self.quiet_load = quiet_load
        self.logged_on = threading.Event()

    def onCreate(self, session_id: fix.SessionID) -> None:
        self.session_id = session_id

    def onLogon(self, session_id: fix.SessionID) -> None:
        self.logged_on.set()
        emit({"event": "logon"})

    def onLogout(self, session_id: fix.SessionID) -> None:
        self.logged_on.clear()
        emit({"event": "logout"})

    def toAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        try:
            header = message.getHeader()
            if header.getField(f.MSG_TYPE) != "A":
                return
            message.setField(f.USERNAME, self.username)
            if self.secret:
                raw = f"{int(time.time() * 1000)}.{secrets.token_hex(8)}"
                message.setField(f.RAW_DATA_LENGTH, str(len(raw)))
                message.setField(f.RAW_DATA, raw)
                message.setField(f.PASSWORD, sign(raw, self.secret.encode()))
            elif self.password is not None:
                message.setField(f.PASSWORD, self.password)
        except Exception as exc:  # never let an exception leave a quickfix callback
            emit({"event": "error", "where": "toAdmin", "text": str(exc)})

    def toApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        pass

    def fromAdmin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        try:
            self._emit("admin", message)
        except Exception as exc:
            emit({"event": "error", "where": "fromAdmin", "text": str(exc)})

    def fromApp(self, message: fix.Message, session_id: fix.SessionID) -> None:
        try:
            raw = message.toString()
            load = self.load
            if load is not None and "\x0135=8\x01" in raw:
                parsed = FixMessage.parse(raw)
                exec_type = parsed.get(f.EXEC_TYPE)
                if exec_type in (f.EXEC_NEW, f.EXEC_REJECTED):
                    load.ack(parsed.get(f.CL_ORD_ID), exec_type == f.EXEC_REJECTED, parsed.get(f.TEXT))
                if self.quiet_load:
                    return
            self._emit("app", message)
        except Exception as exc:
            emit({"event": "error", "where": "fromApp", "text": str(exc)})

    def _emit(self, event: str, message: fix.Message) -> None:
        parsed = FixMessage.parse(message.toString())
        fields = {str(k): v for k, v in parsed.fields.items()}
        emit({"event": event, "type": parsed.msg_type, "fields": fields, "pairs": parsed.pairs})

    def send(self, msg_type: str, pairs: list[tuple[int, str]], header: list[tuple[int, str]] = ()) -> bool:  # type: ignore[assignment]
        message = build(msg_type, pairs)
        for tag, value in header:
            message.getHeader().setField(int(tag), str(value))
        return bool(fix.Session.sendToTarget(message, self.session_id))

    def run_load(
        self, count: int, rate: float, template: list[tuple[int, str]], window: int
    ) -> dict[str, Any]:
        load = self.load = LoadRun(count)
        prefix = f"L{time.time_ns()}-"
        body = [(t, v) for t, v in template if t not in (f.CL_ORD_ID, f.TRANSACT_TIME)]
        interval = 1 / rate if rate > 0 else 0.0
        started = time.perf_counter()
        inflight: deque[int] = deque()
        for n in range(count):
            if interval:
                due = started + n * interval
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            else:
                while len(load.sent) >= window:
                    load.acked.acquire(timeout=1.0)
            cl_ord_id = f"{prefix}{n}"
            message = build(
                "D", [(f.CL_ORD_ID, cl_ord_id), *body, (f.TRANSACT_TIME, utc_timestamp(time.time_ns()))]
            )
            load.sent[cl_ord_id] = time.perf_counter_ns()
            fix.Session.sendToTarget(message, self.session_id)
            inflight.append(n)
        load.done.wait(timeout=max(30.0, count / 500))
        elapsed = time.perf_counter() - started
        lat = sorted(load.latencies_ns)
        self.load = None

        def pct(q: float) -> float:
            return round(lat[min(len(lat) - 1, int(q * len(lat)))] / 1e6, 3) if lat else float("nan")

        return {
            "event": "load",
            "sent": count,
            "acked": len(lat),
            "rejected": load.rejected,
            "reject_texts": load.other_rejects,
            "seconds": round(elapsed, 3),
            "acks_per_s": round(len(lat) / elapsed, 1) if elapsed else 0.0,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "max_ms": pct(1.0),
        }


def settings_text(args: argparse.Namespace, store: Path) -> str:
    return "\n".join(
        [
            "[DEFAULT]",
            "ConnectionType=initiator",
            f"SocketConnectHost={args.host}",
            f"SocketConnectPort={args.port}",
            f"HeartBtInt={args.heartbeat}",
            f"ReconnectInterval={args.reconnect}",
            "NonStopSession=Y",
            f"ResetOnLogon={'Y' if args.reset else 'N'}",
            f"FileStorePath={store}",
            "UseDataDictionary=Y",
            f"DataDictionary={args.dictionary}",
            "ValidateUserDefinedFields=N",
            "SocketNodelay=Y",
            "",
            "[SESSION]",
            "BeginString=FIX.4.4",
            f"SenderCompID={args.sender}",
            f"TargetCompID={args.target}",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--sender", required=True, help="our SenderCompID (the acceptor's TargetCompID)")
    parser.add_argument("--target", default="VENUE")
    parser.add_argument("--username", default=None, help="default: the sender, lower-cased")
    parser.add_argument("--password", default=None)
    parser.add_argument("--secret", default=None, help="signature logon instead of the password")
    parser.add_argument("--store", default=None, help="FileStore folder (kept across runs for resends)")
    parser.add_argument("--memory-store", action="store_true")
    parser.add_argument("--reset", action="store_true", help="ResetSeqNumFlag on logon")
    parser.add_argument("--heartbeat", type=int, default=30)
    parser.add_argument("--reconnect", type=int, default=1, help="seconds between reconnect attempts")
    parser.add_argument("--dictionary", default=str(DEFAULT_DICTIONARY_PATH))
    parser.add_argument("--verbose-load", action="store_true", help="also print the load run's reports")
    args = parser.parse_args(argv)
    store = Path(args.store) if args.store else Path(tempfile.mkdtemp(prefix="fixclient-"))
    store.mkdir(parents=True, exist_ok=True)
    cfg = store / "initiator.cfg"
    cfg.write_text(settings_text(args, store))
    app = Client(args.username or args.sender.lower(), args.password, args.secret, not args.verbose_load)
    settings = fix.SessionSettings(str(cfg))
    store_factory = fix.MemoryStoreFactory() if args.memory_store else fix.FileStoreFactory(settings)
    initiator = fix.SocketInitiator(app, store_factory, settings)
    initiator.start()
    try:
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                request = json.loads(line)
                op = request.get("op")
                if op == "send":
                    pairs = [(int(t), str(v)) for t, v in request.get("fields", [])]
                    header = [(int(t), str(v)) for t, v in request.get("header", [])]
                    emit({"event": "sent", "ok": app.send(request["type"], pairs, header)})
                elif op == "load":
                    template = [(int(t), str(v)) for t, v in request.get("fields", [])]
                    window = int(request.get("window", 64))
                    emit(app.run_load(int(request["count"]), float(request.get("rate", 0)), template, window))
                elif op == "wait_logon":
                    emit({"event": "logged_on", "ok": app.logged_on.wait(float(request.get("timeout", 10)))})
                elif op == "logout":
                    if app.session_id is not None:
                        session = fix.Session.lookupSession(app.session_id)
                        if session is not None:
                            session.logout(request.get("text", ""))
                elif op == "quit":
                    break
            except Exception as exc:
                emit({"event": "error", "where": "stdin", "text": repr(exc)})
    finally:
        initiator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
