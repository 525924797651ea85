"""Figures: every label escaped, every title carrying its caption (model, layer, method)."""

import numpy as np
import pytest

from core import plots

pytestmark = pytest.mark.fast

HOSTILE = "<img src=x onerror=alert(1)>"


def test_labels_are_escaped_and_captions_wrap_into_the_title():
    fig = plots.scatter(
        [0, 1, 2],
        [1, 0, 2],
        ["calm", HOSTILE, "afraid"],
        [0, 1, 1],
        {0: "calm", 1: HOSTILE},
        "PCA of emotion vectors",
        "smollm2 · layer 20 · " + "a long method line " * 12,
        "PC1",
        "PC2",
    )
    shown = [t for trace in fig.data for t in trace.customdata]
    assert "&lt;img src=x onerror=alert(1)&gt;" in shown and HOSTILE not in shown
    assert all(HOSTILE not in (trace.name or "") for trace in fig.data)
    title = fig.layout.title.text
    assert title.startswith("PCA of emotion vectors<br><sup>smollm2 · layer 20") and title.count("<sup>") >= 2


def test_each_cluster_keeps_its_colour_and_every_point_is_drawn():
    groups = [0, 3, 3, 23]
    fig = plots.scatter(np.arange(4), np.arange(4), list("abcd"), groups, {0: "x", 3: "y", 23: "z"}, "t", "c", "a", "b")
    assert sum(len(trace.x) for trace in fig.data) == 4
    assert [trace.marker.color for trace in fig.data] == [plots.cluster_colour(c) for c in (0, 3, 23)]
    assert plots.cluster_colour(23) == plots.cluster_colour(3)  # the palette wraps round


def test_heatmap_line_density_and_sweep_draw_their_data():
    m = np.eye(3)
    heat = plots.heatmap(m, ["a", "b", HOSTILE], ["a", "b", HOSTILE], "Similarity", "caption")
    assert np.allclose(np.asarray(heat.data[0].z), m) and "&lt;img" in list(heat.data[0].x)[2]
    line = plots.line([0, 1, 2], {"story CV": [0.1, 0.5, 0.3]}, "Per layer", "caption", "layer", "score")
    assert list(line.data[0].y) == [0.1, 0.5, 0.3]
    dens = plots.density(np.array([0.0, 0.5, 0.9]), np.array([0.0, 0.1, 0.9]), ["p", "q", "r"], "t", "c", "x", "y", 1)
    assert list(dens.data[1].text) == ["q"]  # the pair farthest from the diagonal
    rows = [
        {"strength": s, "reading": s, "vader": s / 2, "valence": 5.0, "perplexity_ratio": 1 + abs(s), "reply": HOSTILE}
        for s in (-0.5, 0.0, 0.5)
    ]
    sweep = plots.sweep_figure(rows, "happy", "caption")
    assert len(sweep.data) == 4 and list(sweep.data[3].y) == [1.5, 1.0, 1.5]
    assert all(HOSTILE not in c for c in sweep.data[0].customdata)
