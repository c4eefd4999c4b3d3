"""The execution plan's analysis (``autograder.plan``) on small hand-made notebooks: which
tutorial cells a submission's graded cells depend on, and when the whole notebook must run."""

from __future__ import annotations

import copy

import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.cell_facts import analyse, imports, path_tokens
from autograder.plan import make_plan


def _meta(gid: str, **flags) -> dict:
    base = {"grade": False, "solution": False, "locked": False, "task": False}
    return {"nbgrader": {**base, **flags, "grade_id": gid, "schema_version": 3}}


def notebook(*tutorial: str, answer: str = "def f():\n    return 1", check: str = "f()"):
    """Setup, then the ``tutorial`` cells, then one exercise (answer + grade cell)."""
    cells = [
        new_markdown_cell("# test"),
        new_code_cell("import os\nimport numpy as np", metadata=_meta("s", locked=True)),
    ]
    cells += [new_code_cell(src) for src in tutorial]
    cells += [
        new_code_cell(answer, metadata=_meta("a", solution=True)),
        new_code_cell(check, metadata=_meta("a_test", grade=True, locked=True, points=1)),
    ]
    return new_notebook(cells=cells)


def ran(nb, source=None) -> list[str]:
    """The tutorial sources the plan runs (Setup, answer and grade cells left out)."""
    plan = make_plan(nb, source or nb)
    assert not plan.whole, plan.whole
    tutorial = range(2, len(nb.cells) - 2)
    return [nb.cells[i].source for i in tutorial if i in plan.run]


def test_unrelated_tutorial_cells_are_skipped_and_used_ones_run():
    """Does the plan run the tutorial cell defining a name the answer reads, and only it?"""
    nb = notebook("data = [1, 2]", "slow = sum(range(10))", answer="def f():\n    return data")
    assert ran(nb) == ["data = [1, 2]"]
    plan = make_plan(nb, nb)
    assert plan.skipped == [3] and "skipped 1" in plan.describe()


def test_mutations_and_transitive_reads_are_followed():
    """Do method calls, attribute and item assignment count as mutations, transitively?"""
    cells = [
        "base = 3",
        "history = [base]",
        "history.append(5)",
        "config = {}",
        "config['lr'] = 0.1",
        "unused = []",
        "unused.append(1)",
    ]
    nb = notebook(*cells, answer="def f():\n    return history[-1], config")
    assert ran(nb) == cells[:5]


def test_rebinding_hides_earlier_definitions():
    """Does an unconditional rebinding cut the dependency on earlier cells?"""
    nb = notebook("x = 1\nx.bit_length()", "x = 2", answer="y = x")
    assert ran(nb) == ["x = 2"]
    nb = notebook("x = 1", "if x:\n    x = 2", answer="y = x")
    assert ran(nb) == ["x = 1", "if x:\n    x = 2"]


def test_names_read_in_function_bodies_follow_their_callers():
    """Does calling a tutorial function pull in what its body reads, even if defined later?"""
    nb = notebook(
        "def helper():\n    return data * scale",
        "data = 4",
        "scale = 2",
        "other = 1",
        answer="def f():\n    return helper()",
    )
    assert ran(nb) == ["def helper():\n    return data * scale", "data = 4", "scale = 2"]


def test_locals_and_parameters_are_not_reads():
    """Are a function's parameters and locals kept apart from tutorial names of the same name?"""
    nb = notebook("logs = {}", "x = 5", answer="def f(logs):\n    x = logs['a']\n    return x")
    assert ran(nb) == []


def test_files_named_by_both_cells_link_them():
    """Do cells that share a path literal (or a parent folder of one) depend on each other?"""
    nb = notebook(
        'os.makedirs("out", exist_ok=True)',
        'np.save("out/table.npy", np.ones(3))',
        'np.save("elsewhere.npy", np.ones(3))',
        answer='def f():\n    return np.load("out/table.npy")',
    )
    assert ran(nb) == nb_sources(nb)[2:4]
    assert path_tokens("logs/ch05/run") == {"logs", "logs/ch05", "logs/ch05/run"}
    assert path_tokens("model.keras") == {"model.keras"}
    assert (
        path_tokens("val_loss") == path_tokens("https://x.org/a") == path_tokens("a b/c") == set()
    )


def nb_sources(nb) -> list[str]:
    return [c.source for c in nb.cells]


@pytest.mark.parametrize(
    "cell",
    [
        "np.random.seed(0)",
        "import keras\nkeras.utils.set_random_seed(1)",
        "import tensorflow as tf\ntf.random.set_seed(1)",
        "import keras\nkeras.config.set_floatx('float64')",
        "os.environ['X'] = '1'",
        "os.chdir('/tmp')",
        "import course_utils\ncourse_utils.reset_session(seed=1)",
        "from keras import mixed_precision\nmixed_precision.set_global_policy('float32')",
    ],
)
def test_global_state_before_a_needed_cell_runs(cell):
    """Does a cell touching global state run when it precedes a needed cell, and only then?"""
    nb = notebook(cell)
    assert ran(nb) == [cell]
    after = notebook()
    after.cells.append(new_code_cell(cell))
    assert len(make_plan(after, after).run) == 3  # Setup, answer, grade: not the last cell
    assert analyse(cell, imports(["import os\nimport numpy as np", cell])).global_state


def test_magics_parse_and_an_instructor_magic_always_runs():
    """Are magics analysed after IPython's transformation, an instructor's magic always run?"""
    nb = notebook("%time total = 1", "other = 2", answer="def f():\n    return 1")
    assert ran(nb) == ["%time total = 1"]


@pytest.mark.parametrize(
    ("code", "why"),
    [
        ("exec('y = 1')", "exec()"),
        ("names = globals()", "globals()"),
        ("from numpy import *", "star import"),
        ("!ls", "magic or shell escape"),
        ("%run other.py", "magic or shell escape"),
        ("import importlib", "importlib"),
        ("setattr(np, name, 1)", "setattr() with a computed name"),
        ("f = getattr(np, 'me' + 'an')", "getattr() with a computed name"),
        ("v = vars()['x']", "vars()"),
        ("d = f.__dict__", "__dict__"),
    ],
)
def test_undecidable_student_code_runs_the_whole_notebook(code, why):
    """Does a student's cell the analysis cannot decide make the whole notebook run, saying why?"""
    source = notebook("data = 1", "other = 2")
    answer = copy.deepcopy(source)
    answer.cells[-2].source = code
    plan = make_plan(answer, source)
    assert why in plan.whole and "cell 5" in plan.whole and plan.describe().startswith("whole")
    added = copy.deepcopy(source)
    added.cells.insert(3, new_code_cell(code))
    assert why in make_plan(added, source).whole


def test_cells_the_student_wrote_or_changed_always_run():
    """Does an added or edited tutorial cell run, with what it depends on?"""
    source = notebook("data = 1", "other = 2", "later = 3")
    student = copy.deepcopy(source)
    student.cells[3].source = "other = data + 1"  # edited
    student.cells.insert(5, new_code_cell("print('scratch')"))  # added
    assert ran(student, source) == ["data = 1", "other = data + 1", "print('scratch')"]


def test_grade_cells_are_analysed_with_their_hidden_tests():
    """Does a name read only by a grade cell's hidden tests pull in its tutorial cell?"""
    check = "f()\n### BEGIN HIDDEN TESTS\nprobe('k', f() + hidden_input)\n### END HIDDEN TESTS"
    source = notebook("hidden_input = 2", "other = 3", check=check)
    student = copy.deepcopy(source)
    student.cells[-1].source = "f()"  # as SplitHiddenTests leaves it
    assert ran(student, source) == ["hidden_input = 2"]


def test_a_cell_that_does_not_parse_depends_on_nothing():
    """Is a cell with a syntax error (it fails before running a line) treated as inert?"""
    assert analyse("def (:").reads == set()
    nb = notebook("data = 1", answer="def f(:\n    return data")
    assert ran(nb) == []


def test_calls_on_a_fresh_object_mutate_nothing_and_fstring_parts_are_no_paths():
    """Is ``make_model().fit(...)`` no mutation of make_model, and ``f"{d}/lr_"`` no path?"""
    facts = analyse('make_model().fit(x)\nname = f"{root}/lr_{lr}"\n__import__("time").sleep(0)')
    assert facts.mutates == set() and facts.files == set() and not facts.opaque
    assert analyse("model.get_layer('d').set_weights(w)").mutates == {"model"}


@pytest.mark.parametrize(
    ("run", "status", "cells", "why"),
    [
        ("plan", "ok", ["passed", "passed"], ""),
        ("plan", "ok", ["passed", "constraint_failed"], ""),
        ("plan", "ok", ["passed", "hidden_failed"], "grade cell g1 failed"),
        ("plan", "ok", ["failed", "not_run"], "grade cell g0 and others failed"),
        ("plan", "timeout", ["passed", "passed"], "status timeout"),
        ("whole", "timeout", ["failed", "failed"], ""),
    ],
)
def test_which_plan_runs_are_graded_again_whole(run, status, cells, why):
    """Is a plan run graded again whole when a grade cell fails or the run is not ok (and only
    then; a constraint is judged on the source, the same in a whole run)?"""
    from autograder.execute import NotebookGrader

    class Grader:
        def _unanswered(self, job, nb, state, gid):
            return False

    state = {
        "run": run,
        "status": status,
        "executed_status": status,
        "cells": [{"grade_id": f"g{i}", "status": s} for i, s in enumerate(cells)],
    }
    assert NotebookGrader.rerun_reason(Grader(), {}, None, {"autograder": state}) == why
