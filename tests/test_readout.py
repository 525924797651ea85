"""The readout: its maths, and how it reads real stories through the real model."""

import json

import numpy as np
import pytest

from core import corpus, load_vectors, score
from core import readout as ro
from core.activations import SINK_TOKENS, layer_means
from core.collect import heldout_key

# The held-out check may fall short of the cross-validated figure by this much: a sample of
# 2 stories per emotion has a standard error of about 2.5 points on top-5.
MARGIN = 0.08


def test_full_shrinkage_gives_the_concept_directions():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(6), 10)
    x = rng.normal(size=(60, 12)) + np.eye(6, 12)[labels] * 3
    pcs = np.eye(12)[:1]
    sc = ro.scatter(x, labels, 6, pcs)
    means = ro.class_means(x @ ro.complement(pcs, 12), labels, 6)
    concept = means - means.mean(0)
    concept /= np.linalg.norm(concept, axis=1, keepdims=True)
    assert np.allclose(sc.directions(1.0), concept)
    w = sc.directions(0.5)
    assert np.allclose(np.linalg.norm(w, axis=1), 1) and np.allclose(w @ pcs.T, 0, atol=1e-9)


def test_cross_validation_beats_chance_on_separable_data_and_not_on_noise():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(8), 10)
    signal = rng.normal(size=(8, 20))
    x = signal[labels] + rng.normal(size=(80, 20))
    noise = rng.normal(size=(80, 20))
    good = ro.accuracy(ro.cross_validate(x, labels, 8, np.zeros((0, 20)), (0.5,))[0.5])
    bad = ro.accuracy(ro.cross_validate(noise, labels, 8, np.zeros((0, 20)), (0.5,))[0.5])
    assert good["top1"] > 0.8 and bad["top1"] < 0.4


def test_folds_are_stratified():
    labels = np.repeat(np.arange(5), 24)
    f = ro.folds(labels)
    for e in range(5):
        assert np.bincount(f[labels == e], minlength=5).tolist() == [5, 5, 5, 5, 4]


def test_shipped_readout_is_described(ev):
    r = ev.readout_meta
    assert ev.has_readout and ev.resolve() == ("readout", "stories", None)
    assert 0 <= r["layer"] < ev.n_layers and 0 < r["shrinkage"] < 1 and r["position"] in ("words", "last", "header")
    assert np.allclose(np.linalg.norm(ev.extras["readout"], axis=2), 1, atol=1e-4)
    # chosen by story CV: the chosen (layer, shrinkage) is the best of the table
    best = max(r["cv"], key=lambda c: (c["top1"] + c["top5"]) if c["shrinkage"] < 1 else -1)
    assert (best["layer"], best["shrinkage"]) == (r["layer"], r["shrinkage"])


@pytest.fixture(scope="module")
def heldout_sample(lm, ev):
    """Two stories per emotion from the fold the held-out readout never saw, read at its layer."""
    keys = set(ev.readout_meta["heldout_keys"])
    emotions = ev.emotions
    picked = {}
    for s in corpus.load_stories():
        if heldout_key(s.text) in keys and len(picked.setdefault(s.emotion, [])) < 2:
            picked[s.emotion].append(s.text)
    texts = [t for e in emotions for t in picked[e]]
    labels = np.array([emotions.index(e) for e in emotions for _ in picked[e]])
    layer = ev.readout_meta["layer"]
    x = np.concatenate(
        [
            layer_means(lm, texts[i : i + 16], [layer], start=ev.meta["method"]["start_token"], max_tokens=512)[:, 0].numpy()
            for i in range(0, len(texts), 16)
        ]
    )
    return x, labels, layer


def test_heldout_stories_rank_their_own_emotion_as_cross_validation_said(ev, heldout_sample):
    x, labels, layer = heldout_sample
    z = (x @ ev.extras["readout_heldout"].T - ev.extras["readout_heldout_mean"]) / ev.extras["readout_heldout_std"]
    top5 = ro.accuracy(ro.ranks(z, labels))["top5"]
    cv = next(c for c in ev.readout_meta["cv"] if c["layer"] == layer and c["shrinkage"] == ev.readout_meta["shrinkage"])
    assert top5 >= cv["top5"] - MARGIN, (top5, cv["top5"])
    assert top5 > 10 * 5 / 171  # far above chance


def test_calibrated_z_is_centred_and_unit_over_stories(ev, heldout_sample):
    x, labels, layer = heldout_sample
    z = (x @ ev.extras["readout"][layer].T - ev.extras["readout_mean"][layer]) / ev.extras["readout_std"][layer]
    assert abs(np.median(z.mean(0))) < 0.15 and np.all(np.abs(z.mean(0)) < 0.6)
    assert 0.8 < np.median(z.std(0)) < 1.25


def test_readout_reads_a_frightening_story_as_fear(lm, ev):
    text = (
        "The lift lurched and stopped between floors, and the lights went out. Mara pressed both palms "
        "to the cold steel wall. Somewhere above, a cable groaned. Her breath came short and fast, and "
        "she could not make her fingers find the alarm button in the dark."
    )
    ts = score(lm, ev, text)
    mean = ts.z[SINK_TOKENS:].mean(0)
    rank = {e: r for r, e in enumerate(np.array(ts.emotions)[np.argsort(-mean)], 1)}
    assert min(rank[e] for e in ("afraid", "frightened", "scared", "terrified", "panicked")) <= 5


def test_readout_survives_save_and_load(ev, lm, tmp_path):
    ev.save(tmp_path)
    back = load_vectors(lm, tmp_path)
    for key in ("readout", "readout_mean", "readout_std", "story_mean", "readout_heldout"):
        assert np.array_equal(back.extras[key], ev.extras[key])
    assert back.readout_meta == ev.readout_meta
    a, b = score(lm, ev, "A calm evening."), score(lm, back, "A calm evening.")
    assert np.array_equal(a.z, b.z) and a.meta["method"] == b.meta["method"]


def test_a_vectors_file_of_the_previous_format_still_loads(ev, lm, tmp_path):
    from safetensors.numpy import save_file

    save_file(
        {"vectors": ev.vectors, "baseline_mean": ev.baseline_mean, "baseline_std": ev.baseline_std}, str(tmp_path / "vectors.safetensors")
    )
    meta = {k: v for k, v in ev.meta.items() if k not in ("readout", "tensors_sha256")} | {"format_version": 1}
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    old = load_vectors(lm, tmp_path)
    kind, baseline, note = old.resolve()
    assert (kind, baseline) == ("concept", "neutral") and "predates the readout" in note
    ts = score(lm, old, "A calm evening.")
    assert "predates the readout" in ts.meta["method"] and ts.layer == ev.default_layer
    assert np.allclose(ts.z, score(lm, ev, "A calm evening.", kind="concept", baseline="neutral").z, atol=1e-5)
