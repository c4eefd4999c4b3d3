"""A student's working folder: their own copies of the chapters, never the instructor's.

``notebooks/`` holds the instructor copies (solutions and hidden tests); the student copies are
``autograder/release/<chapter>/<chapter>.ipynb``. This module copies those into one flat folder,
``workspace/`` at the repository root by default (git-ignored), which ``make lab`` serves and the
README's path without make opens::

    python -m course_utils.workspace [--dest workspace] [--source autograder/release]

Run it again at any time: it adds the chapters released since, and never touches a file that
is already there (a student's work is never overwritten, even when its chapter was re-released).
It records what it copied in ``<dest>/.course-release.json`` (name -> SHA-256 of the copy), so
that a later run can say, in one line, which chapters have a newer release; to take one, the
student renames (or deletes) their copy and runs it again.

The notebooks find the course data through the ``course_utils`` package itself
(``course_utils.data`` reads ``data/`` next to the package, not the working directory), so they
run the same from ``workspace/`` as from ``notebooks/``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

#: The repository this package sits in (an editable install or a clone on ``sys.path``).
REPO_ROOT = Path(__file__).resolve().parent.parent
#: Where ``python -m autograder release`` writes the student copies.
RELEASE_DIR = REPO_ROOT / "autograder" / "release"
#: The student's working folder, git-ignored.
DEFAULT_DEST = REPO_ROOT / "workspace"
#: What was copied, and the release it came from (hidden: JupyterLab does not list dotfiles).
MANIFEST = ".course-release.json"
#: A chapter's assignment id, which is also its notebook's stem: ``NN_topic``.
CHAPTER = re.compile(r"[0-9][0-9]_\w+")


class WorkspaceError(Exception):
    """The student copies could not be found, or the working folder could not be written."""


@dataclass
class Report:
    """What :func:`sync` did: file names in ``dest``, in chapter order."""

    dest: Path
    copied: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    newer: list[str] = field(default_factory=list)

    @property
    def first(self) -> str | None:
        """The first chapter's file name (where a newcomer starts)."""
        return min(self.copied + self.kept, default=None)

    def lines(self) -> list[str]:
        """What to tell the student: a few lines, Chinese then English."""
        out = []
        if self.copied:
            out.append(
                f"==> 已复制 {len(self.copied)} 章到 {_shown(self.dest)} "
                f"(copied {len(self.copied)} chapter(s) to your workspace): "
                + ", ".join(self.copied)
            )
        if self.kept:
            out.append(
                f"==> 保留你已有的 {len(self.kept)} 个文件，未改动 "
                f"(kept your {len(self.kept)} existing file(s) unchanged)"
            )
        if self.newer:
            out.append(
                "==> 这些章有新版本，你的文件保持不变；要换成新版，先把你的文件改名再运行一次 "
                "(newer release, yours is kept; rename yours and run again to get it): "
                + ", ".join(self.newer)
            )
        return out


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it is below it (shorter to read)."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve()).as_posix() + "/"
    except ValueError:
        return str(path)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def released_chapters(source: Path = RELEASE_DIR) -> dict[str, Path]:
    """``{file name: student copy}`` of every chapter under ``source``, in chapter order.

    Raises :class:`WorkspaceError` (Chinese and English) when ``source`` is missing or empty.
    """
    source = Path(source)
    found = {}
    if source.is_dir():
        for folder in sorted(source.iterdir()):
            notebook = folder / f"{folder.name}.ipynb"
            if CHAPTER.fullmatch(folder.name) and notebook.is_file():
                found[notebook.name] = notebook
    if not found:
        zh, en = (
            ("不存在", "is missing") if not source.is_dir() else ("里没有章节", "holds no chapter")
        )
        raise WorkspaceError(
            f"找不到学生版笔记本：{source} {zh}。请在课程仓库的 git 克隆中运行，"
            "或请老师运行 `python -m autograder release` 生成学生版。\n"
            f"No student copies of the chapters: {source} {en}. Run this from a git clone of "
            "the course repository (the student copies are committed under autograder/release/), "
            "or ask the instructor to run `python -m autograder release`."
        )
    return found


def _read_manifest(dest: Path) -> dict[str, str]:
    try:
        data = json.loads((dest / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    copied = data.get("copied", {}) if isinstance(data, dict) else {}
    return {k: v for k, v in copied.items() if isinstance(k, str) and isinstance(v, str)}


def _write_manifest(dest: Path, copied: dict[str, str]) -> None:
    text = json.dumps(
        {
            "about": "What course_utils.workspace copied here: file name -> SHA-256 of the "
            "student copy it was copied from (to tell when a newer release exists).",
            "copied": dict(sorted(copied.items())),
        },
        indent=1,
    )
    tmp = dest / f"{MANIFEST}.tmp"
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, dest / MANIFEST)


def sync(dest: Path = DEFAULT_DEST, source: Path = RELEASE_DIR) -> Report:
    """Copy into ``dest`` every released chapter it lacks; never change a file already there.

    A file already in ``dest`` whose recorded release differs from the current one is reported
    in ``Report.newer`` (and stays as it is). Returns what was done.
    """
    chapters = released_chapters(source)
    dest = Path(dest)
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WorkspaceError(f"无法创建文件夹 (cannot create the folder) {dest}: {exc}") from exc
    recorded = _read_manifest(dest)
    report = Report(dest=dest)
    changed = False
    for name, release in chapters.items():
        data = release.read_bytes()
        digest = _sha256(data)
        target = dest / name
        try:
            # "x": create only; a file that appeared meanwhile is left alone too.
            with open(target, "xb") as fh:
                fh.write(data)
        except FileExistsError:
            report.kept.append(name)
            if name in recorded:
                if recorded[name] != digest:
                    if _sha256(target.read_bytes()) == digest:
                        recorded[name], changed = digest, True  # already the new release
                    else:
                        report.newer.append(name)
            elif _sha256(target.read_bytes()) == digest:
                recorded[name], changed = digest, True  # an unrecorded, unchanged copy
            continue
        except OSError as exc:
            raise WorkspaceError(f"无法写入 (cannot write) {target}: {exc}") from exc
        report.copied.append(name)
        recorded[name], changed = digest, True
    if changed:
        _write_manifest(dest, recorded)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.workspace",
        description="Copy the student copies of the chapters (autograder/release/) into your "
        "working folder; files already there are never overwritten.",
    )
    parser.add_argument(
        "--dest",
        type=Path,
        default=DEFAULT_DEST,
        help=f"the working folder (default: {DEFAULT_DEST})",
    )
    parser.add_argument(
        "--source",
        type=Path,
        default=RELEASE_DIR,
        help=f"where the student copies are (default: {RELEASE_DIR})",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="print only the newer-release line and errors"
    )
    args = parser.parse_args(argv)
    try:
        report = sync(args.dest, args.source)
    except WorkspaceError as exc:
        print(exc, file=sys.stderr)
        return 1
    for line in report.lines():
        if not args.quiet or line.startswith("==> 这些章有新版本"):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
