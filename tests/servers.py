"""What the tests that need a server share (PostgreSQL, Slurm, a Chromium browser).

Outside CI such a test skips, with the reason, where its server cannot start (not root, a Debian
package missing). Under ``CI=true`` it fails instead: CI installs every server (``make install``
runs ``scripts/install_system_deps.sh``), so a server that does not start there is a broken
machine, and a skip would hide it.
"""

from __future__ import annotations

import os
import socket
from typing import NoReturn

import pytest


def in_ci() -> bool:
    """Is this a CI run (``CI`` set to ``true``, ``1`` or ``yes``)?"""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require_server(reason: str) -> NoReturn:
    """The server this test needs cannot start: skip with ``reason``, or fail under CI."""
    __tracebackhide__ = True  # pytest names the test's line, not this one
    if in_ci():
        pytest.fail(f"CI=true, so a missing server fails the test: {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
