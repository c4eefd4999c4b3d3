"""Build a synthetic class of submissions from instructor notebooks (used by the grade tests).

Every builder takes the instructor notebook (and its student copy) and returns the notebook a
student would hand in; ``inject`` puts a misbehaving cell right after the Setup cells.
"""

from __future__ import annotations

import copy
import uuid

import nbformat
from nbformat.v4 import new_code_cell

# A loop the kernel cannot interrupt: it swallows KeyboardInterrupt.
STUBBORN_LOOP = """import time
while True:
    try:
        time.sleep(0.05)
    except KeyboardInterrupt:
        pass"""

# Later cells (grade cells included) get harmless warnings on stderr, written to file
# descriptor 2 by a thread (a pre_run_cell hook would be undone before grade cells, and flagged).
STDERR_WARNINGS = """import os, threading, time, warnings
def _warn():
    while True:
        os.write(2, b"UserWarning: something harmless\\n")
        time.sleep(0.05)
threading.Thread(target=_warn, daemon=True).start()
warnings.warn("harmless warning at import time")"""

BAD_CELLS = {
    "os_exit": "import os\nos._exit(1)",
    "infinite_loop": "while True:\n    pass",
    "stubborn_loop": STUBBORN_LOOP,
    "huge_print": 'print("x" * 200_000_000)',
    "stderr_warning": STDERR_WARNINGS,
}


def nbg(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def grade_cells(nb) -> list:
    return [c for c in nb.cells if nbg(c).get("grade") and not nbg(c).get("solution")]


def answer_cells(nb) -> list:
    return [c for c in nb.cells if nbg(c).get("solution")]


def setup_end(nb) -> int:
    """Index just after the last code cell before the first exercise cell."""
    first = next(i for i, c in enumerate(nb.cells) if nbg(c))
    code = [i for i, c in enumerate(nb.cells[:first]) if c.cell_type == "code"]
    return (code[-1] + 1) if code else first


def inject(instructor, source: str):
    nb = copy.deepcopy(instructor)
    nb.cells.insert(setup_end(nb), new_code_cell(source, id=f"bad-{uuid.uuid4().hex[:8]}"))
    return nb


def partial(instructor, blank):
    """The blank copy with only the first exercise answered (instructor's answer)."""
    nb = copy.deepcopy(blank)
    first = answer_cells(instructor)[0]
    for cell in nb.cells:
        if nbg(cell).get("grade_id") == nbg(first)["grade_id"]:
            cell.source = first.source
    return nb


def tampered(blank):
    """Blank answers; grade cells rewritten so that, unrestored, they would all pass.

    First grade cell: source replaced by ``pass``; second: points raised to 100 and turned into
    a markdown cell; third (if any): metadata schema broken (what made stock nbgrader abort).
    """
    nb = copy.deepcopy(blank)
    cells = grade_cells(nb)
    cells[0].source = "pass"
    if len(cells) > 1:
        cells[1].metadata.nbgrader["points"] = 100
        cells[1].cell_type = "markdown"
        cells[1].pop("outputs", None)
        cells[1].pop("execution_count", None)
        cells[1].source = "no test here"
    if len(cells) > 2:
        cells[2].metadata.nbgrader.pop("schema_version", None)
        cells[2].source = "pass"
    return nb


def deleted(instructor):
    """Instructor answers with the first grade cell deleted."""
    nb = copy.deepcopy(instructor)
    nb.cells.remove(grade_cells(nb)[0])
    return nb


def duplicated(instructor):
    """Instructor answers; the first grade cell pasted again at the end, with outdated metadata."""
    nb = copy.deepcopy(instructor)
    dup = copy.deepcopy(grade_cells(nb)[0])
    dup["id"] = "pasted-copy"
    dup.metadata.nbgrader.pop("schema_version", None)
    dup.source = "raise AssertionError('my copy')"
    nb.cells.append(dup)
    return nb


def extra(instructor):
    """Instructor answers plus a cell claiming a grade id and 100 points the chapter lacks."""
    nb = copy.deepcopy(instructor)
    meta = {
        "grade": True,
        "grade_id": "my_bonus_points",
        "locked": True,
        "points": 100,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    nb.cells.append(new_code_cell("print('bonus')", metadata={"nbgrader": meta}, id="bonus"))
    return nb


def write(nb, path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
