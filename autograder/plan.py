"""Which cells of a submission to run: the execution plan.

A whole run executes every code cell; most of the time goes into tutorial cells that train
models no grade cell looks at. The plan runs the Setup cells, every answer and grade cell, every
cell the student wrote or changed, and only the tutorial cells those depend on, in notebook
order. A cell depends on an earlier one through

* **names**: what each cell defines, reads and mutates (``model.fit(...)``, ``x.append(...)``,
  ``obj.attr = ...``, ``d[k] = ...`` mutate the name they start from; the global names a
  function or class body reads count as reads of the defining cell and of every cell that uses
  that function or class), transitively;
* **files**: string literals that look like paths (``"checkpoints/best.keras"``, ``"logs"``
  when some path starts with it): two cells that name the same one are linked;
* **global state** (seeds, ``keras.config``, ``os.environ``, ``os.chdir``, ...): a cell that
  touches it and precedes a needed cell is needed.

Cells are analysed by ``autograder.cell_facts`` (``ast`` after IPython's input transformation).
Where the analysis cannot decide (``exec``, ``globals()``, star imports, magics, ...) in a cell
the student wrote or changed, ``Plan.whole`` says why and the whole notebook runs; an instructor cell the
analysis cannot decide simply always runs. The plan is an optimisation only: the grader reruns a
submission whole whenever a grade cell fails under the plan (``autograder.execute``).
"""

from __future__ import annotations

from dataclasses import dataclass

from nbgrader.utils import is_grade, is_locked, is_solution

from autograder.cell_facts import Facts, analyse, imports


@dataclass
class Plan:
    """Which code cells to run (indices into ``nb.cells``), or why the whole notebook runs."""

    run: set[int]
    skipped: list[int]  # indices of code cells with source that the plan leaves out
    whole: str = ""  # why the whole notebook runs; "" when the plan applies

    def describe(self) -> str:
        """One line for instructors: which cells ran."""
        if self.whole:
            return f"whole notebook ({self.whole})"
        if not self.skipped:
            return "every cell (no tutorial cell could be skipped)"
        return f"plan: skipped {len(self.skipped)} tutorial cell(s) no graded cell depends on"


def _roles(nb, source_nb) -> tuple[list[int], dict[int, str]]:
    """``(code cell indices, {index: role})`` with role ``setup``, ``answer``, ``grade``,
    ``student`` (written or changed by the student) or ``tutorial``."""
    instructor = {c.source for c in source_nb.cells if c.cell_type == "code"}
    code, roles = [], {}
    exercise_seen = False
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        code.append(i)
        if is_grade(cell) and not is_solution(cell):
            roles[i], exercise_seen = "grade", True
        elif is_solution(cell):
            roles[i], exercise_seen = "answer", True
        elif is_locked(cell) and not exercise_seen:
            roles[i] = "setup"
        elif is_locked(cell) or cell.source in instructor:
            roles[i] = "tutorial"
        else:
            roles[i] = "student"
    return code, roles


def make_plan(nb, source_nb) -> Plan:
    """The plan for ``nb`` (a submission after ``RestoreCells``) against ``source_nb``."""
    code, roles = _roles(nb, source_nb)
    instructor_answers = {
        c.metadata.nbgrader["grade_id"]: c.source
        for c in source_nb.cells
        if c.cell_type == "code" and is_solution(c) and not is_grade(c)
    }
    full_grade = {
        c.metadata.nbgrader["grade_id"]: c.source
        for c in source_nb.cells
        if c.cell_type == "code" and is_grade(c) and not is_solution(c)
    }

    def source_of(i: int) -> str:
        cell = nb.cells[i]
        if roles[i] == "grade":  # the instructor's, hidden tests included (the probes read)
            return full_grade.get(cell.metadata.nbgrader["grade_id"], cell.source)
        return cell.source

    modules = imports([source_of(i) for i in code])
    facts = {i: analyse(source_of(i), modules) for i in code}
    needed = set()
    for i in code:
        cell = nb.cells[i]
        written = roles[i] == "student" or (
            roles[i] == "answer"
            and cell.source != instructor_answers.get(cell.metadata.nbgrader["grade_id"])
        )
        if facts[i].opaque:
            if written:
                return Plan(set(code), [], f"cell {i + 1} uses {facts[i].opaque}")
            needed.add(i)  # an instructor cell the analysis cannot decide: always run
        if roles[i] != "tutorial":
            needed.add(i)
    _deferred(facts)
    named = set().union(*(f.files for f in facts.values()))
    for f in facts.values():  # "out" names a file when some cell names "out/table.npy"
        f.files |= f.words & named
    return _close(nb, code, facts, needed)


def _deferred(facts: dict[int, Facts]) -> None:
    """Give each cell the reads and mutations of the functions and classes it uses (what their
    bodies read when called), transitively, whichever cell defined them."""
    reads: dict[str, set[str]] = {}
    mutates: dict[str, set[str]] = {}
    for f in facts.values():
        for name, names in f.deferred_reads.items():
            reads.setdefault(name, set()).update(names)
        for name, names in f.deferred_mutates.items():
            mutates.setdefault(name, set()).update(names)
    changed = True
    while changed:
        changed = False
        for table in (reads, mutates):
            for name, names in table.items():
                extra = set().union(*(table.get(n, set()) for n in names if n != name)) - names
                if extra:
                    names |= extra
                    changed = True
    for f in facts.values():
        used = set(f.reads)
        f.reads |= set().union(*(reads.get(n, set()) for n in used))
        f.mutates |= set().union(*(mutates.get(n, set()) for n in used))


def _close(nb, code: list[int], facts: dict[int, Facts], needed: set[int]) -> Plan:
    order = {i: k for k, i in enumerate(code)}
    work = sorted(needed)
    needed = set(needed)

    def need(j: int) -> None:
        if j not in needed:
            needed.add(j)
            work.append(j)

    while work:
        i = work.pop()
        f = facts[i]
        earlier = code[: order[i]]
        for name in f.reads | f.mutates:
            for j in reversed(earlier):
                g = facts[j]
                if name in g.defines or name in g.mutates:
                    need(j)
                if name in g.kills:
                    break
        for j in earlier:
            if facts[j].global_state or (f.files and f.files & facts[j].files):
                need(j)
    run = {i for i in needed if nb.cells[i].source.strip()}
    skipped = [i for i in code if i not in needed and nb.cells[i].source.strip()]
    return Plan(run, skipped)
