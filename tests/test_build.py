import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from safetensors.numpy import load_file

from conftest import ROOT, run_cli
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


# --- faults: kill -9 and a full disk in the middle of a real `python -m core build` ------------


def _arrays(folder):
    return load_file(str(folder / "vectors.safetensors"))


def _build_args(tiny, out):
    return ["build", "--model", tiny.source, "--emotions", "afraid,calm,happy", "--batch-size", "2", "--out", str(out)]


def _checkpoints(cache):
    return [p for p in cache.rglob("*.safetensors") if not p.name.startswith(".")]


def test_a_build_killed_mid_way_resumes_to_the_very_same_vectors(tiny, tmp_path):
    whole = run_cli(*_build_args(tiny, tmp_path / "whole"), env={"EMOTION_LENS_CACHE": str(tmp_path / "cache-whole")})
    assert whole.returncode == 0, whole.stderr
    cache = tmp_path / "cache-killed"
    env = dict(os.environ, EMOTION_LENS_CACHE=str(cache))
    proc = subprocess.Popen(
        [sys.executable, "-m", "core", *_build_args(tiny, tmp_path / "killed")], cwd=ROOT, env=env, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.time() + 300
        while not _checkpoints(cache) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)  # after its first checkpoint, before it finished
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL and _checkpoints(cache)
    assert not (tmp_path / "killed" / "vectors.safetensors").exists()
    resumed = run_cli(*_build_args(tiny, tmp_path / "killed"), env={"EMOTION_LENS_CACHE": str(cache)})
    assert resumed.returncode == 0, resumed.stderr
    a, b = _arrays(tmp_path / "whole"), _arrays(tmp_path / "killed")
    assert sorted(a) == sorted(b) and all(np.array_equal(a[k], b[k]) for k in a)  # identical, bit for bit


def test_a_full_disk_during_a_build_gives_one_line_and_keeps_the_vectors_in_place(tiny, tmp_path):
    out, cache = tmp_path / "vectors", tmp_path / "cache"
    assert run_cli(*_build_args(tiny, out), env={"EMOTION_LENS_CACHE": str(cache)}).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    for where, cache_now in [("checkpoints", tmp_path / "empty-cache"), ("the vectors", cache)]:
        if where == "the vectors":  # the build's checkpoints all exist: only the final save writes
            shutil.rmtree(tmp_path / "empty-cache")
        full = run_cli(*_build_args(tiny, out), env={"EMOTION_LENS_CACHE": str(cache_now)}, max_file_bytes=1024)
        assert full.returncode == 2, (where, full.stderr)
        lines = [l for l in full.stderr.splitlines() if l.startswith("error:")]
        assert len(lines) == 1 and "File too large" in lines[0] and "left as they were" in lines[0], full.stderr
        assert "Traceback" not in full.stderr
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing half-written where a good file stood
        assert not [p for p in tmp_path.rglob("*.tmp")]
