"""The resume journal of a ``grade`` run: one file per graded notebook, written atomically as soon
as its row is known, so an interrupted run (Ctrl-C, ``kill -9``, a reboot) loses nothing.

Running the same command again reuses an entry only when everything that decides its row is
unchanged: the submission's bytes, the instructor notebook, its expected values, the grader's and
``course_utils``' source, the grading configuration (``--workers`` and the progress bar aside:
they never change a row) and the chapter's instructor timings that calibrate its limits (the
job's ``timings``, as the grading parent resolved them: re-measuring one chapter re-grades only
that chapter; where the timings file is, is not part of the key). Anything else (another
submission, a new chapter version, other limits) is graded again. A damaged entry is graded again
with a warning. The journal lives next to the CSV (``grades.journal/`` for ``grades.csv``);
``grade --fresh`` ignores and replaces it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from pathlib import Path

from autograder.paths import atomic_write_text
from autograder.version import code_version

log = logging.getLogger("autograder")

#: Identifies a journal entry's layout (bumped if it changes).
JOURNAL_FORMAT = "keras-deep-dive-autograder-journal/1"

#: Configuration sections/options that never change a row, so they never invalidate an entry
#: (the timings file goes in by the chapter's entry, per job).
ROW_NEUTRAL_OPTIONS = {
    ("GradeRunner", "workers"),
    ("GradeRunner", "progress"),
    ("ExecuteGraded", "timings_file"),
}


def journal_dir(csv_path: Path) -> Path:
    """Where the journal of ``csv_path`` lives: ``<folder>/<stem>.journal/``."""
    csv_path = Path(csv_path)
    return csv_path.with_name(csv_path.stem + ".journal")


def config_fingerprint(config) -> str:
    """The grading configuration as canonical JSON, without the options that never change a
    row."""
    plain = json.loads(json.dumps(config, sort_keys=True, default=str))
    for section, option in ROW_NEUTRAL_OPTIONS:
        plain.get(section, {}).pop(option, None)
        if plain.get(section) == {}:
            del plain[section]
    return json.dumps(plain, sort_keys=True)


def _file_hash(path) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except (OSError, TypeError):
        return None


class Journal:
    """The journal of one ``grade`` run (``folder``), for one grading configuration."""

    def __init__(self, folder: Path, config, fresh: bool = False):
        self.folder = Path(folder)
        if fresh and self.folder.exists():
            shutil.rmtree(self.folder)
        self._context = hashlib.sha256(
            (JOURNAL_FORMAT + code_version() + config_fingerprint(config)).encode()
        ).hexdigest()

    def _path(self, job: dict) -> Path:
        return self.folder / job["student_id"] / f"{job['notebook']}.json"

    def key(self, job: dict) -> str:
        """What decides this job's row: the run's context plus the job's own inputs."""
        digest = hashlib.sha256(self._context.encode())
        parts = (job["student_id"], job["notebook"], job.get("feedback"), job.get("course"))
        for part in (*parts, job.get("timings")):
            digest.update(json.dumps(part, sort_keys=True).encode() + b"\0")
        for path in (job["path"], job["source"], job.get("expected")):
            digest.update((_file_hash(path) or "missing").encode() + b"\0")
        return digest.hexdigest()

    def load(self, job: dict) -> dict | None:
        """The journaled row of ``job``, or ``None`` when it must be graded (again)."""
        path = self._path(job)
        if not path.exists():
            return None
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            if entry.get("format") != JOURNAL_FORMAT:
                raise ValueError(f"format {entry.get('format')!r}")
            row = entry["row"]
            if not isinstance(row, dict) or {"student_id", "notebook", "status"} - set(row):
                raise ValueError("no row")
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning(
                "journal entry %s is damaged (%s): %s/%s is graded again",
                path,
                exc,
                job["student_id"],
                job["notebook"],
            )
            return None
        if entry.get("key") != self.key(job):
            log.info("%s/%s changed since it was journaled: graded again", *self._who(job))
            return None
        if (row["student_id"], row["notebook"]) != self._who(job):
            log.warning("journal entry %s names another submission: graded again", path)
            return None
        return row

    def record(self, job: dict, row: dict) -> None:
        """Journal ``row`` for ``job`` (atomically: a crash leaves the old entry or none)."""
        entry = {"format": JOURNAL_FORMAT, "key": self.key(job), "row": row}
        try:
            atomic_write_text(self._path(job), json.dumps(entry, sort_keys=True) + "\n")
        except OSError as exc:  # a full disk costs the resume, never the grade
            log.warning("could not journal %s/%s: %s", *self._who(job), exc)

    @staticmethod
    def _who(job: dict) -> tuple[str, str]:
        return job["student_id"], job["notebook"]
