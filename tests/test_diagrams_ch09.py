"""Chapter 09 diagrams: the project plan and the gated fusion are closed figures with their boxes."""

import matplotlib

from course_utils.diagrams.ch09 import PLAN, plot_gated_fusion, plot_project_plan

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def test_project_plan_has_a_box_per_step_and_an_arrow_between_neighbours():
    """Does the plan show every step once (milestones with their exercise) and one arrow per
    consecutive pair, in a closed figure?"""
    fig = plot_project_plan()
    assert fig.number not in plt.get_fignums()
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.texts if t.get_text()]
    assert len(labels) == len(PLAN)
    for label, exercise, _ in PLAN:
        assert any(label in t and (not exercise or f"[{exercise}]" in t) for t in labels), label
    arrows = [t for t in ax.texts if not t.get_text()]
    assert len(arrows) == len(PLAN) - 1


def test_gated_fusion_names_the_gate_formula():
    """Is the gate's formula and the mix written in the closed figure?"""
    fig = plot_gated_fusion()
    assert fig.number not in plt.get_fignums()
    text = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "sigmoid" in text and "g * a + (1 - g) * b" in text
