"""Logging: one event per line, key=value, never a message body or a token."""

from __future__ import annotations

import logging
import sys


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Telegram's library logs the token and every call's parameters (names, texts) at DEBUG:
    # held at WARNING whatever our level, like the HTTP clients.
    for noisy in ("aiohttp.access", "httpx", "httpcore", "telegram", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
