"""Every status the grader reports, defined once: a CSV row's ``status`` and a cell's ``status``
in ``grades.json``. The CLI summary, the gradebook, the feedback and the README tables read
these (``tests/autograder/test_statuses.py`` holds the README to them)."""

from __future__ import annotations

from enum import Enum


class _Described(str, Enum):
    """A status: its value is what the files say, ``meaning`` what the README says."""

    def __new__(cls, value: str, meaning: str):
        member = str.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member

    def __str__(self) -> str:
        return self.value


class RowStatus(_Described):
    """The ``status`` column of the CSV: what happened to one submission."""

    OK = "ok", "graded normally (the message lists cells the autograder had to repair)"
    TIMEOUT = (
        "timeout",
        "a cell hit its time limit (interrupted; grading went on) or the notebook hit "
        "`--timeout` / ignored the interrupt (the rest scored 0)",
    )
    KERNEL_DIED = (
        "kernel_died",
        "the kernel exited (`os._exit`, crash, out of memory); cells after that scored 0",
    )
    ERROR = (
        "error",
        "the file could not be graded at all (broken JSON, not a notebook, unreadable), or the "
        "chapter's expected values could not be computed; score 0",
    )
    UNKNOWN_NOTEBOOK = "unknown_notebook", "the file name matches no chapter in `notebooks/`"
    MEMORY_LIMIT = (
        "memory_limit",
        "the student's code went over `--memory` (`MemoryError`, TensorFlow's OOM, or the kernel "
        "was killed for it); the message names the cell; other cells and students are graded "
        "normally",
    )
    DISK_FULL = (
        "disk_full",
        "the student's code filled the kernel's private disk space (`--disk`); the message "
        "names the cell; other cells and students are graded normally",
    )
    SYMLINK = (
        "symlink",
        "the submission (or a folder between it and the student's folder) is a symbolic link; "
        "not graded, score 0",
    )
    TOO_LARGE = "too_large", "the file is over `--max-size`; not opened, score 0"
    FLAGGED = (
        "flagged",
        "graded, and the score stands, but the student's code uses a technique aimed at the "
        "grader (`flagged: cell 12 (ch01_build_mlp): exec`); the `grade` summary lists these "
        "for review",
    )
    MISSING = (
        "missing",
        "(with `--roster`) a roster student handed in nothing for this chapter; score 0",
    )


class CellStatus(_Described):
    """A cell's ``status`` in ``grades.json``: the outcome of one autograded cell."""

    PASSED = "passed", "its visible checks ran without error and every hidden test matched"
    FAILED = "failed", "its visible checks raised an error (or the cell timed out)"
    HIDDEN_FAILED = (
        "hidden_failed",
        "the visible checks passed, but a probed value did not match the expected one",
    )
    CONSTRAINT_FAILED = (
        "constraint_failed",
        "the values matched, but the student's code breaks a constraint the task states",
    )
    NOT_RUN = (
        "not_run",
        "never ran (the kernel died, time ran out, or the file could not be graded)",
    )
    MISSING = (
        "missing",
        "the student deleted it and it was not re-inserted, or nothing was handed in",
    )


def markdown_table(statuses: type[_Described]) -> str:
    """The README's table of ``statuses``: ``| `value` | meaning |`` rows."""
    rows = ["| status | meaning |", "| --- | --- |"]
    rows += [f"| `{s.value}` | {s.meaning} |" for s in statuses]
    return "\n".join(rows)
