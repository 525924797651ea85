import json

import numpy as np
import pytest

from core import EmotionLensError, corpus
from core.build import BuildConfig, build_vectors, emotion_directions, neutral_pcs
from core.collect import story_means


class Interrupt(Exception):
    pass


def test_story_means_resume_after_interruption(lm, tmp_path):
    stories = corpus.load_stories()[:6]
    calls = []

    def stop_after_first_batch(stage, done, total):
        calls.append(done)
        if done >= 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        story_means(lm, stories, tmp_path / "a", 2, stop_after_first_batch)
    seen = []
    resumed = story_means(lm, stories, tmp_path / "a", 2, lambda s, d, t: seen.append(d))
    assert seen[0] == 2  # resumed with the first batch already done
    fresh = story_means(lm, stories, tmp_path / "b", 3, lambda *a: None)
    assert np.allclose(resumed, fresh, atol=1e-4)
    assert resumed.shape == (3, 6, lm.n_layers, lm.d_model)


def test_emotion_directions_are_unit_and_free_of_neutral_pcs():
    rng = np.random.default_rng(0)
    means = rng.normal(size=(40, 16))
    labels = np.repeat(np.arange(8), 5)
    pcs = np.linalg.qr(rng.normal(size=(16, 3)))[0].T
    v = emotion_directions(means, labels, 8, pcs)
    assert np.allclose(np.linalg.norm(v, axis=1), 1)
    assert np.allclose(v @ pcs.T, 0, atol=1e-9)


def test_neutral_pcs_explain_the_asked_variance():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 10)) * np.array([10, 5, 3, 1, 1, 1, 1, 1, 1, 1])
    pcs, frac = neutral_pcs(np.cov(x.T), 0.5)
    assert frac >= 0.5 and len(pcs) == 1
    pcs, frac = neutral_pcs(np.cov(x.T), 0.8)
    assert frac >= 0.8 and len(pcs) == 2
    pcs, frac = neutral_pcs(np.cov(x.T), 0.92)
    assert frac >= 0.92 and len(pcs) == 3


def test_refuses_to_overwrite_vectors_from_another_corpus(lm, tmp_path):
    (tmp_path / "meta.json").write_text(json.dumps({"model": lm.name, "corpus_hash": "other"}))
    with pytest.raises(EmotionLensError, match="different corpus.*--force"):
        build_vectors(lm, BuildConfig(), out_dir=tmp_path)


def test_rejects_unsupported_start_token(lm, tmp_path):
    with pytest.raises(EmotionLensError, match="start token"):
        build_vectors(lm, BuildConfig(start_token=7), out_dir=tmp_path)
