"""Contrast directions from the model's own chats: built, stored, read, and meaningful."""

import json

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from core import EmotionLensError
from core.contrast import BUILD_PROMPTS, CONTRAST_POSITIONS, build_contrast, load_contrast, save_contrast
from core.scoring import forward
from core.steering import steer_generate, steering_direction
from core.vectors import EmotionVectors, vectors_dir
from study.prompts import CHOOSE_PROMPTS, REPORT_PROMPTS

FRIGHT = (
    "User: Someone is inside the house. I can hear footsteps on the stairs and the phone is dead. I'm hiding in the wardrobe and shaking."
)
CALM = "User: I'm sitting on the porch with a cup of tea, watching the garden in the evening light. Nothing to do and nowhere to be."


def test_build_subtracts_the_mean_over_emotions_and_says_how(lm):
    emotions = ["happy", "sad", "afraid"]
    directions, meta = build_contrast(lm, emotions, prompts=BUILD_PROMPTS[:2])
    assert directions.shape == (lm.n_layers, 3, lm.d_model)
    assert np.abs(directions.sum(1)).max() < 1e-6 * np.abs(directions).max()
    assert meta["emotions"] == emotions and "{emotion}" in meta["template"] and meta["prompts"] == BUILD_PROMPTS[:2]
    assert np.linalg.norm(directions[12, 0] - directions[12, 1]) > 0
    assert meta["position"] == "last" and "last token" in meta["positions"]


def test_build_reads_the_words_instead_when_asked(lm):
    emotions = ["happy", "sad", "afraid"]
    last, _ = build_contrast(lm, emotions, prompts=BUILD_PROMPTS[:2])
    words, meta = build_contrast(lm, emotions, prompts=BUILD_PROMPTS[:2], position="words")
    assert meta["position"] == "words" and meta["positions"].startswith("the user's words")
    cos = (last[12] * words[12]).sum(1) / np.linalg.norm(last[12], axis=1) / np.linalg.norm(words[12], axis=1)
    assert cos.max() < 0.99  # two different readings of the same prompts
    with pytest.raises(EmotionLensError, match="position must be one of last, words"):
        build_contrast(lm, emotions, prompts=BUILD_PROMPTS[:1], position="everywhere")


def test_each_shipped_file_records_the_position_its_study_chose():
    # a rebuild (`build --contrast`) keeps it; docs/steering-study.md says why they differ
    for model, position in (("smollm2-135m-instruct", "last"), ("gemma3-270m", "words")):
        meta = EmotionVectors.load(vectors_dir(model)).meta["contrast"]
        assert meta["position"] == position and meta["positions"].startswith(CONTRAST_POSITIONS[position])


def test_build_prompts_are_kept_apart_from_the_study_prompts():
    assert not set(BUILD_PROMPTS) & (set(CHOOSE_PROMPTS) | set(REPORT_PROMPTS))


def test_shipped_directions_read_fear_and_calm_where_they_are(lm, ev):
    assert ev.has_contrast and ev.meta["contrast"]["emotions"] == ev.emotions
    layer = round(0.4 * lm.n_layers)
    fw = {name: forward(lm, text, [layer]).hidden[layer][1:].mean(0) for name, text in (("fright", FRIGHT), ("calm", CALM))}
    d = {e: ev.directions("contrast", layer)[ev.index(e)] for e in ("afraid", "calm")}
    assert fw["fright"] @ d["afraid"] > fw["calm"] @ d["afraid"]
    assert fw["calm"] @ d["calm"] > fw["fright"] @ d["calm"]


def test_stored_file_round_trips_and_bad_files_are_refused(lm, ev, tmp_path):
    arr = ev.extras["contrast"][:, :4]
    save_contrast(tmp_path, arr, {"emotions": ev.emotions[:4]})
    got, meta = load_contrast(tmp_path, arr.shape)
    assert np.allclose(got, arr, atol=1e-2 * np.abs(arr).max()) and meta == {"emotions": ev.emotions[:4]}
    with pytest.raises(EmotionLensError, match="expected"):
        load_contrast(tmp_path, (lm.n_layers, 171, lm.d_model))
    (tmp_path / "contrast.safetensors").write_bytes(b"\x80\x04not safetensors")
    with pytest.raises(EmotionLensError, match="not a valid contrast file"):
        load_contrast(tmp_path, arr.shape)
    assert load_contrast(tmp_path / "missing", arr.shape) is None


def test_vectors_save_keeps_contrast_in_its_own_file(ev, tmp_path):
    ev.save(tmp_path)
    assert "contrast" not in load_file(str(tmp_path / "vectors.safetensors"))
    assert "contrast" not in json.loads((tmp_path / "meta.json").read_text())
    assert not EmotionVectors.load(tmp_path).has_contrast  # no contrast file there


def test_steering_with_contrast_directions(lm, ev, tmp_path):
    layer = round(0.4 * lm.n_layers)
    d = steering_direction(lm, ev, {"sad": 0.3}, layer, kind="contrast")
    assert np.isclose(np.linalg.norm(d), 0.3 * lm.residual_norms[layer], rtol=1e-4)
    prompt = "User: Tell me about your weekend."
    plain = steer_generate(lm, ev, prompt, {}, layer=layer, max_new_tokens=20, seed=None, kind="contrast")
    assert steer_generate(lm, ev, prompt, {"sad": 0.0}, layer=layer, max_new_tokens=20, seed=None, kind="contrast") == plain
    assert steer_generate(lm, ev, prompt, {"sad": 0.5}, layer=layer, max_new_tokens=20, seed=None, kind="contrast") != plain
    # vectors without a contrast file beside them say how to build one
    src = vectors_dir(lm.name)
    bare = EmotionVectors.from_bytes((src / "vectors.safetensors").read_bytes(), (src / "meta.json").read_text())
    with pytest.raises(EmotionLensError, match="build --contrast"):
        steering_direction(lm, bare, {"sad": 0.3}, layer, kind="contrast")


def test_steering_with_blend_directions(lm, ev):
    layer = round(0.4 * lm.n_layers)
    d = steering_direction(lm, ev, {"happy": 0.3}, layer, kind="blend")
    assert np.isclose(np.linalg.norm(d), 0.3 * lm.residual_norms[layer], rtol=1e-4)
    contrast = steering_direction(lm, ev, {"happy": 0.3}, layer, kind="contrast")
    assert 0.9 < d @ contrast / (np.linalg.norm(d) * np.linalg.norm(contrast)) < 1  # contrast, a little turned
    prompt = "User: Tell me about your weekend."
    plain = steer_generate(lm, ev, prompt, {}, layer=layer, max_new_tokens=20, seed=None, kind="blend")
    assert steer_generate(lm, ev, prompt, {"happy": 0.5}, layer=layer, max_new_tokens=20, seed=None, kind="blend") != plain
    src = vectors_dir(lm.name)
    bare = EmotionVectors.from_bytes((src / "vectors.safetensors").read_bytes(), (src / "meta.json").read_text())
    with pytest.raises(EmotionLensError, match="blend directions need"):
        steering_direction(lm, bare, {"happy": 0.3}, layer, kind="blend")


@pytest.mark.parametrize("change", [{"emotions": "reversed"}, {"weights_sha256": "0" * 64}])
def test_a_file_for_other_emotions_or_weights_is_not_attached(lm, ev, tmp_path, change):
    ev.save(tmp_path)
    meta = {"emotions": ev.emotions, "weights_sha256": ev.meta["weights_sha256"]}
    meta |= {"emotions": list(reversed(ev.emotions))} if "emotions" in change else change
    for m, attached in ((meta, False), ({"emotions": ev.emotions, "weights_sha256": ev.meta["weights_sha256"]}, True)):
        save_file(
            {"contrast": np.zeros((lm.n_layers, 171, lm.d_model), np.float16)},
            str(tmp_path / "contrast.safetensors"),
            metadata={"meta": json.dumps(m)},
        )
        assert EmotionVectors.load(tmp_path).has_contrast is attached
