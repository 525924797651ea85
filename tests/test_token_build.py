"""build --token: the study's chosen set-up fitted, calibrated, saved and read back."""

import numpy as np

from conftest import run_cli
from core import corpus
from core.passages import MARKER, token_activations, training_passages
from core.paths import cache_dir
from core.token_build import build_token_reading
from core.vectors import EmotionVectors, vectors_dir

STUDY = {
    "chosen": {"layer": 6, "decay": 0.85, "directions": "token λ=0.1", "norm": "unit", "auroc": 0.0},
    "layers": [6],
    "rule": "test",
    "folds": 3,
}


def small_passages(ev):
    stories = [s for s in corpus.load_stories() if s.emotion in ("afraid", "calm", "happy")][::4]
    return [p for p in training_passages(ev.emotions, stories=stories, formats=[])][:30]


def test_the_fitted_reading_round_trips_and_is_calibrated_on_its_tokens(lm, ev, tmp_path):
    fresh = EmotionVectors.load(vectors_dir(lm.name))
    passages = small_passages(ev)
    build_token_reading(lm, fresh, STUDY, passages=passages)
    fresh.save(tmp_path)
    back = EmotionVectors.load(tmp_path)
    r = back.token_reading()
    assert r.layer == 6 and r.decay == 0.85 and r.centre is not None and r.directions.shape == (171, lm.d_model)
    assert back.meta["token_reading"]["directions"] == "token" and back.meta["token_reading"]["shrinkage"] == 0.1
    ts = token_activations(lm, passages, [6], cache_dir() / "study" / lm.name)
    keep = ts.labels != MARKER
    z = r.z(ts.hidden[6], keep, ts.passage)[keep]
    j = [ev.index(e) for e in ("afraid", "calm", "happy")]
    assert np.abs(z[:, j].mean(0)).max() < 0.05 and np.allclose(z[:, j].std(0), 1, atol=0.05)
    afraid = ts.labels[keep] == ev.index("afraid")
    assert z[afraid, j[0]].mean() > z[~afraid, j[0]].mean() + 0.5  # it reads its own training spans


def test_build_token_without_a_study_says_what_to_run(tmp_path):
    (tmp_path / "v").mkdir()
    src = vectors_dir("smollm2-135m-instruct")
    for name in ("vectors.safetensors", "meta.json"):
        (tmp_path / "v" / name).write_bytes((src / name).read_bytes())
    r = run_cli("build", "--token", "--model", "smollm2-135m-instruct", "--out", str(tmp_path / "v"))
    assert r.returncode == 2 and "python -m study.token_study" in r.stderr and "Traceback" not in r.stderr


def test_a_token_pass_loads_only_the_layers_asked_for(lm, ev):
    """A 1.5B model's tokens take ~4 GB a layer: the study reads its checkpointed pass one layer at a time."""
    passages, work = small_passages(ev)[:6], cache_dir() / "study" / lm.name
    both = token_activations(lm, passages, [4, 6], work)
    none, six = (token_activations(lm, passages, [4, 6], work, load=load) for load in ([], [6]))
    assert none.hidden == {} and list(six.hidden) == [6] and np.array_equal(six.hidden[6], both.hidden[6])
    assert np.array_equal(none.labels, both.labels) and np.array_equal(six.passage, both.passage)
