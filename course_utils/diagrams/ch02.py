"""Chapter 02 diagrams: a model's layer graph drawn from its own wiring (matplotlib).

``plot_layer_graphs`` returns the closed ``Figure`` (like ``course_utils.plots``), so the notebook
shows it once as the cell's value; ``draw_layer_graph`` draws into a given ``Axes``. Plot text is
English on purpose (see notebooks/AUTHORING.md).
"""

from __future__ import annotations

from course_utils.inspect import layer_graph

#: Box colours by layer class; anything else is grey.
COLORS = {"InputLayer": "#fde2c8", "Dense": "#dbe9f6", "Concatenate": "#d9f2d9", "Add": "#d9f2d9"}


def graph_layout(model) -> dict[str, tuple[float, float]]:
    """``{layer name: (x, y)}``: one row per depth (inputs on top), rows centred on x = 0."""
    graph = layer_graph(model)
    depth: dict[str, int] = {}
    for name, node in graph.items():  # the config lists layers in topological order
        sources = [s for call in node["calls"] for s in call]
        depth[name] = 1 + max((depth[s] for s in sources), default=-1)
    rows: dict[int, list[str]] = {}
    for name, d in depth.items():
        rows.setdefault(d, []).append(name)
    return {
        name: (i - (len(row) - 1) / 2, -float(d))
        for d, row in rows.items()
        for i, name in enumerate(row)
    }


def draw_layer_graph(ax, model, title: str | None = None) -> dict[str, tuple[float, float]]:
    """Draw ``model``'s layers as boxes (name, class, activation) and its wiring as arrows.

    A layer called several times (a shared layer) gets one box and an arrow from each source.
    Returns the layout. Used in chapter 02 to set a functional graph beside a Sequential stack.
    """
    graph = layer_graph(model)
    pos = graph_layout(model)
    boxes = {}
    for name, node in graph.items():
        label = f"{name}\n{node['class']}"
        if node["activation"] not in (None, "linear"):
            label += f" ({node['activation']})"
        box = {"boxstyle": "round,pad=0.35", "fc": COLORS.get(node["class"], "#eeeeee")}
        boxes[name] = ax.text(*pos[name], label, ha="center", va="center", fontsize=8, bbox=box)
    for name, node in graph.items():
        for source in sorted({s for call in node["calls"] for s in call}):
            skip = pos[source][1] - pos[name][1] > 1  # an edge that jumps over a row
            ax.annotate(
                "",
                xy=(1.0, 0.5) if skip else (0.5, 1.0),
                xycoords=boxes[name],
                xytext=(1.0, 0.5) if skip else (0.5, 0.0),
                textcoords=boxes[source],
                arrowprops={
                    "arrowstyle": "-|>",
                    "color": "#555",
                    "shrinkA": 4,
                    "shrinkB": 4,
                    "connectionstyle": "arc3,rad=-0.6" if skip else "arc3",
                },
            )
    xs = [x for x, _ in pos.values()]
    ys = [y for _, y in pos.values()]
    ax.set(xlim=(min(xs) - 0.8, max(xs) + 0.8), ylim=(min(ys) - 0.6, max(ys) + 0.6))
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return pos


def plot_layer_graphs(models, titles=None):
    """Draw each model's layer graph in its own panel, side by side; return the closed Figure.

    Panel widths follow the widest row of each graph, so a Sequential stack stays narrow beside
    a branching functional model. Used in chapter 02.
    """
    import matplotlib.pyplot as plt

    layouts = [graph_layout(m) for m in models]
    widths = [
        max(2.4, max(x for x, _ in p.values()) - min(x for x, _ in p.values()) + 1.6)
        for p in layouts
    ]
    rows = max(1 - min(y for _, y in p.values()) for p in layouts)
    fig, axes = plt.subplots(
        1,
        len(models),
        figsize=(1.9 * sum(widths), 0.9 * rows + 0.9),
        width_ratios=widths,
        squeeze=False,
    )
    for ax, model, title in zip(axes[0], models, titles or [None] * len(models), strict=True):
        draw_layer_graph(ax, model, title=title)
    plt.close(fig)
    return fig


#: The three ways of building a Keras model, simplest first: (name, what it can express).
API_SPECTRUM = [
    ("Sequential\n(chapter 01)", "one straight stack"),
    ("Functional API\n(this chapter)", "any graph of layers:\nbranches, merges, shared layers"),
    ("subclassing\n(chapter 03)", "any Python in call()"),
]


def plot_api_spectrum():
    """The three model-building styles on one axis, simple (checked by Keras) to flexible
    (checked by you), this chapter's highlighted. Returns the closed ``Figure``."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 2.4))
    ax.annotate("", (0.98, 0.35), (0.02, 0.35), arrowprops={"arrowstyle": "<|-|>", "lw": 1.5})
    colors = ["#eee", "#dbe9f6", "#eee"]
    for x, (style, note), color in zip([0.14, 0.5, 0.86], API_SPECTRUM, colors, strict=True):
        ax.text(x, 0.65, style, ha="center", va="center", bbox={"boxstyle": "round", "fc": color})
        ax.text(x, 0.1, note, ha="center", va="center", fontsize=8)
    ax.text(0.02, 0.95, "simple, checked by Keras", fontsize=8)
    ax.text(0.98, 0.95, "flexible, checked by you", fontsize=8, ha="right")
    ax.set(xlim=(0, 1), ylim=(-0.1, 1.05))
    ax.axis("off")
    plt.close(fig)
    return fig
