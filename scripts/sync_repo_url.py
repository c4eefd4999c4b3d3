"""Copy the repository URL from course_utils.config into every notebook and the README.

The URL lives in one place, ``course_utils/config.py`` (``REPO_URL``, ``REPO_BRANCH``). Each
chapter notebook carries two derived copies: its "Open in Colab" badge, which points at the
student copy ``autograder/release/<stem>/<stem>.ipynb``, and the Colab bootstrap's
``%pip install`` line. A fork edits config.py, then runs:

    python scripts/sync_repo_url.py          # rewrite notebooks/ and README.md
    python scripts/sync_repo_url.py --check  # exit 1 if anything is out of date (the tests)

then ``python -m autograder release`` to refresh the student copies.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

from autograder.paths import REPO, chapters, release_path
from course_utils.config import colab_badge_url, pip_spec

BADGE = re.compile(r"https://colab\.research\.google\.com/github/[^)\s\"']+?\.ipynb")
PIP = re.compile(r"keras-deep-dive @ git\+[^\"'\s]+")


def sync_text(text: str, stem: str | None) -> str:
    """Rewrite badge links and pip specs in ``text``.

    In a notebook (``stem`` given) the badge points at that chapter's student copy; in the
    README each badge keeps its own chapter, taken from the link itself.
    """

    def badge(match: re.Match) -> str:
        target = stem or Path(match.group(0)).stem
        return colab_badge_url(release_path(target).relative_to(REPO).as_posix())

    return PIP.sub(pip_spec(), BADGE.sub(badge, text))


def sync_notebook(path: Path, write: bool) -> bool:
    """Return True if ``path`` was (or, without ``write``, would be) changed."""
    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        new = sync_text(cell.source, path.stem)
        if new != cell.source:
            cell.source = new
            changed = True
    if changed and write:
        nbformat.write(nb, path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report; exit 1 on drift")
    args = parser.parse_args(argv)
    stale = []
    for path in chapters().values():
        if sync_notebook(path, write=not args.check):
            stale.append(path)
    readme = REPO / "README.md"
    text = readme.read_text(encoding="utf-8")
    new = sync_text(text, None)
    if new != text:
        stale.append(readme)
        if not args.check:
            readme.write_text(new, encoding="utf-8")
    verb = "out of date" if args.check else "updated"
    for path in stale:
        print(f"{verb}: {path.relative_to(REPO)}")
    if args.check and stale:
        print("Run: python scripts/sync_repo_url.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
