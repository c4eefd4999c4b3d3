"""The feedback step: one HTML report per student and notebook, with nbgrader's template."""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path

import nbgrader
from nbconvert.exporters import HTMLExporter
from nbconvert.filters.markdown_mistune import markdown2html_mistune
from nbconvert.preprocessors.sanitize import SanitizeHTML
from nbformat.v4 import new_markdown_cell
from traitlets import Unicode
from traitlets.config import Config, LoggingConfigurable

from autograder.paths import atomic_write_text

#: Tags kept in student-written HTML (markdown cells, HTML outputs); everything else is escaped.
SAFE_TAGS = sorted(
    {"a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "ol", "p", "pre"}
    | {"s", "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead"}
    | {"tr", "u", "ul", "details", "summary", "caption"}
)
#: Attributes kept on those tags (no event handlers, no style).
SAFE_ATTRIBUTES = {
    "*": ["class", "id", "title", "align"],
    "a": ["href", "title"],
    "img": ["src", "alt", "title", "width", "height"],
    "td": ["colspan", "rowspan"],
    "th": ["colspan", "rowspan"],
}

_NBGRADER = Path(nbgrader.__file__).resolve().parent
_TEMPLATES = _NBGRADER / "server_extensions" / "formgrader" / "templates"
_BOOTSTRAP_CSS = (
    _NBGRADER
    / "server_extensions"
    / "formgrader"
    / "static"
    / "node_modules"
    / "bootstrap"
    / "dist"
    / "css"
)


class FeedbackWriter(LoggingConfigurable):
    """Render a graded notebook as HTML with nbgrader's ``feedback`` template.

    The notebook it renders comes from the grading pipeline, whose grade cells hold only their
    visible part (``SplitHiddenTests``); hidden tests show up only as "hidden tests failed".
    A banner at the top gives the status and the autograder's message.

    Everything a student wrote is sanitized before it reaches the report (nbconvert's
    ``SanitizeHTML`` preprocessor, i.e. bleach): markdown cells are rendered to HTML and
    cleaned (no ``<script>``, event handlers or ``javascript:`` links), HTML outputs are
    cleaned, and JavaScript, SVG and widget outputs are dropped. Configure it through
    ``c.SanitizeHTML`` (allowed tags, attributes, output types).
    """

    template_name = Unicode("feedback", help="nbconvert template for the report.").tag(config=True)

    banner = Unicode(
        "**自动评分 (autograder):** {score:g} / {max_score:g} 分 — 状态 (status): `{status}`{message}",
        help="Markdown put above the notebook in every report.",
    ).tag(config=True)

    def __init__(self, **kw):
        super().__init__(**kw)
        c = Config()
        c.HTMLExporter.template_name = self.template_name
        c.HTMLExporter.extra_template_basedirs = [str(_TEMPLATES)]
        c.HTMLExporter.extra_template_paths = [str(_BOOTSTRAP_CSS)]
        # nbconvert warns "Alternative text is missing" for every plot in every report: noise
        # for an instructor grading a class, so its exporter logs errors only.
        quiet = logging.getLogger("autograder.feedback.html")
        quiet.setLevel(logging.ERROR)
        c.HTMLExporter.sanitize_html = True
        self.exporter = HTMLExporter(config=c, log=quiet)
        self.sanitizer = SanitizeHTML(parent=self)
        if "tags" not in self.config.get("SanitizeHTML", {}):
            self.sanitizer.tags = SAFE_TAGS
        if "attributes" not in self.config.get("SanitizeHTML", {}):
            self.sanitizer.attributes = SAFE_ATTRIBUTES

    def sanitize(self, nb) -> None:
        """Clean, in place, every markdown cell and output of ``nb`` (see the class doc)."""
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                rendered = self.sanitizer.sanitize_html_tags(markdown2html_mistune(cell.source))
                # One HTML block for the template's markdown pass: no blank line inside it.
                rendered = re.sub(r"\n\s*\n", "\n<!-- -->\n", rendered.strip())
                cell.source = f"<div>\n{rendered}\n</div>"
                cell.pop("attachments", None)
            elif cell.cell_type == "raw":
                cell.source = self.sanitizer.sanitize_html_tags(cell.source)
            elif cell.cell_type == "code":
                outputs = self.sanitizer.sanitize_code_outputs(cell.get("outputs", []))
                cell.outputs = [o for o in outputs if o.get("data", True)]

    def _banner(self, row: dict) -> str:
        message = f" — {html.escape(row['message'])}" if row.get("message") else ""
        return self.banner.format(
            score=float(row["score"]),
            max_score=float(row["max_score"]),
            status=row["status"],
            message=message,
        )

    def write(self, path: str, nb, resources: dict, row: dict) -> None:
        """Write the report of a graded notebook to ``path``."""
        nb.cells.insert(0, new_markdown_cell(self._banner(row)))
        if row.get("run"):
            nb.cells.insert(1, new_markdown_cell(html.escape(run_summary(row))))
        nb.metadata.pop("widgets", None)
        for cell in nb.cells:
            # The template reads a score and a comment from every nbgrader cell; a written
            # answer graded by hand has neither yet (the banner says points await a human).
            meta = cell.metadata.get("nbgrader")
            if meta and (meta.get("grade") or meta.get("solution") or meta.get("task")):
                meta.setdefault("score", 0.0)
                meta.setdefault("comment", "")
        self.sanitize(nb)
        res = {
            "nbgrader": {
                "notebook": row["notebook"],
                "student": row["student_id"],
                "score": float(row["score"]),
                "max_score": float(row["max_score"]),
                "late_penalty": 0,
            },
            "metadata": {"name": row["notebook"]},
        }
        body, _ = self.exporter.from_notebook_node(nb, resources=res)
        atomic_write_text(Path(path), body)

    def write_error(self, path: str, notebook: str, row: dict) -> None:
        """Write a short report for a submission that could not be graded."""
        body = (
            '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>'
            f"{html.escape(notebook)}</title></head><body>\n<h4>{html.escape(notebook)} "
            f"(Score: {float(row['score']):g} / {float(row['max_score']):g})</h4>\n"
            f"<p>无法评分 (could not be graded): <code>{html.escape(row['status'])}</code> — "
            f"{html.escape(row['message'])}</p>\n</body></html>\n"
        )
        atomic_write_text(Path(path), body)


def run_summary(row: dict) -> str:
    """One sentence on which cells ran, from a row's ``run`` and ``skipped_cells``."""
    from autograder.preprocessors.plan_cells import PLAN, WHOLE

    run = row.get("run", "")
    skipped = row.get("skipped_cells") or []
    if run == PLAN:
        cells = ", ".join(str(n) for n in skipped)
        return (
            "评分时只运行了计分需要的格 (graded with the execution plan): the Setup, answer and "
            "grade cells, your own cells and the tutorial cells they depend on; "
            f"{len(skipped)} tutorial cell(s) no graded cell depends on did not run: {cells}."
        )
    why = run[len(WHOLE) :].strip().removeprefix("(").removesuffix(")")
    return "评分时从头到尾运行了整个笔记本 (graded by running the whole notebook top to bottom)" + (
        f"; reason: {why}." if why else "."
    )
