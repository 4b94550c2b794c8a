"""The FIX acceptor: quickfix's threaded socket acceptor around our Application and Gateway.

One engine thread per connected session (``ThreadedSocketAcceptor``), so a slow logon check or a
flood on one session does not hold up the others; the gateway serialises their work on the venue's
event loop. The message store is quickfix's FileStore under ``<data_dir>/fix/store`` (or its
MemoryStore when the sessions file says ``store = "memory"``).
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import quickfix as fix

from config.fix_sessions import FixConfig
from fixgw import quickfix_settings
from fixgw.application import Application
from fixgw.core import Core
from fixgw.gateway import Gateway

log = logging.getLogger(__name__)


class Acceptor:
    def __init__(self, core: Core, config: FixConfig, data_dir: Path) -> None:
        self.config = config
        self.gateway = Gateway(core, config)
        self.application = Application(self.gateway, config)
        self.settings_path = quickfix_settings.write(config, data_dir)
        self._acceptor: fix.ThreadedSocketAcceptor | None = None

    @property
    def address(self) -> str:
        return f"{self.config.acceptor.host}:{self.config.acceptor.port}"

    def start(self) -> None:
        """Bind the gateway to the running loop and start accepting (fix.ConfigError on bad settings)."""
        self.gateway.attach(asyncio.get_running_loop())
        settings = fix.SessionSettings(str(self.settings_path))
        if self.config.acceptor.store == "memory":
            store: fix.MessageStoreFactory = fix.MemoryStoreFactory()
        else:
            store = fix.FileStoreFactory(settings)
        self._store = store  # quickfix keeps raw pointers: the factory must outlive the acceptor
        self._settings = settings
        self._acceptor = fix.ThreadedSocketAcceptor(self.application, store, settings)
        self._acceptor.start()
        log.info("FIX acceptor listening on %s", self.address)

    def stop(self) -> None:
        """Log every session out and stop the engine threads (blocks for up to a few seconds)."""
        if self._acceptor is not None:
            # no send may run while quickfix tears its sessions down (a send racing it crashes)
            with self.gateway.send_lock:
                self.gateway.closed = True
                self._acceptor.stop()
                self._acceptor = None
