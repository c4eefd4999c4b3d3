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


@pytest.fixture(autouse=True)
def _pytest_log_file_stays_open(request):
    plugin = request.config.pluginmanager.get_plugin("logging-plugin")
    handler = getattr(plugin, "log_file_handler", None)
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
        # Not setStream: it would flush into the descriptor that is no longer the handler's.
        handler.stream = open(name, handler.mode, encoding="utf-8")  # noqa: SIM115
