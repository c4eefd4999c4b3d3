"""The class report: what the class got wrong, on one self-contained HTML page.

``python -m autograder report grades.csv`` reads the per-cell results that ``grade`` and
``merge`` write next to the CSV (``grades.json``, ``autograder.results``) and writes one HTML
page for the instructor (English): the score distribution of every chapter, the pass rate of
every exercise (grade cell, in notebook order), the check messages the failing cells showed,
most frequent first (which mistakes the class made, ``message`` of each cell, recorded by
``ScoreCells``), and the submissions a human should look at (flagged, missing, timed out,
errors, ...) per chapter.

The page needs nothing else: the charts are PNG images (matplotlib) embedded as base64, the
CSS is inline, there is no JavaScript and no link outside the page. Student ids, notebook names
and messages come from student code or file names: every one is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import io
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from autograder.paths import atomic_write_text
from autograder.results import format_score, results_path
from autograder.statuses import CellStatus, RowStatus

#: Cell statuses whose ``message`` says which mistake the student made.
FAILING = (CellStatus.FAILED, CellStatus.HIDDEN_FAILED, CellStatus.CONSTRAINT_FAILED)
#: Row statuses of students who handed nothing in for a chapter (not in the score charts).
NOT_HANDED_IN = (RowStatus.MISSING, RowStatus.UNKNOWN_NOTEBOOK)
#: Row statuses listed for review, in this order (every status but ``ok``).
REVIEW = [s for s in RowStatus if s not in (RowStatus.OK, RowStatus.UNKNOWN_NOTEBOOK)]
#: How many distinct messages, and student ids per message, the page shows.
TOP_MESSAGES = 10
STUDENTS_SHOWN = 12

_COLOURS = {
    CellStatus.PASSED: "#2e7d32",
    CellStatus.FAILED: "#c62828",
    CellStatus.HIDDEN_FAILED: "#ef6c00",
    CellStatus.CONSTRAINT_FAILED: "#6a1b9a",
    CellStatus.NOT_RUN: "#757575",
    CellStatus.MISSING: "#bdbdbd",
}


class ReportError(Exception):
    """The results cannot be read; the message says why, in English."""


# --- the numbers -----------------------------------------------------------------------------


@dataclass
class Exercise:
    """One grade cell of a chapter, over the students who handed the chapter in."""

    grade_id: str
    max_score: float
    counts: dict[str, int] = field(default_factory=dict)  # cell status -> students
    messages: list[tuple[str, list[str]]] = field(default_factory=list)  # most frequent first

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def pass_rate(self) -> float | None:
        return self.counts.get(CellStatus.PASSED.value, 0) / self.total if self.total else None


@dataclass
class Chapter:
    notebook: str
    max_score: float
    scores: list[float]  # of the submissions handed in
    exercises: list[Exercise]
    review: dict[str, list[tuple[str, str]]]  # row status -> [(student_id, message)]
    rows: int


@dataclass
class Report:
    chapters: list[Chapter]
    unknown: list[tuple[str, str, str]]  # (student_id, file name, message)
    students: int
    source: str = ""


def load_rows(path: Path) -> list[dict]:
    """The rows (with their ``cells``) of a results JSON, or of the JSON next to a CSV."""
    from autograder.merge import MergeError, read_results

    path = Path(path)
    if path.suffix == ".csv":
        path = results_path(path)
    try:
        doc = read_results(path)
    except MergeError as exc:
        raise ReportError(str(exc)) from None
    rows = doc.get("results")
    if not isinstance(rows, list):
        raise ReportError(f"{path} holds no results list")
    return rows


def build(rows: list[dict], source: str = "") -> Report:
    """The report's numbers: one ``Chapter`` per notebook, in name (chapter) order."""
    by_notebook: dict[str, list[dict]] = defaultdict(list)
    unknown = []
    for row in rows:
        if row.get("status") == RowStatus.UNKNOWN_NOTEBOOK.value:
            unknown.append(
                (str(row.get("student_id", "")), str(row.get("notebook", "")), _msg(row))
            )
        else:
            by_notebook[str(row.get("notebook", ""))].append(row)
    chapters = [_chapter(nb, by_notebook[nb]) for nb in sorted(by_notebook)]
    students = len({str(r.get("student_id", "")) for r in rows})
    return Report(chapters, sorted(unknown), students, source)


def _msg(row_or_cell: dict) -> str:
    return str(row_or_cell.get("message", "") or "")


def _chapter(notebook: str, rows: list[dict]) -> Chapter:
    rows = sorted(rows, key=lambda r: str(r.get("student_id", "")))
    handed_in = [r for r in rows if r.get("status") not in NOT_HANDED_IN]
    order: dict[str, float] = {}  # grade_id -> points, in notebook order
    for row in sorted(rows, key=lambda r: -len(r.get("cells") or [])):
        for cell in row.get("cells") or []:
            order.setdefault(str(cell.get("grade_id", "")), float(cell.get("max_score", 0)))
    counts: dict[str, Counter] = {gid: Counter() for gid in order}
    said: dict[str, dict[str, list[str]]] = {gid: defaultdict(list) for gid in order}
    for row in handed_in:
        sid = str(row.get("student_id", ""))
        seen = set()
        for cell in row.get("cells") or []:
            gid = str(cell.get("grade_id", ""))
            if gid not in order or gid in seen:
                continue
            seen.add(gid)
            status = str(cell.get("status", CellStatus.NOT_RUN.value))
            counts[gid][status] += 1
            if status in FAILING and _msg(cell):
                said[gid][_msg(cell)].append(sid)
        for gid in order:
            if gid not in seen:
                counts[gid][CellStatus.MISSING.value] += 1
    exercises = [
        Exercise(
            gid,
            pts,
            dict(counts[gid]),
            sorted(said[gid].items(), key=lambda item: (-len(item[1]), item[0])),
        )
        for gid, pts in order.items()
    ]
    review: dict[str, list[tuple[str, str]]] = {}
    for status in REVIEW:
        listed = [
            (str(r.get("student_id", "")), _msg(r)) for r in rows if r.get("status") == status
        ]
        if listed:
            review[status.value] = listed
    max_score = max((float(r.get("max_score", 0)) for r in rows), default=0.0)
    scores = [float(r.get("score", 0)) for r in handed_in]
    return Chapter(notebook, max_score, scores, exercises, review, len(rows))


# --- the charts --------------------------------------------------------------------------------


def _png(fig) -> str:
    """A matplotlib figure as a base64 PNG (the same bytes for the same figure)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, fig.add_subplot()


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#555")
    ax.set_xticks([])
    ax.set_yticks([])


def overview_chart(chapters: list[Chapter]) -> str:
    """Box plot of the score (percent of the maximum) of every chapter."""
    fig, ax = _figure(max(5.0, 1.1 * len(chapters) + 2), 3.6)
    shown = [c for c in chapters if c.scores and c.max_score > 0]
    if not shown:
        _empty(ax, "no graded submissions")
    else:
        data = [[100 * s / c.max_score for s in c.scores] for c in shown]
        ax.boxplot(data, showmeans=True)
        for i, values in enumerate(data, start=1):
            ax.scatter([i] * len(values), values, s=10, alpha=0.4, color="#1565c0", zorder=3)
        ax.set_xticks(range(1, len(shown) + 1), [c.notebook for c in shown], rotation=20)
        ax.set_ylim(-5, 105)
        ax.set_ylabel("score (% of the maximum)")
        ax.set_title("Scores by chapter")
        ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def _bins(max_score: float, scores: list[float]) -> list[float]:
    values = [*scores, max_score]
    for step in (1.0, 0.5):
        if all(float(v / step).is_integer() for v in values) and max_score / step <= 40:
            n = int(max_score / step)
            return [(i - 0.5) * step for i in range(n + 2)]
    top = max(values) or 1.0
    return [top * i / 20 for i in range(21)]


def score_chart(chapter: Chapter) -> str:
    """Histogram of a chapter's scores."""
    fig, ax = _figure(6.0, 3.2)
    if not chapter.scores:
        _empty(ax, "no graded submissions")
    else:
        ax.hist(chapter.scores, bins=_bins(chapter.max_score, chapter.scores), color="#1565c0",
                edgecolor="white")  # fmt: skip
        ax.axvline(statistics.mean(chapter.scores), color="#c62828", linestyle="--",
                   label=f"mean {statistics.mean(chapter.scores):.3g}")  # fmt: skip
        ax.set_xlabel(f"score (out of {format_score(chapter.max_score)})")
        ax.set_ylabel("students")
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.legend(loc="best", frameon=False)
        ax.grid(axis="y", alpha=0.3)
    ax.set_title(f"{chapter.notebook}: score distribution ({len(chapter.scores)} handed in)")
    return _png(fig)


def pass_chart(chapter: Chapter) -> str:
    """Stacked bars: the share of each cell status per exercise, passed first, notebook order."""
    exercises = chapter.exercises
    fig, ax = _figure(7.0, 1.2 + 0.45 * max(1, len(exercises)))
    if not exercises or not any(e.total for e in exercises):
        _empty(ax, "no graded cells")
    else:
        y = list(range(len(exercises)))
        left = [0.0] * len(exercises)
        for status in CellStatus:
            share = [
                100 * e.counts.get(status.value, 0) / e.total if e.total else 0.0 for e in exercises
            ]
            if any(share):
                ax.barh(y, share, left=left, color=_COLOURS[status], label=status.value,
                        height=0.6)  # fmt: skip
                left = [a + b for a, b in zip(left, share)]
        for i, e in enumerate(exercises):
            if e.pass_rate is not None:
                ax.text(101, i, f"{100 * e.pass_rate:.0f}% passed", va="center", fontsize=8)
        ax.set_yticks(y, [f"{e.grade_id} ({format_score(e.max_score)} pt)" for e in exercises])
        ax.invert_yaxis()
        ax.set_xlim(0, 125)
        ax.set_xticks([0, 25, 50, 75, 100])
        ax.set_xlabel("% of the submissions handed in")
        fig.legend(loc="outside lower center", ncol=6, frameon=False, fontsize=8)
    ax.set_title(f"{chapter.notebook}: pass rate per exercise")
    return _png(fig)


# --- the page ----------------------------------------------------------------------------------


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _md(text: str) -> str:
    """Escaped ``text`` with its `code` spans as <code> (the status meanings are README text)."""
    return re.sub(r"`([^`<>]*)`", r"<code>\1</code>", _e(text))


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222;
       padding: 0 1em; line-height: 1.4; }
h1 { border-bottom: 2px solid #1565c0; }
h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f6fa; }
td.n { text-align: right; }
.msg { font-family: ui-monospace, monospace; white-space: pre-wrap; word-break: break-word; }
.ids { color: #444; font-size: 0.9em; }
.note { color: #555; }
""".strip()


def _fig(kind: str, png: str, alt: str, caption: str) -> str:
    return (
        f'<figure class="chart" data-chart="{_e(kind)}">'
        f'<img alt="{_e(alt)}" src="data:image/png;base64,{png}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _ids(ids: list[str]) -> str:
    shown = ", ".join(_e(i) for i in ids[:STUDENTS_SHOWN])
    more = len(ids) - STUDENTS_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def _summary_table(chapters: list[Chapter]) -> str:
    out = [
        "<table><tr><th>chapter</th><th>handed in</th><th>missing</th><th>mean</th>"
        "<th>median</th><th>max</th><th>to review</th></tr>"
    ]
    for i, c in enumerate(chapters):
        mean = format_score(statistics.mean(c.scores)) if c.scores else "-"
        median = format_score(statistics.median(c.scores)) if c.scores else "-"
        missing = len(c.review.get(RowStatus.MISSING.value, []))
        review = sum(len(v) for k, v in c.review.items() if k != RowStatus.MISSING.value)
        out.append(
            f'<tr><td><a href="#chapter-{i}">{_e(c.notebook)}</a></td>'
            f'<td class="n">{len(c.scores)}</td><td class="n">{missing}</td>'
            f'<td class="n">{mean}</td><td class="n">{median}</td>'
            f'<td class="n">{format_score(c.max_score)}</td><td class="n">{review}</td></tr>'
        )
    out.append("</table>")
    return "\n".join(out)


def _mistakes(chapter: Chapter) -> str:
    out = ["<h3>Most frequent check messages (what the class got wrong)</h3>"]
    if not chapter.exercises:
        out.append('<p class="note">No autograded cells recorded.</p>')
    for ex in chapter.exercises:
        rate = "-" if ex.pass_rate is None else f"{100 * ex.pass_rate:.0f}%"
        failing = sum(ex.counts.get(s.value, 0) for s in FAILING)
        counts = ", ".join(
            f"{ex.counts[s.value]} {s.value}" for s in CellStatus if ex.counts.get(s.value)
        )
        out.append(
            f'<h4 class="exercise">{_e(ex.grade_id)} ({format_score(ex.max_score)} pt): '
            f"{rate} passed</h4>"
            f'<p class="note">{_e(counts or "no submissions")}</p>'
        )
        if not ex.messages:
            if failing:
                out.append(
                    '<p class="note">No messages recorded for the failing cells (results '
                    "written before the grader recorded them: grade again to see them).</p>"
                )
            continue
        out.append('<table class="messages"><tr><th>message</th><th>students</th><th>who</th></tr>')
        for text, ids in ex.messages[:TOP_MESSAGES]:
            out.append(
                f'<tr><td class="msg">{_e(text)}</td><td class="n">{len(ids)}</td>'
                f'<td class="ids">{_ids(ids)}</td></tr>'
            )
        out.append("</table>")
        rest = ex.messages[TOP_MESSAGES:]
        if rest:
            n = sum(len(ids) for _, ids in rest)
            out.append(
                f'<p class="note">{len(rest)} less frequent messages ({n} students) not shown.</p>'
            )
    return "\n".join(out)


def _review(chapter: Chapter) -> str:
    out = ["<h3>Submissions to look at</h3>"]
    if not chapter.review:
        out.append('<p class="note">None: every submission was graded normally.</p>')
    for status, listed in chapter.review.items():
        meaning = RowStatus(status).meaning
        out.append(
            f'<h4 class="review" data-status="{_e(status)}">{_e(status)} ({len(listed)})</h4>'
            f'<p class="note">{_md(meaning)}</p><ul class="students">'
        )
        for sid, message in listed:
            tail = f": <span class='msg'>{_e(message)}</span>" if message else ""
            out.append(f"<li><b>{_e(sid)}</b>{tail}</li>")
        out.append("</ul>")
    return "\n".join(out)


def render(report: Report) -> str:
    """The HTML page of ``report``."""
    title = "Class report"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="note">From {_e(report.source or "the grading results")}: '
        f"{report.students} students, {len(report.chapters)} chapters. "
        "Scores and pass rates count the submissions handed in (not <code>missing</code> "
        "ones); messages are the first line of the error a failing cell showed (visible "
        "checks) or what the grader found (hidden tests, constraints).</p>",
        "<h2>Scores by chapter</h2>",
        _summary_table(report.chapters),
        _fig(
            "overview",
            overview_chart(report.chapters),
            "Box plot of the scores of every chapter",
            "Score distribution of every chapter, in percent of its maximum (submissions "
            "handed in; box: quartiles and median, triangle: mean, dots: students).",
        ),
    ]
    for i, chapter in enumerate(report.chapters):
        parts += [
            f'<section class="chapter" id="chapter-{i}"><h2>{_e(chapter.notebook)}</h2>',
            _fig(
                "scores",
                score_chart(chapter),
                f"Histogram of the scores of {chapter.notebook}",
                f"{chapter.notebook}: how many students got each score.",
            ),
            _fig(
                "pass-rate",
                pass_chart(chapter),
                f"Pass rate per exercise of {chapter.notebook}",
                f"{chapter.notebook}: status of each autograded cell, in notebook order.",
            ),
            _mistakes(chapter),
            _review(chapter),
            "</section>",
        ]
    if report.unknown:
        parts.append(
            "<h2>Files that match no chapter</h2>"
            '<p class="note">Status <code>unknown_notebook</code>: not graded.</p>'
            '<ul class="unknown">'
        )
        for sid, name, _ in report.unknown:
            parts.append(f"<li><b>{_e(sid)}</b>: {_e(name)}</li>")
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def default_out(results: Path) -> Path:
    """Where ``report`` writes without ``--out``: next to the results, ``grades.html``."""
    return Path(results).with_suffix(".html")


def write_report(results: Path, out: Path | None = None) -> tuple[Path, Report]:
    """Read ``results`` (CSV or JSON), write the HTML page to ``out``; return both."""
    results = Path(results)
    report = build(load_rows(results), source=results.name)
    out = Path(out) if out is not None else default_out(results)
    if out.resolve() in (results.resolve(), results_path(results).resolve()):
        raise ReportError(f"--out {out} would overwrite the results")
    atomic_write_text(out, render(report))
    return out, report


__all__ = [
    "Chapter",
    "Exercise",
    "Report",
    "ReportError",
    "build",
    "load_rows",
    "render",
    "write_report",
]
