"""Diagrams for chapter 00: broadcasting alignment and what a GradientTape records.

Like ``course_utils.plots``, each function returns the matplotlib ``Figure`` (closed, so the
notebook shows it once as the cell's value). Text is English on purpose (see AUTHORING.md).
"""

from __future__ import annotations

import numpy as np


def _grid(ax, x0: float, shape: tuple[int, int], values, stretched=None, title: str = ""):
    """Draw a ``shape`` grid of cells at x = ``x0``; ``stretched`` marks copied cells."""
    from matplotlib.patches import Rectangle

    rows, cols = shape
    for i in range(rows):
        for j in range(cols):
            copied = stretched is not None and stretched[i, j]
            ax.add_patch(
                Rectangle(
                    (x0 + j, -i - 1),
                    1,
                    1,
                    facecolor="#dddddd" if copied else "#9ecae1",
                    edgecolor="black",
                    linestyle=":" if copied else "-",
                )
            )
            ax.text(x0 + j + 0.5, -i - 0.5, f"{values[i, j]:g}", ha="center", va="center")
    ax.text(x0 + cols / 2, 0.35, title, ha="center", va="bottom", fontsize=10)


def draw_broadcasting(column=(0.0, 1.0, 2.0), row=(1.0, 2.0, 3.0, 4.0)):
    """Show ``column (n, 1) + row (1, m)``: each operand stretched to ``(n, m)``, then the sum.

    Blue cells hold the operand's own values; grey dotted cells are the copies broadcasting
    makes (conceptually: no memory is copied). Used in chapter 00.
    """
    import matplotlib.pyplot as plt

    col = np.asarray(column, dtype=float).reshape(-1, 1)
    r = np.asarray(row, dtype=float).reshape(1, -1)
    n, m = col.shape[0], r.shape[1]
    full = (n, m)
    fig, ax = plt.subplots(figsize=(2.2 * m + 2, 0.9 * n + 1.4))
    own_col = np.zeros(full, dtype=bool)
    own_col[:, 0] = True
    own_row = np.zeros(full, dtype=bool)
    own_row[0, :] = True
    _grid(ax, 0, full, np.broadcast_to(col, full), ~own_col, f"column {col.shape}")
    ax.text(m + 0.5, -n / 2, "+", ha="center", va="center", fontsize=18)
    _grid(ax, m + 1, full, np.broadcast_to(r, full), ~own_row, f"row {r.shape}")
    ax.text(2 * m + 1.5, -n / 2, "=", ha="center", va="center", fontsize=18)
    _grid(ax, 2 * m + 2, full, col + r, None, f"result {full}")
    ax.set_xlim(-0.2, 3 * m + 2.2)
    ax.set_ylim(-n - 0.9, 1.0)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("Broadcasting: shapes align from the right, size-1 axes are stretched")
    ax.text(0, -n - 0.6, "grey dotted cells = stretched copies", fontsize=9, color="dimgray")
    plt.close(fig)
    return fig


#: The computation z = a * a * b + a * b at a = 3, b = 2, as the tape records it:
#: node -> (x, y, label). The backward pass gives dz/da = 2ab + b = 14, dz/db = a^2 + a = 12.
_TAPE_NODES = {
    "a": (0.0, 3.0, "a = 3"),
    "b": (0.0, 1.2, "b = 2"),
    "u": (2.4, 3.0, "u = a * a\n= 9"),
    "v": (2.4, 0.0, "v = a * b\n= 6"),
    "w": (4.8, 3.0, "w = u * b\n= 18"),
    "z": (7.0, 1.5, "z = w + v\n= 24"),
}
_TAPE_EDGES = [
    # (from, to, local derivative d(to)/d(from) at a=3, b=2)
    ("a", "u", "2a = 6"),
    ("a", "v", "b = 2"),
    ("b", "v", "a = 3"),
    ("u", "w", "b = 2"),
    ("b", "w", "u = 9"),
    ("w", "z", "1"),
    ("v", "z", "1"),
]
_TAPE_GRADS = {"z": 1, "w": 1, "v": 1, "u": 2, "a": 14, "b": 12}


def draw_tape():
    """Draw the tape for ``z = a*a*b + a*b``: the forward pass it records (black, values) and
    the backward pass ``tape.gradient(z, [a, b])`` walks in reverse (red, dz/d(node)).

    Each red number is the sum, over the node's outgoing edges, of (gradient of the edge's end)
    x (local derivative on the edge). Used in chapter 00.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9.5, 5.0))
    for src, dst, local in _TAPE_EDGES:
        (x0, y0, _), (x1, y1, _) = _TAPE_NODES[src], _TAPE_NODES[dst]
        ax.annotate(
            "",
            xy=(x1 - 0.55, y1),
            xytext=(x0 + 0.55, y0),
            arrowprops={"arrowstyle": "->", "color": "black", "lw": 1.2},
        )
        ax.annotate(
            "",
            xy=(x0 + 0.55, y0 - 0.12),
            xytext=(x1 - 0.55, y1 - 0.12),
            arrowprops={"arrowstyle": "->", "color": "tab:red", "lw": 1.0, "ls": "--"},
        )
        ax.text(
            (x0 + x1) / 2,
            (y0 + y1) / 2 + 0.12,
            local,
            ha="center",
            fontsize=8,
            color="dimgray",
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5},
        )
    for name, (x, y, label) in _TAPE_NODES.items():
        ax.text(
            x,
            y,
            label,
            ha="center",
            va="center",
            fontsize=10,
            bbox={"boxstyle": "round", "facecolor": "#deebf7", "edgecolor": "black"},
        )
        ax.text(x, y - 0.55, f"dz/d{name} = {_TAPE_GRADS[name]}", ha="center", color="tab:red")
    ax.text(-0.6, 4.0, "black: forward pass, recorded on the tape (values)", fontsize=9)
    ax.text(-0.6, 3.7, "grey: local derivative of each edge", fontsize=9, color="dimgray")
    ax.text(3.0, -1.0, "red: backward pass, tape.gradient(z, [a, b])", color="tab:red")
    ax.set_xlim(-0.8, 7.8)
    ax.set_ylim(-1.2, 4.3)
    ax.axis("off")
    ax.set_title("What GradientTape records, and the backward pass")
    plt.close(fig)
    return fig
