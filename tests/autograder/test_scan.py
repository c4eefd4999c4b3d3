"""The static scan of student code (``autograder/scan.py``): no kernel, runs in about a second."""

from __future__ import annotations

import copy

import nbformat
import pytest
from conftest import CHAPTERS
from nbformat.v4 import new_code_cell

from autograder.hidden_tests import setup_sources
from autograder.scan import module_names, scan_notebook, scan_source, summarize

MODULES = {"np", "tf", "keras", "checks", "course_utils", "plots", "sys", "os", "builtins"}
SETUP = {"np", "tf", "keras", "checks", "course_utils", "plots"}


@pytest.mark.parametrize(
    ("source", "technique"),
    [
        ("get_ipython().input_transformers_post.append(f)", "input_transformers_post"),
        ("get_ipython().input_transformers_cleanup.insert(0, f)", "input_transformers_cleanup"),
        ("ip = get_ipython()\nip.ast_transformers.append(T())", "ast_transformers"),
        ("get_ipython().events.register('pre_run_cell', f)", "events.register"),
        ("get_ipython().set_custom_exc((Exception,), h)", "set_custom_exc"),
        ("get_ipython().showtraceback = lambda *a: None", "showtraceback"),
        ("get_ipython().run_cell('x = 1')", "run_cell"),
        ("import sys\nsys.settrace(tracer)", "sys.settrace"),
        ("import threading\nthreading.setprofile(p)", "sys.setprofile"),
        ("from sys import settrace\nsettrace(t)", "sys.settrace"),
        ("import builtins\nbuiltins.float = lambda x: 6.0", "builtins"),
        ("__builtins__.tuple = list", "__builtins__"),
        ("np.allclose = lambda *a, **k: True", "monkeypatching np.allclose"),
        ("checks.check_mlp = lambda **k: True", "monkeypatching checks.check_mlp"),
        ("setattr(checks, 'check_mlp', ok)", "monkeypatching checks (setattr)"),
        ("c = checks\nc.check_mlp = ok", "monkeypatching c.check_mlp"),
        ("course_utils.checks.ch01.check_mlp = ok", "monkeypatching course_utils.checks"),
        ("tf.Tensor.__eq__ = lambda a, b: True", "monkeypatching tf.Tensor.__eq__"),
        ("f.__code__ = g.__code__", "__code__"),
        ("vars(np)['allclose'] = ok", "__dict__ assignment"),
        ("import linecache\nprint(linecache.cache)", "linecache"),
        ("import inspect\ninspect.getsource(f)", "inspect"),
        ("import ctypes", "ctypes"),
        ("import gc\ngc.get_objects()", "gc"),
        ("import sys\nsys.modules['numpy'] = fake", "sys.modules"),
        ("import importlib\nimportlib.reload(checks)", "importlib"),
        ("from IPython.core.interactiveshell import InteractiveShell", "IPython internals"),
        ("import subprocess\nsubprocess.Popen(['setsid', 'sleep', '40'])", "subprocess"),
        ("import os\nos.system('ls')", "os process calls"),
        ("%pip install requests", "%pip magic"),
        ("%load_ext autoreload", "%load_ext magic"),
        ("%%bash\nls", "%bash magic"),
        ("!ls -la", "shell escape (!)"),
        ("files = !ls", "shell escape (!)"),
        ("exec('x = 1')", "exec/eval"),
        ("__import__('sys').settrace(t)", "__import__"),
        ("getattr(get_ipython(), 'ast_transformers').append(t)", "ast_transformers (named"),
        ("import sys\nf = sys._getframe(1)\nf.f_globals['np'] = fake", "frame introspection"),
        ("object.__subclasses__()", "__subclasses__"),
        ("checks = FakeChecks()", "rebinding checks"),
        ("def np():\n    pass", "rebinding np"),
    ],
)
def test_each_technique_is_found(source, technique):
    found = scan_source(source, set(MODULES), setup=SETUP)
    assert any(technique in f for f in found), found


@pytest.mark.parametrize(
    "source",
    [
        "import numpy as np\nx = np.ones(3)\nnp.random.seed(0)",
        "class Block(keras.layers.Layer):\n    def __init__(self):\n        super().__init__()\n"
        "        self.dense = keras.layers.Dense(3)\n        self.built = False",
        "model.trainable = False\nmodel.layers[0].trainable = True",
        "import matplotlib.pyplot as plt\nplt.rcParams['figure.figsize'] = (4, 3)",
        "from IPython.display import HTML, display\ndisplay(HTML('<b>hi</b>'))",
        "%timeit sum(range(10))\n%matplotlib inline",
        "%%time\nx = 1",
        "import os\nprint(os.path.join('a', 'b'), os.environ.get('HOME'))",
        "import sys\nprint(sys.version)",
        "hidden = tf.Variable(1.0)\nhidden.assign(2.0)",
        "def build_mlp(input_shape, hidden_units, num_classes, name='mlp'):\n"
        "    return keras.Sequential([keras.Input(shape=input_shape)], name=name)",
        "results = {'events': 3}\nprint(results['events'])",
    ],
)
def test_ordinary_student_code_is_not_flagged(source):
    assert scan_source(source, set(MODULES), setup=SETUP) == []


@pytest.mark.skipif(not CHAPTERS, reason="no chapter notebooks yet")
@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_course_notebooks_raise_no_flag(chapter, release):
    """The instructor notebook, its blank copy and every instructor answer scanned on its own
    (what a perfect student hands in) are clean."""
    source = nbformat.read(str(chapter), as_version=4)
    blank = nbformat.reads(release.render(chapter), as_version=4)
    assert scan_notebook(source, source) == []
    assert scan_notebook(blank, source) == []
    modules = module_names([c.source for c in source.cells if c.cell_type == "code"])
    setup = module_names(setup_sources(source)) - {"sys", "os", "builtins"}
    for cell in source.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            assert scan_source(cell.source, modules, setup=setup) == [], cell.source


@pytest.mark.skipif(not CHAPTERS, reason="no chapter notebooks yet")
def test_findings_name_the_cell_and_the_answer(release):
    chapter = CHAPTERS[0]
    source = nbformat.read(str(chapter), as_version=4)
    nb = nbformat.reads(release.render(chapter), as_version=4)
    answer = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution"))
    answer.source += "\nget_ipython().ast_transformers.append(None)"
    nb.cells.append(new_code_cell("import linecache", id="added-cell"))
    tutorial = next(c for c in nb.cells if c.cell_type == "code" and "nbgrader" not in c.metadata)
    tutorial.source += "\n%pip install x"
    edited = copy.deepcopy(nb)
    lines = summarize(scan_notebook(edited, source))
    gid = answer.metadata.nbgrader["grade_id"]
    index = nb.cells.index(answer) + 1
    assert f"cell {index} ({gid}): ast_transformers" in lines
    assert f"cell {len(nb.cells)} (added): linecache" in lines
    assert f"cell {nb.cells.index(tutorial) + 1}: %pip magic" in lines
