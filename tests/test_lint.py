import subprocess

from nbexec import REPO

RUFF = str(REPO / ".venv/bin/ruff")


def test_ruff_check_is_clean():
    """Does the whole tree, notebooks included, pass the linter pre-commit runs?"""
    out = subprocess.run(
        [RUFF, "check", "--output-format", "concise", "."], cwd=REPO, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format_is_clean():
    """Is the tree formatted as pre-commit's ruff-format would leave it?"""
    out = subprocess.run([RUFF, "format", "--check", "."], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
