import os
import sys
import warnings
from pathlib import Path

import pytest

# Tests always run the course at small size, whatever the caller set.
os.environ["COURSE_SIZE"] = "small"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
sys.path.insert(0, str(Path(__file__).resolve().parent))


# --- pytest's own log-file descriptor ----------------------------------------------------------
# A CI run once passed every test and then failed in pytest_unconfigure: flushing pytest's
# log-file handler (opened on /dev/null) raised EINVAL, so its file descriptor had been closed by
# something during the run and reused (by an eventfd, say). After every test we check that the
# descriptor still leads to the same file; if not, the test that changed it is named in a
# warning and the handler gets a fresh stream, so the run's verdict stays the tests' own.
def _fd_target(fd: int) -> str | None:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def _log_file_handler(config):
    plugin = config.pluginmanager.get_plugin("logging-plugin")
    return getattr(plugin, "log_file_handler", None)


def _renew_stream(handler, name: str) -> None:
    # Not setStream: it would flush into the descriptor that is no longer the handler's.
    handler.stream = open(name, handler.mode, encoding="utf-8")  # noqa: SIM115


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure(config):
    """The same check once more before pytest closes the handler: session fixtures (servers,
    sandboxes) are torn down after the last test's own check."""
    handler = _log_file_handler(config)
    stream = getattr(handler, "stream", None)
    name = getattr(stream, "name", None)
    if isinstance(name, str) and name == os.devnull:
        try:
            target = _fd_target(stream.fileno())
        except (OSError, ValueError):
            target = None
        if target != os.devnull:
            _renew_stream(handler, name)


@pytest.fixture(autouse=True)
def _pytest_log_file_stays_open(request):
    handler = _log_file_handler(request.config)
    stream = getattr(handler, "stream", None)
    try:
        fd, name = stream.fileno(), stream.name
    except (AttributeError, OSError, ValueError):
        yield
        return
    before = _fd_target(fd)
    yield
    after = _fd_target(fd)
    if before is not None and after != before:
        warnings.warn(
            f"{request.node.nodeid} closed or replaced file descriptor {fd} ({before} -> "
            f"{after}), which pytest's log-file handler owns; the handler was given a new stream",
            stacklevel=1,
        )
        _renew_stream(handler, name)
