import json

import numpy as np
import pytest

from core import EmotionLensError, EmotionVectors, corpus, load_vectors
from core.vectors import vectors_dir


def test_shipped_vectors_for_smollm2(ev, lm):
    assert ev.vectors.shape == (30, 171, 576)
    assert ev.emotions == list(corpus.emotions())
    assert np.allclose(np.linalg.norm(ev.vectors, axis=2), 1.0, atol=1e-4)
    assert ev.baseline_mean.shape == ev.baseline_std.shape == (30, 171) and (ev.baseline_std > 0).all()
    meta = ev.meta
    assert meta["weights_sha256"] == lm.sha256 and meta["corpus_hash"] == corpus.corpus_hash()
    assert 0 < ev.default_layer < 30 and meta["method"]["neutral_variance"] == 0.5
    assert min(meta["stories_per_emotion"].values()) >= 8


def test_shipped_vectors_for_gemma():
    ev = EmotionVectors.load(vectors_dir("gemma3-270m"))
    assert ev.vectors.shape == (18, 171, 640)
    assert ev.meta["model"] == "gemma3-270m" and ev.meta["corpus_hash"] == corpus.corpus_hash()


def test_round_trip(ev, tmp_path):
    ev.save(tmp_path)
    back = EmotionVectors.load(tmp_path)
    assert np.array_equal(back.vectors, ev.vectors) and np.array_equal(back.baseline_std, ev.baseline_std)
    assert back.meta["emotions"] == ev.emotions and back.default_layer == ev.default_layer
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave nothing behind


def _variant(ev, **changes):
    v = EmotionVectors(ev.vectors, ev.baseline_mean, ev.baseline_std, dict(ev.meta), ev.neutral_pcs)
    for k, val in changes.items():
        setattr(v, k, val) if k != "meta" else v.meta.update(val)
    return v


@pytest.mark.parametrize(
    "change, message",
    [
        ({"vectors": "drop_layer"}, "29 layers vs the model's 30"),
        ({"vectors": "pad_dim"}, "d_model 577 vs the model's 576"),
        ({"meta": {"weights_sha256": "0" * 64}}, "weights sha256 000000000000"),
    ],
)
def test_mismatched_model_is_refused(ev, lm, tmp_path, change, message):
    v = _variant(ev, **({} if "vectors" in change else change))
    if change.get("vectors") == "drop_layer":
        v = EmotionVectors(ev.vectors[:29], ev.baseline_mean[:29], ev.baseline_std[:29], dict(ev.meta))
    elif change.get("vectors") == "pad_dim":
        v = EmotionVectors(np.pad(ev.vectors, ((0, 0), (0, 0), (0, 1))), ev.baseline_mean, ev.baseline_std, dict(ev.meta))
    v.save(tmp_path)
    with pytest.raises(EmotionLensError, match=message):
        load_vectors(lm, tmp_path)


@pytest.mark.parametrize(
    "tensors, meta, message",
    [
        (b"not safetensors", "{}", "not a valid safetensors"),
        (None, "{not json", "not valid JSON"),
        (None, json.dumps({"emotions": ["a"], "default_layer": 0}), "meta.json lists 1 emotions"),
    ],
)
def test_bad_files_are_refused(ev, tmp_path, tensors, meta, message):
    ev.save(tmp_path)
    data = tensors if tensors is not None else (tmp_path / "vectors.safetensors").read_bytes()
    with pytest.raises(EmotionLensError, match=message):
        EmotionVectors.from_bytes(data, meta)


def test_oversized_vectors_file_is_refused():
    from core.vectors import MAX_VECTORS_BYTES

    with pytest.raises(EmotionLensError, match="the limit is 256 MB"):
        EmotionVectors.from_bytes(bytes(MAX_VECTORS_BYTES + 1), "{}")


def test_missing_vectors_folder(lm, tmp_path):
    with pytest.raises(EmotionLensError, match="python -m core build"):
        load_vectors(lm, tmp_path)


def test_unknown_emotion_suggests(ev):
    with pytest.raises(EmotionLensError, match="did you mean afraid"):
        ev.index("afriad")
    with pytest.raises(EmotionLensError, match="out of range"):
        ev.layer(99)


def test_similar_emotions_point_the_same_way(ev):
    v = ev.at()
    cos = lambda a, b: float(v[ev.index(a)] @ v[ev.index(b)])
    assert cos("afraid", "terrified") > cos("afraid", "joyful")
    assert cos("happy", "joyful") > cos("happy", "miserable")


def test_blend_directions_are_the_contrast_with_a_little_readout(ev):
    from core.vectors import BLEND_READOUT_WEIGHT

    layer, i = 12, ev.index("happy")
    contrast, readout = ev.directions("contrast", layer)[i], ev.directions("readout", layer)[i]
    blend = ev.directions("blend", layer)[i]
    unit = lambda v: v / np.linalg.norm(v)  # noqa: E731
    assert np.allclose(blend, unit(contrast) + BLEND_READOUT_WEIGHT * unit(readout), atol=1e-5)
    assert unit(blend) @ unit(contrast) > unit(blend) @ unit(readout) > 0  # mostly contrast
    assert ev.has_directions("blend")
    src = vectors_dir(ev.model_name)
    bare = EmotionVectors.from_bytes((src / "vectors.safetensors").read_bytes(), (src / "meta.json").read_text())
    assert not bare.has_directions("blend")  # no contrast file beside it


def test_a_reading_is_resolved_once_with_its_calibration_and_method(ev):
    r = ev.reading()
    assert (r.kind, r.baseline, r.layer) == ("readout", "stories", ev.reading_layer())
    assert r.directions.shape == (len(ev.emotions), ev.d_model) and r.mean.shape == r.std.shape == (len(ev.emotions),)
    assert r.method == ev.describe_reading(None, None) and f"layer {r.layer}/" in r.method
    hidden = np.random.default_rng(0).normal(size=(3, ev.d_model)).astype(np.float32)
    raw, z = r.project(hidden)
    assert np.allclose(z, (hidden @ r.directions.T - r.mean) / r.std, atol=1e-4)
    neutral = ev.reading("concept", "neutral", 5)
    assert (neutral.kind, neutral.baseline, neutral.layer) == ("concept", "neutral", 5) and neutral.note is None


@pytest.mark.parametrize("damage", ["truncate", "flip", "split pair"])
def test_a_damaged_vectors_file_is_refused_with_how_to_restore_it(ev, lm, tmp_path, damage):
    folder = tmp_path / "smollm2-135m-instruct"
    ev.save(folder)
    tensors = folder / "vectors.safetensors"
    data = tensors.read_bytes()
    if damage == "truncate":
        tensors.write_bytes(data[: len(data) // 2])
    elif damage == "flip":  # a flipped byte deep in the arrays: safetensors still parses it
        tensors.write_bytes(data[:5_000_000] + bytes([data[5_000_000] ^ 0xFF]) + data[5_000_001:])
    else:  # a save cut between its two renames: new tensors beside the old meta.json
        _variant(ev, baseline_std=ev.baseline_std * 2).save(tmp_path / "newer")
        tensors.write_bytes((tmp_path / "newer" / "vectors.safetensors").read_bytes())
    with pytest.raises(EmotionLensError) as err:
        load_vectors(lm, folder)
    assert "git checkout -- cached_vectors/smollm2-135m-instruct" in str(err.value)
    assert "python -m core build --model smollm2-135m-instruct" in str(err.value)
    assert ("not a valid safetensors" if damage == "truncate" else "not the file meta.json was written with") in str(err.value)
