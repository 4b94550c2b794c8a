"""quickfix acceptor settings, generated from the sessions file (one source of truth per session).

Sessions never reset on their own (NonStopSession, no reset on logon/logout/disconnect): sequence
numbers and the message store live in FileStore files under ``<data_dir>/fix/store`` and survive
restarts, so resend requests after a reconnect are served from the store with PossDupFlag.
Every inbound message is validated against ``config/FIX44.xml`` (FIX 4.4 plus our custom fields).
"""

from __future__ import annotations

from pathlib import Path

from config.fix_sessions import DEFAULT_DICTIONARY_PATH, FixConfig


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
        "NonStopSession=Y",
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
            "",
        ]
    return "\n".join(lines)


def write(config: FixConfig, data_dir: Path, dictionary: Path = DEFAULT_DICTIONARY_PATH) -> Path:
    """Write the settings under ``<data_dir>/fix/acceptor.cfg`` and create the store folder."""
    folder = data_dir / "fix"
    (folder / "store").mkdir(parents=True, exist_ok=True)
    path = folder / "acceptor.cfg"
    path.write_text(render(config, data_dir, dictionary))
    return path
