"""The running venue's log lines on stderr: UTC time to the millisecond, level, logger, message.

Without this, Python's last-resort handler printed bare messages, WARNING and above only: no time,
no level, so an operator could not tell a retried journal write from a lost one, nor when.
"""

from __future__ import annotations

import logging
import sys
import time

FORMAT = "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"


def configure(level: str) -> None:
    """Send records at ``level`` (a logging level name) and above to stderr, replacing any handler."""
    formatter = logging.Formatter(FORMAT, DATE_FORMAT)
    formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
