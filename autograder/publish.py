"""``python -m autograder publish``: write the student side of the course to a folder of its own.

The repository as a whole is instructor material: ``notebooks/`` holds the solutions and the
hidden tests (with their ``ref_*`` references), ``autograder/`` the grader. Grading does not rely
on any of that being secret (it protects what runs and what decides the score), but an
instructor who wants the solutions kept from students keeps this repository private and pushes
the folder this command writes as the public student repository instead:

    notebooks/<chapter>.ipynb   each chapter's student copy (a fresh release of notebooks/), with
                                its Colab badge and Setup cell's ``%pip install`` pointing at
                                the published repository
    course_utils/               the helper package, whole (its ``REPO_URL`` set to the same URL)
    data/                       the shipped Fashion-MNIST subset and its provenance
    pyproject.toml              packages ``course_utils`` only: same name, version, dependencies
                                and extras as this repository's, without the ``dev`` extra
    README.md                   a student quick start (English and Chinese) with Colab badges
    LICENSE

Nothing else: no instructor notebook, no ``autograder`` package, no tests, no benchmarks.
Before it returns, every file written is scanned for solution and hidden-test markers, ``ref_*``
definitions and ``expect(...)`` calls; any hit is an error.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import tomllib
from pathlib import Path

import nbformat

from autograder.paths import NOTEBOOKS, RELEASE, REPO, atomic_write_text, release_path

#: Top-level entries the published tree holds, and nothing else.
LAYOUT = ("README.md", "LICENSE", "pyproject.toml", "course_utils", "data", "notebooks")
#: Extras of the repository's pyproject that are for the course's authors, not its students.
AUTHOR_EXTRAS = frozenset({"dev"})
#: Folders under data/ that are never published (``data/fashion-mnist/`` is a local, uncommitted
#: copy of the full data set; see data/README.md).
DATA_SKIP = frozenset({"fashion-mnist"})
#: Names skipped everywhere when copying (caches, editor and build litter).
COPY_IGNORE = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "*.pyo", ".*", "*.egg-info", "build", "dist"
)

# The same patterns as scripts/sync_repo_url.py: the Colab badge link and the pip requirement.
BADGE = re.compile(r"https://colab\.research\.google\.com/github/[^)\s\"']+?\.ipynb")
PIP = re.compile(r"keras-deep-dive @ git\+[^\"'\s]+")
GITHUB = "https://github.com/"

#: nbgrader's region markers: none may start a line of any published file (a notebook's JSON
#: string included), nor appear at all in a published notebook. (course_utils/grading.py names
#: the hidden-test markers in its docstring, mid-line, to say what its functions are for.)
LEAK_MARKERS = (
    "### BEGIN SOLUTION",
    "### END SOLUTION",
    "### BEGIN HIDDEN TESTS",
    "### END HIDDEN TESTS",
    "=== BEGIN MARK SCHEME ===",
)
LEAK_LINE = re.compile(r'(?m)^[\s"]*(?:' + "|".join(re.escape(m) for m in LEAK_MARKERS) + ")")


class PublishError(Exception):
    """The student side could not be published (bad destination, or something would leak)."""


def _repo_config():
    from course_utils import config

    return config


def colab_badge(repo_url: str, branch: str, relative_path: str) -> str:
    """The "Open in Colab" link of ``relative_path`` in the GitHub repository ``repo_url``."""
    slug = repo_url.removeprefix(GITHUB).rstrip("/")
    return f"https://colab.research.google.com/github/{slug}/blob/{branch}/{relative_path}"


def pip_requirement(repo_url: str, branch: str) -> str:
    """The pip requirement that installs ``course_utils`` from the repository ``repo_url``."""
    return f"keras-deep-dive @ git+{repo_url}@{branch}"


def student_path(stem: str) -> str:
    """Where chapter ``stem``'s student copy lives in the published tree."""
    return f"notebooks/{stem}.ipynb"


def rewrite_text(text: str, stem: str | None, repo_url: str, branch: str) -> str:
    """Point badges, pip requirements and mentions of the source repository at ``repo_url``.

    A notebook's badge (``stem`` given) opens that chapter's published student copy; elsewhere
    each badge keeps the chapter named in its own link.
    """
    old_url = _repo_config().REPO_URL

    def badge(match: re.Match) -> str:
        return colab_badge(repo_url, branch, student_path(stem or Path(match.group(0)).stem))

    # The source repository's own URL first (not where it begins a longer name), then links.
    new_url = repo_url.rstrip("/")
    text = re.sub(re.escape(old_url) + r"(?![\w.-])", lambda _: new_url, text)
    spec = pip_requirement(repo_url, branch)
    return PIP.sub(lambda _: spec, BADGE.sub(badge, text))


def student_notebook(text: str, stem: str, repo_url: str, branch: str) -> str:
    """The released notebook ``text`` with its URLs rewritten (checksums of changed cells too)."""
    from nbgrader.utils import compute_checksum

    nb = nbformat.reads(text, as_version=4)
    changed = False
    for cell in nb.cells:
        new = rewrite_text(cell.source, stem, repo_url, branch)
        if new == cell.source:
            continue
        cell.source = new
        changed = True
        meta = cell.metadata.get("nbgrader")
        if isinstance(meta, dict) and "checksum" in meta:
            meta["checksum"] = compute_checksum(cell)
    if not changed:
        return text
    out = nbformat.writes(nb)
    return out if out.endswith("\n") else out + "\n"


def grader_imports(package: Path) -> list[str]:
    """``file:line`` of every import of the ``autograder`` package in ``package``'s modules."""
    found = []
    for path in sorted(Path(package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            if any(n == "autograder" or n.startswith("autograder.") for n in names):
                found.append(f"{path}:{node.lineno}")
    return found


def _reference_code(source: str, where: str) -> list[str]:
    """``ref_*`` definitions and ``expect(...)`` calls in Python ``source`` (an IPython magic or
    shell escape becomes ``pass``; code that does not parse is searched as text)."""
    lines = [re.sub(r"^(\s*)[%!].*", r"\1pass", line) for line in source.splitlines()]
    try:
        tree = ast.parse("\n".join(lines))
    except SyntaxError:
        hits = re.findall(r"\bdef\s+ref_\w*|\bref_\w+\s*=[^=]|\bexpect\s*\(", source)
        return [f"{where}: {hit.strip()}" for hit in hits]
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name.startswith("ref_"):
                problems.append(f"{where}:{node.lineno}: definition of {node.name}")
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            if node.id.startswith("ref_"):
                problems.append(f"{where}:{node.lineno}: assignment to {node.id}")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name == "expect":
                problems.append(f"{where}:{node.lineno}: call of expect()")
    return problems


def leaks(folder: Path) -> list[str]:
    """Everything in ``folder`` that belongs to the instructor side: solution, hidden-test and
    mark-scheme markers in any file, ``ref_*`` definitions and ``expect(...)`` calls in any
    Python module or notebook code cell, and any ``autograder`` package or import."""
    folder = Path(folder)
    problems = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel.split("/")[0] == "autograder" or "/autograder/" in f"/{rel}":
            problems.append(f"{rel}: grader code")
        data = path.read_bytes()
        text = data.decode("utf-8", errors="replace")
        for match in LEAK_LINE.finditer(text):
            marker = match.group(0).lstrip(' \t\n"')
            problems.append(f"{rel}: a line starts with {marker!r}")
        if path.suffix == ".ipynb":
            problems += [f"{rel}: contains {m!r}" for m in LEAK_MARKERS if m in text]
        if path.suffix == ".py":
            problems += _reference_code(text, rel)
        elif path.suffix == ".ipynb":
            nb = nbformat.reads(text, as_version=4)
            for index, cell in enumerate(nb.cells):
                if cell.cell_type == "code":
                    problems += _reference_code(cell.source, f"{rel}[cell {index}]")
    return problems + grader_imports(folder / "course_utils")


# ------------------------------------------------------------------------------ pyproject.toml


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        items = [_toml_value(v) for v in value]
        if sum(len(i) + 2 for i in items) < 80:
            return "[" + ", ".join(items) + "]"
        return "[\n" + "".join(f"  {i},\n" for i in items) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _toml_table(name: str, table: dict) -> list[str]:
    scalars = {k: v for k, v in table.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in table.items() if isinstance(v, dict)}
    lines = []
    if scalars or not tables:
        lines += ["", f"[{name}]"] + [
            f"{_toml_key(k)} = {_toml_value(v)}" for k, v in scalars.items()
        ]
    for key, sub in tables.items():
        lines += _toml_table(f"{name}.{_toml_key(key)}", sub)
    return lines


def student_pyproject(text: str) -> str:
    """The student side's pyproject.toml, derived from the repository's ``text``.

    Same build system, and the same ``[project]`` (name, version, dependencies, ``tf`` and
    ``course`` extras) less the authors' extras; setuptools finds ``course_utils*`` only.
    """
    source = tomllib.loads(text)
    project = dict(source["project"])
    project["readme"] = "README.md"
    extras = {
        k: v for k, v in project.get("optional-dependencies", {}).items() if k not in AUTHOR_EXTRAS
    }
    if extras:
        project["optional-dependencies"] = extras
    else:
        project.pop("optional-dependencies", None)
    setuptools = dict(source.get("tool", {}).get("setuptools", {}))
    find = dict(setuptools.get("packages", {}).get("find", {}))
    find["include"] = ["course_utils*"]
    setuptools["packages"] = {"find": find}
    data = {
        "build-system": source["build-system"],
        "project": project,
        "tool": {"setuptools": setuptools},
    }
    lines = [
        "# The student side of the course, written by `python -m autograder publish`:",
        "# the helper package course_utils only (the grader stays with the instructor).",
    ]
    for name, table in data.items():
        lines += _toml_table(_toml_key(name), table)
    out = "\n".join(lines) + "\n"
    if tomllib.loads(out) != data:  # the writer above handles only what pyproject.toml uses
        raise PublishError("the derived pyproject.toml does not read back as written")
    return out


# ---------------------------------------------------------------------------------- README.md


def _title(nb_text: str, stem: str) -> str:
    nb = nbformat.reads(nb_text, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return stem


def student_readme(titles: dict[str, str], repo_url: str, branch: str) -> str:
    """A short student quick start (English, then Chinese) with one Colab badge per chapter."""
    repo_url = repo_url.rstrip("/")
    folder = repo_url.rsplit("/", 1)[-1].removesuffix(".git")
    first = student_path(next(iter(titles))) if titles else "notebooks"
    rows = "\n".join(
        f"| `{student_path(stem)}` | {title} | [![Open In Colab]"
        f"(https://colab.research.google.com/assets/colab-badge.svg)]"
        f"({colab_badge(repo_url, branch, student_path(stem))}) |"
        for stem, title in titles.items()
    )
    return f"""# Keras Deep Dive (student edition)

Deep learning with TensorFlow 2 and Keras 3, one notebook per chapter, with graded exercises.
The prose is in Simplified Chinese; code and identifiers are in English.
中文说明见下文。

| notebook | chapter | Colab |
|---|---|---|
{rows}

## Quick start

**On Colab:** click a chapter's badge above. The first code cell (Setup) installs the course's
helper package `course_utils` from this repository; then run the cells from top to bottom.

**On your own machine** (Python 3.11 and git; on Windows the activate line is
`.venv\\Scripts\\activate`):

```bash
git clone {repo_url}
cd {folder}
python -m venv .venv
source .venv/bin/activate
python -m pip install --upgrade pip
python -m pip install -e ".[tf,course]"
jupyter lab {first}
```

Where a TensorFlow >= 2.16 is installed already (`tensorflow-cpu`, a vendor build), leave `tf`
out: `python -m pip install -e ".[course]"`. Next time, only the activate line and
`jupyter lab`.

**Exercises** are marked `### 练习`: write your answer in the cell below the task (replace
`raise NotImplementedError()`), then run the check cell after it; a failed check says what is
probably wrong. Hand in the notebook file with its name unchanged (`01_sequential.ipynb`).
`COURSE_SIZE=small` runs a chapter on a few thousand images for a quick pass.

## 快速开始（中文）

**在 Colab 上：** 点击上表中该章的 “Open in Colab” 徽章。第一格代码（环境准备）会从本仓库安装课程工具包
`course_utils`，然后从上到下运行即可。

**在自己的电脑上**（需要 Python 3.11 和 git；Windows 上激活一行改为 `.venv\\Scripts\\activate`）：
按上面的命令克隆本仓库、创建虚拟环境、安装 `".[tf,course]"`，再用 `jupyter lab` 打开
`{first}`。已经装有 TensorFlow 2.16 及以上（如 `tensorflow-cpu`）时改用
`python -m pip install -e ".[course]"`，不要再装一份 TensorFlow。

**练习** 以 `### 练习` 标出：在题目下面的格子里写答案（替换 `raise NotImplementedError()`），
再运行紧随其后的检查格；检查失败时会用中文说明可能的错误。提交时保持文件名不变（如
`01_sequential.ipynb`）。设 `COURSE_SIZE=small` 可用几千张图片快速跑完一章。

## Licence / 许可

MIT, see [`LICENSE`](LICENSE). The Fashion-MNIST subset in `data/` is MIT too, see
[`data/README.md`](data/README.md).
"""


# ------------------------------------------------------------------------------------ publish


def _check_destination(out: Path, force: bool) -> None:
    out = out.resolve()
    repo = REPO.resolve()
    if out == repo or repo.is_relative_to(out):
        raise PublishError(f"{out} holds this repository: publish to a folder of its own")
    for source in ("notebooks", "course_utils", "data", "autograder"):
        if out.is_relative_to(repo / source):
            raise PublishError(f"{out} is inside {repo / source}: publish to a folder of its own")
    if out.exists() and not out.is_dir():
        raise PublishError(f"{out} exists and is not a folder")
    if out.is_dir():
        present = [p for p in out.iterdir() if p.name != ".git"]
        if present and not force:
            raise PublishError(
                f"{out} is not empty: pass --force to replace its contents (a .git folder is kept)"
            )
        for path in present:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()


def publish(
    out: Path,
    repo_url: str | None = None,
    *,
    force: bool = False,
    config=None,
    source_dir: Path = NOTEBOOKS,
    log=None,
) -> dict:
    """Write the student side of the course to ``out``; return what was written.

    ``repo_url`` is the GitHub URL the published tree will be pushed to (default: ``REPO_URL``
    of ``course_utils/config.py``). Returns ``{"notebooks": [...], "stale": [...], "repo_url":
    ...}``, where ``stale`` names the committed student copies in ``autograder/release`` that
    differ from the fresh release that was published.
    """
    from autograder.release import Release

    cfg = _repo_config()
    repo_url = (repo_url or cfg.REPO_URL).rstrip("/")
    if not repo_url.startswith(GITHUB):
        raise PublishError(f"--repo-url must be a GitHub repository URL ({GITHUB}...): {repo_url}")
    branch = cfg.REPO_BRANCH
    found = grader_imports(REPO / "course_utils")
    if found:
        raise PublishError("course_utils imports the grader: " + ", ".join(found))
    out = Path(out)
    _check_destination(out, force)
    out.mkdir(parents=True, exist_ok=True)

    release = Release(config=config) if config is not None else Release()
    chapters = release.chapters(source_dir)
    if not chapters:
        raise PublishError(f"no chapter notebooks found in {source_dir}")
    written, stale, titles = [], [], {}
    for stem, source in chapters.items():
        text = release.render(source)
        committed = release_path(stem, RELEASE)
        if not committed.exists() or committed.read_text(encoding="utf-8") != text:
            stale.append(committed)
        dest = out / student_path(stem)
        atomic_write_text(dest, student_notebook(text, stem, repo_url, branch))
        titles[stem] = _title(text, stem)
        written.append(dest)

    shutil.copytree(REPO / "course_utils", out / "course_utils", ignore=COPY_IGNORE)
    config_py = out / "course_utils" / "config.py"
    text = config_py.read_text(encoding="utf-8")
    new = re.sub(r'(?m)^REPO_URL = "[^"]*"$', f"REPO_URL = {json.dumps(repo_url)}", text)
    if new != text:
        config_py.write_text(new, encoding="utf-8")

    def ignore_data(folder: str, names: list[str]) -> set[str]:
        skipped = set(COPY_IGNORE(folder, names))
        if Path(folder).resolve() == (REPO / "data").resolve():
            skipped |= DATA_SKIP & set(names)
        return skipped

    shutil.copytree(REPO / "data", out / "data", ignore=ignore_data)
    shutil.copy2(REPO / "LICENSE", out / "LICENSE")
    pyproject = student_pyproject((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    atomic_write_text(out / "pyproject.toml", pyproject)
    atomic_write_text(out / "README.md", student_readme(titles, repo_url, branch))

    extra = sorted(p.name for p in out.iterdir() if p.name not in LAYOUT and p.name != ".git")
    problems = leaks(out) + [f"{name}: not part of the student side" for name in extra]
    if problems:
        raise PublishError(f"{out} would publish instructor material:\n  " + "\n  ".join(problems))
    return {
        "notebooks": written,
        "stale": stale,
        "repo_url": repo_url,
        "note": setup_note(repo_url),
    }


def setup_note(repo_url: str) -> str | None:
    """What to do when the published Setup cells differ from the instructor's (else ``None``).

    Grading restores every read-only cell from the instructor notebook, so a student copy whose
    ``%pip install`` line names another repository is graded all the same, but each row's
    message then says the Setup cell was restored.
    """
    current = _repo_config().REPO_URL
    if repo_url.rstrip("/") == current.rstrip("/"):
        return None
    return (
        f"the instructor notebooks' Setup cells install from {current}; grading will note "
        f"'read-only cell ..._setup_colab restored' on every submission until REPO_URL in "
        f"course_utils/config.py is {repo_url} (then run python scripts/sync_repo_url.py)"
    )
