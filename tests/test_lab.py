import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

from nbexec import REPO, chapter_notebooks


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_lab_serves_the_course():
    """Does `make lab` start a JupyterLab server on localhost that lists the course?"""
    port, token = _free_port(), "course-test-token"
    args = (
        f"--no-browser --ip=127.0.0.1 --port={port} --IdentityProvider.token={token} "
        "--ServerApp.port_retries=0"
    )
    proc = subprocess.Popen(
        ["make", "lab", f"LAB_ARGS={args}"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline, listing, last_error = time.time() + 120, None, None
        while time.time() < deadline and listing is None:
            if proc.poll() is not None:
                raise AssertionError(f"make lab exited early:\n{proc.stdout.read().decode()}")
            try:
                req = urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/contents/notebooks?content=1",
                    headers={"Authorization": f"token {token}"},
                )
                with urllib.request.urlopen(req, timeout=5) as resp:
                    listing = json.load(resp)
            except OSError as exc:
                last_error = exc
                time.sleep(1)
        assert listing is not None, f"server never answered: {last_error}"
        names = {item["name"] for item in listing["content"]}
        assert "AUTHORING.md" in names
        assert {p.name for p in chapter_notebooks()} <= names
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}", timeout=10) as r:
            assert r.status == 200 and b"JupyterLab" in r.read()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
