"""Expected values: every ``expect`` of a chapter, computed where no student code ever ran.

For each chapter a fresh kernel runs the instructor notebook's Setup cells and then, grade
cell by grade cell, the reference side of its hidden block (``autograder/hidden_tests.py``)
with ``course_utils.grading.expect`` recording instead of comparing. The values are plain data,
written to a JSON file in ``References.cache_dir`` named after a hash of everything they depend
on (the Setup and reference code, the grading module, Python/NumPy/TensorFlow/Keras versions),
so a chapter is computed once per version and machine kind, and shards or workers that need
it at the same time wait for one computation (a file lock). Grading workers only read the
file; the student's kernel never sees it.

``python -m autograder.reference NOTEBOOK OUT.json`` is the subprocess that computes one
chapter (the grading parent runs several at once).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import nbformat
from traitlets import Float, Unicode
from traitlets.config import LoggingConfigurable

from autograder.hidden_tests import HiddenTestError, setup_sources, split_notebook
from autograder.paths import atomic_write_text

#: Printed by the reference kernel before the JSON of the recorded values.
MARK = "\x1eautograder-expected:"
_VERSIONED = ("numpy", "tensorflow", "tensorflow-cpu", "keras")


class ReferenceValuesError(Exception):
    """The reference values of a chapter could not be computed (an author's error)."""


def _versions() -> str:
    found = []
    for name in _VERSIONED:
        try:
            found.append(f"{name}={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    return f"python={sys.version_info[:3]};" + ";".join(found)


def fingerprint(nb) -> str:
    """A hash of everything a chapter's expected values depend on."""
    digest = hashlib.sha256()
    for source in setup_sources(nb):
        digest.update(source.encode() + b"\0")
    for gid, block in split_notebook(nb).items():
        digest.update(gid.encode() + b"\0" + "\n".join(block.reference).encode() + b"\0")
    grading = Path(__import__("course_utils.grading").grading.__file__)
    digest.update(grading.read_bytes())
    digest.update(_versions().encode())
    return digest.hexdigest()[:20]


def reference_notebook(nb) -> nbformat.NotebookNode:
    """A notebook of the Setup cells and one cell per grade cell's reference side; its last
    cell prints the recorded values."""
    from nbformat.v4 import new_code_cell, new_notebook

    cells = [new_code_cell(s) for s in setup_sources(nb)]
    cells.append(
        new_code_cell(
            "import course_utils.grading as _autograder_grading\n_autograder_expected = {}"
        )
    )
    for gid, block in split_notebook(nb).items():
        cells.append(
            new_code_cell(
                f"_autograder_grading._record(_autograder_expected.setdefault({gid!r}, {{}}))\n"
                + "\n".join(block.reference),
                metadata={"autograder_key": gid},
            )
        )
    cells.append(
        new_code_cell(
            "import json as _autograder_json\n"
            f"print({MARK!r} + _autograder_json.dumps(_autograder_expected, allow_nan=False))"
        )
    )
    return new_notebook(cells=cells)


def compute(source: Path, timeout: float = 600.0) -> dict:
    """Run one chapter's reference notebook in a fresh kernel; return ``{grade_id: {key: ...}}``."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(str(source), as_version=4)
    ref = reference_notebook(nb)
    env = dict(os.environ)
    env.update(
        NBGRADER_EXECUTION="autograde",
        COURSE_SIZE="small",
        TF_CPP_MIN_LOG_LEVEL="2",
        MPLBACKEND="module://matplotlib_inline.backend_inline",
    )
    import tempfile

    with tempfile.TemporaryDirectory(prefix="autograder-reference-") as cwd:
        client = NotebookClient(
            ref, timeout=int(timeout), kernel_name="python3", resources={"metadata": {"path": cwd}}
        )
        try:
            client.execute(env=env)
        except CellExecutionError as exc:
            cell = next(
                (c for c in ref.cells if any(o.get("output_type") == "error" for o in c.outputs)),
                None,
            )
            where = cell.metadata.get("autograder_key", "Setup") if cell is not None else "?"
            raise ReferenceValuesError(
                f"{source.name}: the reference side of {where} raised: "
                + str(exc).strip().splitlines()[-1][:300]
            ) from None
    text = "".join(o.get("text", "") for o in ref.cells[-1].outputs if o.get("name") == "stdout")
    if MARK not in text:
        raise ReferenceValuesError(f"{source.name}: the reference kernel printed no values")
    return json.loads(text.split(MARK, 1)[1])


class References(LoggingConfigurable):
    """Where expected values are cached, and how long computing one chapter may take."""

    cache_dir = Unicode(
        str(
            Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
            / "keras-deep-dive"
            / "expected"
        ),
        help="Folder of the cached expected values, one JSON file per chapter version "
        "(grader side only: never mounted in the sandbox).",
    ).tag(config=True)

    timeout = Float(900.0, help="Seconds computing one chapter's expected values may take.").tag(
        config=True
    )

    def path(self, source: Path) -> Path:
        nb = nbformat.read(str(source), as_version=4)
        return Path(self.cache_dir) / f"{Path(source).stem}-{fingerprint(nb)}.json"

    def ensure(
        self, sources: list[Path], parallel: int = 1
    ) -> tuple[dict[str, Path], dict[str, str]]:
        """Compute (or find cached) the expected values of each chapter in ``sources``.

        Returns ``({stem: path of its values}, {stem: error message})``: a chapter whose
        reference side fails is named in the second dict, and the others are still ready.
        """
        ready, failed, todo = {}, {}, []
        for source in sources:
            source = Path(source)
            try:
                path = self.path(source)
            except (HiddenTestError, OSError, ValueError) as exc:
                failed[source.stem] = f"cannot read the hidden tests of {source.name}: {exc}"
                continue
            if path.exists():
                ready[source.stem] = path
            else:
                todo.append((source, path))
        running: list[tuple[Path, Path, subprocess.Popen, object]] = []
        while todo or running:
            while todo and len(running) < max(1, parallel):
                source, path = todo.pop(0)
                lock = _lock(path)
                if path.exists():  # another process computed it while we waited for the lock
                    _unlock(lock)
                    ready[source.stem] = path
                    continue
                proc = subprocess.Popen(
                    [sys.executable, "-m", "autograder.reference", str(source), str(path),
                     str(self.timeout)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                )  # fmt: skip
                running.append((source, path, proc, lock))
            if not running:  # every chapter left was computed by another process meanwhile
                continue
            source, path, proc, lock = running.pop(0)
            try:
                _, err = proc.communicate(timeout=self.timeout + 60)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
                err = f"timed out after {self.timeout:g} s"
            finally:
                _unlock(lock)
            if proc.returncode == 0 and path.exists():
                ready[source.stem] = path
            else:
                lines = [line for line in (err or "").strip().splitlines() if line.strip()]
                failed[source.stem] = lines[-1] if lines else f"exit code {proc.returncode}"
        return ready, failed


def _lock(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path.with_suffix(".lock"), "w")  # noqa: SIM115 - held until _unlock
    fcntl.flock(fh, fcntl.LOCK_EX)
    return fh


def _unlock(fh) -> None:
    with contextlib.suppress(OSError):
        fcntl.flock(fh, fcntl.LOCK_UN)
        fh.close()


def load(path: Path) -> dict:
    """The expected values in ``path`` (written by this module, read by grading workers)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def main(argv: list[str]) -> int:
    source, out = Path(argv[0]), Path(argv[1])
    timeout = float(argv[2]) if len(argv) > 2 else 900.0
    try:
        values = compute(source, timeout)
    except ReferenceValuesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    atomic_write_text(out, json.dumps(values, sort_keys=True, allow_nan=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
