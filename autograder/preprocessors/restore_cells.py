"""Restore grade cells and read-only cells from the instructor notebook, per student."""

from __future__ import annotations

import copy

from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_locked, is_solution
from traitlets import Bool, List, Unicode

from autograder.preprocessors.split_hidden_tests import SplitHiddenTests
from autograder.scan import MAGIC_ALLOW, scan_notebook, summarize


def _nbgrader_meta(cell) -> dict | None:
    meta = cell.get("metadata")
    if not isinstance(meta, dict):
        return None
    value = meta.get("nbgrader")
    return value if isinstance(value, dict) else ({} if value is not None else None)


class RestoreCells(NbGraderPreprocessor):
    """Make a submission's graded cells exactly the instructor's, whatever the student did.

    Like nbgrader's ``OverwriteCells``, but the reference is the instructor notebook itself
    (``resources["autograder"]["source_nb"]``), so no shared gradebook is needed, and nothing a
    student does to the metadata can abort a batch:

    * a grade cell or read-only cell is replaced by the instructor's cell (source, cell type,
      points, metadata), matched by ``grade_id``;
    * an answer (solution) cell keeps the student's source but gets the instructor's metadata
      and cell type;
    * when several cells claim one ``grade_id`` (a copied grade cell), the one with the
      instructor's cell id is kept, else the first; the others lose their nbgrader metadata and
      run as ordinary cells;
    * a cell claiming a ``grade_id`` the instructor does not have, or carrying nbgrader metadata
      that is damaged (no id, wrong type, outdated schema), loses that metadata;
    * a deleted grade or read-only cell is re-inserted after the nearest cell that precedes it in
      the instructor notebook (``reinsert_missing``), so it is graded as written.

    Every change is reported in ``resources["autograder"]["notes"]`` (shown in the CSV message).
    The read-only Setup cells (``chNN_setup_colab``, ``chNN_setup``) are restored like any
    read-only cell. Then the code the student wrote is scanned (``autograder.scan``); findings
    go to ``resources["autograder"]["flags"]`` and make the row ``flagged``.
    """

    scan = Bool(
        True,
        help="Scan the student's code cells for tricks aimed at the grader (status flagged).",
    ).tag(config=True)

    magic_allow = List(
        sorted(MAGIC_ALLOW),
        help="IPython magics a student cell may use without being flagged "
        "(every other magic and every ! shell escape is flagged).",
    ).tag(config=True)

    reinsert_missing = Bool(
        True,
        help="Re-insert grade and read-only cells a student deleted (graded as the instructor "
        "wrote them). If False, a deleted grade cell simply scores 0.",
    ).tag(config=True)

    missing_cell_notice = Unicode(
        "# 这一格在提交中缺失，评分时已从原题恢复 (restored: this cell was missing from the "
        "submission)\n",
        help="Comment line put at the top of a re-inserted code cell.",
    ).tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict):
        state = resources.setdefault("autograder", {})
        notes: list[str] = state.setdefault("notes", [])
        source_nb = state["source_nb"]

        reference: dict[str, tuple[int, NotebookNode]] = {}
        for index, cell in enumerate(source_nb.cells):
            meta = _nbgrader_meta(cell)
            if (
                meta
                and meta.get("grade_id")
                and (is_grade(cell) or is_solution(cell) or is_locked(cell))
            ):
                reference[meta["grade_id"]] = (index, cell)

        cells = [c for c in nb.get("cells", []) if isinstance(c, dict)]

        # Which student cell stands for each instructor grade_id.
        claims: dict[str, list[int]] = {}
        for i, cell in enumerate(cells):
            meta = _nbgrader_meta(cell)
            gid = meta.get("grade_id") if meta else None
            if isinstance(gid, str) and gid in reference:
                claims.setdefault(gid, []).append(i)
        kept: dict[int, str] = {}
        for gid, indices in claims.items():
            ref_id = reference[gid][1].get("id")
            chosen = next(
                (i for i in indices if ref_id and cells[i].get("id") == ref_id), indices[0]
            )
            kept[chosen] = gid
            if len(indices) > 1:
                notes.append(f"{len(indices) - 1} extra copy of grade cell {gid} ignored")

        out: list[NotebookNode] = []
        for i, cell in enumerate(cells):
            meta = _nbgrader_meta(cell)
            if i in kept:
                gid = kept[i]
                ref = reference[gid][1]
                if is_solution(ref):
                    out.append(self._restore_answer(cell, ref, gid, notes))
                else:
                    out.append(self._restore_locked(cell, ref, gid, notes, self._visible))
                continue
            if meta is not None:
                gid = meta.get("grade_id")
                claims_grade = bool(meta.get("grade") or meta.get("solution") or meta.get("locked"))
                if gid not in reference and (claims_grade or gid):
                    notes.append(f"ignored grading metadata of a cell claiming unknown id {gid!r}")
                del cell["metadata"]["nbgrader"]
            out.append(cell)

        present = set(kept.values())
        for gid, (ref_index, ref) in sorted(reference.items(), key=lambda item: item[1][0]):
            if gid in present or is_solution(ref):
                if gid not in present:
                    notes.append(f"answer cell {gid} is missing")
                continue
            if not self.reinsert_missing:
                notes.append(f"grade cell {gid} is missing (scored 0)")
                continue
            position = self._insert_position(out, source_nb.cells[:ref_index])
            restored = copy.deepcopy(ref)
            if restored.cell_type == "code":
                restored.source = self.missing_cell_notice + restored.source
                restored.outputs = []
                restored.execution_count = None
            out.insert(position, restored)
            notes.append(f"grade cell {gid} was missing and was re-inserted")

        nb.cells = out
        self._unique_cell_ids(nb)
        if self.scan:
            findings = scan_notebook(nb, source_nb, frozenset(self.magic_allow))
            state.setdefault("flags", []).extend(summarize(findings))
        return nb, resources

    def _visible(self, source: str) -> str:
        """What the student copy shows of an instructor cell (same delimiters as release)."""
        try:
            return SplitHiddenTests(parent=self).visible(source)
        except ValueError:
            return source

    @staticmethod
    def _restore_locked(cell, ref, gid, notes, visible) -> NotebookNode:
        changed = []
        if cell.get("cell_type") != ref.cell_type:
            changed.append("cell type")
        if cell.get("source") not in (ref.source, visible(ref.source)):
            changed.append("source")
        old = _nbgrader_meta(cell) or {}
        if is_grade(ref) and str(old.get("points")) != str(ref.metadata.nbgrader.get("points")):
            try:
                same = float(old.get("points")) == float(ref.metadata.nbgrader.get("points"))
            except (TypeError, ValueError):
                same = False
            if not same:
                changed.append("points")
        if changed:
            kind = "grade cell" if is_grade(ref) else "read-only cell"
            notes.append(f"{kind} {gid} restored ({', '.join(changed)} changed)")
        restored = copy.deepcopy(ref)
        if restored.cell_type == "code":
            restored.outputs = []
            restored.execution_count = None
        return restored

    @staticmethod
    def _restore_answer(cell, ref, gid, notes) -> NotebookNode:
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        restored = copy.deepcopy(ref)
        restored.source = source if isinstance(source, str) else ""
        if cell.get("cell_type") != ref.cell_type:
            notes.append(f"answer cell {gid} changed back to a {ref.cell_type} cell")
        if restored.cell_type == "code":
            restored.outputs = []
            restored.execution_count = None
        if cell.get("id"):
            restored["id"] = cell["id"]
        return restored

    @staticmethod
    def _insert_position(cells: list, preceding: list) -> int:
        """Index just after the student cell matching the nearest preceding instructor cell."""
        by_gid = {}
        by_id = {}
        for i, cell in enumerate(cells):
            meta = _nbgrader_meta(cell)
            if meta and meta.get("grade_id"):
                by_gid[meta["grade_id"]] = i
            if cell.get("id"):
                by_id.setdefault(cell["id"], i)
        for ref in reversed(preceding):
            meta = _nbgrader_meta(ref)
            if meta and meta.get("grade_id") in by_gid:
                return by_gid[meta["grade_id"]] + 1
            if ref.get("id") in by_id:
                return by_id[ref["id"]] + 1
        return len(cells) if preceding else 0

    @staticmethod
    def _unique_cell_ids(nb) -> None:
        seen = set()
        for cell in nb.cells:
            cid = cell.get("id")
            if not cid:
                continue
            new, n = cid, 1
            while new in seen:
                new = f"{cid[:56]}-{n}"
                n += 1
            cell["id"] = new
            seen.add(new)
