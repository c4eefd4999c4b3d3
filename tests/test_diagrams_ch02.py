"""Chapter 02 diagrams: is a model's graph drawn from its own wiring?"""

import keras
import matplotlib
from keras import layers

from course_utils.checks import toy_functional_model
from course_utils.diagrams.ch02 import draw_layer_graph, graph_layout, plot_layer_graphs

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def test_layout_puts_each_layer_one_row_below_its_deepest_source():
    """Do inputs share the top row, and does each layer sit below everything feeding it?"""
    model = toy_functional_model({"a": 3, "b": 2}, {"p": 1, "q": 2})
    pos = graph_layout(model)
    assert pos["a"][1] == pos["b"][1] == 0.0
    assert [pos[n][1] for n in ("concat", "features", "p", "q")] == [-1.0, -2.0, -3.0, -3.0]
    assert pos["a"][0] < pos["b"][0] and pos["p"][0] < pos["q"][0]


def test_drawing_has_a_box_per_layer_and_an_arrow_per_edge():
    """Is a shared layer drawn once with an arrow from each of its two sources?"""
    a, b = keras.Input((4,), name="a"), keras.Input((4,), name="b")
    shared = layers.Dense(3, activation="relu", name="shared")
    out = layers.Add(name="add")([shared(a), shared(b)])
    fig, ax = plt.subplots()
    draw_layer_graph(ax, keras.Model([a, b], out), title="shared")
    texts = [t.get_text() for t in ax.texts]
    assert sorted(t.split("\n")[0] for t in texts if t) == ["a", "add", "b", "shared"]
    assert "shared\nDense (relu)" in texts
    arrows = [t for t in ax.texts if not t.get_text()]
    assert len(arrows) == 3  # a -> shared, b -> shared, shared -> add (one arrow per edge)
    plt.close(fig)


def test_side_by_side_figure_is_closed_with_a_panel_per_model():
    """Does plot_layer_graphs return a closed Figure with one titled panel per model, the
    branching graph's panel wider than the straight stack's?"""
    stack = keras.Sequential([keras.Input((4,), name="x"), layers.Dense(2, name="y")])
    graph = toy_functional_model({"a": 3, "b": 2, "c": 1}, {"p": 1, "q": 2})
    fig = plot_layer_graphs([stack, graph], titles=["stack", "graph"])
    assert fig.number not in plt.get_fignums()
    left, right = fig.axes
    assert [left.get_title(), right.get_title()] == ["stack", "graph"]
    assert right.get_position().width > left.get_position().width


def test_api_spectrum_names_the_three_styles_in_order():
    """Does the spectrum show Sequential, Functional and subclassing left to right, closed?"""
    from course_utils.diagrams.ch02 import plot_api_spectrum

    fig = plot_api_spectrum()
    assert fig.number not in plt.get_fignums()
    boxes = [t for t in fig.axes[0].texts if t.get_bbox_patch() is not None]
    ordered = [
        t.get_text().split("\n")[0] for t in sorted(boxes, key=lambda t: t.get_position()[0])
    ]
    assert ordered == ["Sequential", "Functional API", "subclassing"]
