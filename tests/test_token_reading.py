"""The token-level reading: its maths on small arrays, and what the shipped reading shows."""

import numpy as np
import pytest

from core import score
from core.passages import MARKER, NEUTRAL
from core.token_reading import (
    RunningZ,
    TokenReading,
    auroc,
    class_stats,
    normalise,
    row_mean,
    running_by_passage,
    running_mean,
    token_directions,
    token_figures,
)


def test_running_mean_restarts_per_passage_and_skips_markers():
    rng = np.random.default_rng(0)
    p, passage = rng.normal(size=(50, 3)), np.repeat([0, 1, 2], [10, 25, 15])
    keep = rng.random(50) > 0.2
    run = running_by_passage(p, passage, keep, 0.8)
    for q in range(3):
        m = (passage == q) & keep
        assert np.allclose(run[m], running_mean(p[m], 0.8), atol=1e-5)
    assert np.isnan(run[~keep]).all()
    assert np.allclose(running_by_passage(p, passage, keep, 0.0)[keep], p[keep])  # decay 0: each token alone
    first = np.flatnonzero(keep & (passage == 1))[0]
    assert np.allclose(run[first], p[first])  # bias-corrected start


def test_streaming_equals_the_whole_text():
    rng = np.random.default_rng(1)
    reading = TokenReading(
        0, rng.normal(size=(4, 6)).astype(np.float32), None, 0.85, rng.normal(size=4).astype(np.float32), np.ones(4, np.float32)
    )
    h, keep = rng.normal(size=(20, 6)).astype(np.float32), rng.random(20) > 0.3
    whole = reading.z(h, keep)
    stream = RunningZ(reading)
    parts = np.concatenate([stream.update(h[:7], keep[:7])] + [stream.update(h[i : i + 1], keep[i : i + 1]) for i in range(7, 20)])
    assert np.allclose(np.nan_to_num(whole), np.nan_to_num(parts), atol=1e-4)


def test_auroc_and_figures():
    assert auroc(np.array([3.0, 4.0]), np.array([1.0, 2.0, 3.0])) == pytest.approx(11 / 12)
    labels = np.array([MARKER, NEUTRAL, NEUTRAL, 0, 0, NEUTRAL, MARKER, NEUTRAL, 1, 1])
    passage = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    z = np.zeros((10, 6), np.float32)
    z[[3, 4], 0] = 2.0
    z[[8, 9], 1] = 4.0
    z[1, 2] = 3.5  # one neutral cell over the line
    fig = token_figures(z, labels, passage, k=1)
    assert fig["auroc"] == 1.0 and fig["hover_top"] == 1.0 and fig["sentence_top"] == 1.0
    assert fig["false_alarms"] == pytest.approx(1 / (4 * 6))


def test_token_directions_separate_classes_better_than_means_alone():
    rng = np.random.default_rng(2)
    noise = np.diag([10.0, 0.1, 0.1, 0.1])  # a direction where tokens vary a lot
    x = np.concatenate(
        [
            rng.normal(size=(300, 4)) @ noise + [0.5, 1, 0, 0],
            rng.normal(size=(300, 4)) @ noise + [-0.5, -1, 0, 0],
            rng.normal(size=(300, 4)) @ noise,
        ]
    )
    labels = np.repeat([0, 1, NEUTRAL], 300)
    w = token_directions(*class_stats(x, labels, 2), 0.1)
    assert abs(w[0, 1]) > abs(w[0, 0])  # the corrected probe ignores the noisy axis


@pytest.fixture(scope="module")
def gemma():
    from core import load_model, load_vectors

    lm = load_model("gemma3-270m")
    return lm, load_vectors(lm)


def test_gemma_ships_the_reading_its_study_chose(gemma):
    import json

    from core.vectors import vectors_dir

    _, ev = gemma
    chosen = json.loads((vectors_dir("gemma3-270m") / "token-study.json").read_text())["chosen"]
    assert ev.has_token_reading and ev.token_reading().layer == chosen["layer"]
    assert f"running mean over ~{round(1 / (1 - chosen['decay']))} tokens" in ev.describe_token_reading()


@pytest.mark.parametrize("model", ["smollm2-135m-instruct", "gemma3-270m"])
def test_a_frightening_sentence_reads_more_afraid_than_the_neutral_ones_around_it(model, lm, ev, request):
    if model != lm.name:
        lm, ev = request.getfixturevalue("gemma")
    text = (
        "The library opens at nine and the shelves are sorted by author. "
        "Footsteps followed her down the dark alley and she ran, heart pounding, too terrified to look back. "
        "The report has three sections and a short summary at the end."
    )
    ts = score(lm, ev, text)
    fear = ts.column("afraid", "token")
    cut = [i for i, (a, b) in enumerate(ts.offsets) if text[a:b].strip()]
    start, end = text.index("Footsteps"), text.index("The report")
    inside = [i for i in cut if start <= ts.offsets[i][0] < end]
    outside = [i for i in cut if ts.offsets[i][0] < start - 2 or ts.offsets[i][0] >= end + 20]
    assert np.nanmean(fear[inside]) > np.nanmean(fear[outside]) + 0.5
    assert np.isnan(ts.shown[0]).all()  # the attention sink is never read


def test_chat_markers_are_never_read(lm, ev):
    ts = score(lm, ev, "User: Hello there.\nAssistant: Hi, how can I help?")
    read = ts.word_mask()
    assert np.isnan(ts.shown[~read]).all() and not np.isnan(ts.shown[read]).any()
    assert "<|im_start|>" in [ts.tokens[i] for i in np.flatnonzero(~read)]


@pytest.mark.fast
def test_a_corpus_taken_in_slices_of_whole_passages_reads_as_taken_whole():
    """The study's 626k tokens go through in slices (whole at once, its float64 ran out of 24 GB)."""
    rng = np.random.default_rng(1)
    passage = np.repeat(np.arange(60), rng.integers(3, 40, 60))
    x = rng.normal(size=(len(passage), 5)).astype(np.float32)
    keep = rng.random(len(passage)) > 0.1
    whole = running_by_passage(x, passage, keep, 0.85, slice_tokens=10**9)
    for size in (1, 7, 100):
        assert np.allclose(running_by_passage(x, passage, keep, 0.85, slice_tokens=size), whole, atol=1e-5, equal_nan=True)
    for q in (0, 17, 59):
        rows = np.flatnonzero((passage == q) & keep)
        assert np.allclose(whole[rows], running_mean(x[rows].astype(np.float64), 0.85), atol=1e-5)


def test_normalise_and_row_mean_in_slices_equal_the_plain_formulas():
    """Qwen's training tokens are ~4 GB a layer, so these work in place and in slices."""
    rng = np.random.default_rng(2)
    x = (rng.normal(size=(250_001, 6)) * 3 + 5).astype(np.float32)
    rows = rng.random(len(x)) > 0.3
    assert np.allclose(row_mean(x, rows), x[rows].mean(0, dtype=np.float64), atol=1e-6)
    centre = x.mean(0)
    plain = (x - centre) / np.linalg.norm(x - centre, axis=1, keepdims=True) * np.sqrt(6)
    before = x.copy()
    assert np.allclose(normalise(x, centre), plain, atol=1e-5)
    assert np.array_equal(x, before)  # the caller's array is untouched
