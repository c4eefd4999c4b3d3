"""The grader's own version: a hash of the code that decides a grade (the grader and
``course_utils``, which runs on both sides). Cached results (the resume journal, calibrated
timings) are reused only under the same version."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent


@lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of the grader's and ``course_utils``' Python sources."""
    digest = hashlib.sha256()
    for package in ("autograder", "course_utils"):
        for path in sorted((PACKAGE_ROOT / package).rglob("*.py")):
            digest.update(str(path.relative_to(PACKAGE_ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()
