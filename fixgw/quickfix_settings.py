"""quickfix acceptor settings, generated from the sessions file (one source of truth per session).

Sequence numbers and the message store live in FileStore files under ``<data_dir>/fix/store`` and
survive restarts and reconnects (no reset on logon, logout or disconnect), so resend requests after a
reconnect are served from the store with PossDupFlag. A session's FIX day ends at the acceptor's
``reset_time`` (UTC): quickfix logs the client out, empties the store and starts both sides at 1
again. Without one, sessions never reset on their own (NonStopSession). The reset is what bounds
memory: quickfix's FileStore keeps an in-memory index entry (64 bytes) per message sent.
Every inbound message is validated against ``config/FIX44.xml`` (FIX 4.4 plus our custom fields).
"""

from __future__ import annotations

from datetime import time
from pathlib import Path

from config.fix_sessions import DEFAULT_DICTIONARY_PATH, FixConfig, SessionRole


def render(config: FixConfig, data_dir: Path, dictionary: Path = DEFAULT_DICTIONARY_PATH) -> str:
    """The settings file's text. ``data_dir``: where the store (and nothing else) is written."""
    acceptor = config.acceptor
    store = (data_dir / "fix" / "store").resolve()
    lines = [
        "[DEFAULT]",
        "ConnectionType=acceptor",
        f"SocketAcceptHost={acceptor.host}",
        f"SocketAcceptPort={acceptor.port}",
        "SocketReuseAddress=Y",
        "SocketNodelay=Y",
        *_schedule(acceptor.reset_time),
        "ResetOnLogon=N",
        "ResetOnLogout=N",
        "ResetOnDisconnect=N",
        "PersistMessages=Y",
        f"FileStorePath={store}",
        "UseDataDictionary=Y",
        f"DataDictionary={dictionary.resolve()}",
        "ValidateUserDefinedFields=Y",
        "AllowUnknownMsgFields=N",
        "ValidateFieldsHaveValues=Y",
        "CheckLatency=Y",
        f"MaxLatency={acceptor.max_latency_s}",
        "LogonTimeout=10",
        "",
    ]
    for session in config.sessions:
        lines += [
            "[SESSION]",
            "BeginString=FIX.4.4",
            f"SenderCompID={acceptor.sender_comp_id}",
            f"TargetCompID={session.target_comp_id}",
            # market data is never resent (a gap fill instead: the client asks for a new snapshot),
            # so its sessions keep no messages and no index: they send the most
            *(["PersistMessages=N"] if session.role is SessionRole.MARKET_DATA else []),
            "",
        ]
    return "\n".join(lines)


def _schedule(reset_time: time | None) -> list[str]:
    if reset_time is None:
        return ["NonStopSession=Y"]
    # The day runs from reset_time to one second before it. Not StartTime = EndTime: quickfix then
    # ends the day at the UTC date change, whatever the time given (TimeRange::isInSameRange).
    start = reset_time.hour * 3600 + reset_time.minute * 60 + reset_time.second
    end = (start - 1) % 86_400
    return ["NonStopSession=N", f"StartTime={_clock(start)}", f"EndTime={_clock(end)}", "UseLocalTime=N"]


def _clock(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def write(config: FixConfig, data_dir: Path, dictionary: Path = DEFAULT_DICTIONARY_PATH) -> Path:
    """Write the settings under ``<data_dir>/fix/acceptor.cfg`` and create the store folder."""
    folder = data_dir / "fix"
    (folder / "store").mkdir(parents=True, exist_ok=True)
    path = folder / "acceptor.cfg"
    path.write_text(render(config, data_dir, dictionary))
    return path
