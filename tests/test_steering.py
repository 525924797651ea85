"""Steering on the real model: exact when off, effective when on, isolated between requests."""

import threading

import numpy as np
import pytest
import torch

from core import EmotionLensError
from core.alignment import prepare
from core.steering import (
    decode_reply,
    resolve_steer_layers,
    steer_generate,
    steer_generate_batch,
    steering_additions,
    steering_direction,
    steering_hooks,
    turn_end,
)

PROMPT = "User: Tell me about your weekend."


def hooks_on(lm):
    return sum(len(b._forward_hooks) for b in lm.blocks)


def test_strength_zero_is_plain_generation_token_for_token(lm, ev):
    text, _ = prepare(lm, PROMPT, open_reply=True)
    enc = lm.tokenizer(text, return_tensors="pt")
    torch.manual_seed(3)
    with torch.inference_mode():
        out = lm.model.generate(
            **enc, max_new_tokens=20, do_sample=True, temperature=0.8, top_p=0.95, pad_token_id=lm.tokenizer.eos_token_id
        )
    plain = lm.tokenizer.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True).strip()
    assert steer_generate(lm, ev, PROMPT, {"calm": 0.0}, max_new_tokens=20, seed=3) == plain
    assert steer_generate(lm, ev, PROMPT, {}, max_new_tokens=20, seed=3) == plain


def test_steering_changes_the_text(lm, ev):
    plain = steer_generate(lm, ev, PROMPT, {}, max_new_tokens=20, seed=None)
    steered = steer_generate(lm, ev, PROMPT, {"sad": 1.0}, max_new_tokens=20, seed=None)
    only_new = steer_generate(lm, ev, PROMPT, {"sad": 1.0}, max_new_tokens=20, seed=None, positions="generated")
    assert steered != plain and only_new != plain


BATCH = [PROMPT, "User: What should I cook tonight? I have rice, eggs and some spinach.", "User: Hi"]


def test_a_batch_of_prompts_greedily_gets_each_prompts_own_reply(lm, ev):
    """Left padding must not change what a prompt reads: greedy rows equal their replies alone."""
    for strengths, kw in (({}, {}), ({"sad": 0.5}, {"layers": [8, 12]}), ({"happy": 0.4}, {"positions": "generated"})):
        alone = [steer_generate(lm, ev, p, strengths, max_new_tokens=25, seed=None, **kw) for p in BATCH]
        assert steer_generate_batch(lm, ev, BATCH, strengths, max_new_tokens=25, seed=None, **kw) == alone


def test_a_sampled_batch_pairs_each_steered_reply_with_its_unsteered_twin(lm, ev):
    plain = steer_generate_batch(lm, ev, BATCH, {}, max_new_tokens=25, seed=4)
    assert steer_generate_batch(lm, ev, BATCH, {}, max_new_tokens=25, seed=4) == plain  # the same draws
    assert steer_generate_batch(lm, ev, BATCH, {"happy": 0.0}, max_new_tokens=25, seed=4) == plain
    steered = steer_generate_batch(lm, ev, BATCH, {"sad": 1.0}, max_new_tokens=25, seed=4)
    assert len(steered) == 3 and sum(a != b for a, b in zip(steered, plain)) >= 2
    for prompts in ([], [PROMPT] * 33):
        with pytest.raises(EmotionLensError, match="1 to 32 prompts"):
            steer_generate_batch(lm, ev, prompts, {})


def test_direction_is_in_units_of_the_mean_residual_norm(lm, ev):
    layer = ev.default_layer
    d = steering_direction(lm, ev, {"happy": 0.5}, layer)
    assert np.isclose(np.linalg.norm(d), 0.5 * lm.residual_norms[layer], rtol=1e-4)
    both = steering_direction(lm, ev, {"happy": 0.5, "sad": -0.5}, layer)
    expected = 0.5 * lm.residual_norms[layer] * (ev.vectors[layer, ev.index("happy")] - ev.vectors[layer, ev.index("sad")])
    assert np.allclose(both, expected, atol=1e-4)


def test_a_strength_spread_over_layers_is_split_evenly(lm, ev):
    additions = steering_additions(lm, ev, {"calm": 0.6}, [6, 4, 5, 5])
    assert sorted(additions) == [4, 5, 6]
    for layer, vec in additions.items():
        assert np.isclose(np.linalg.norm(vec), 0.2 * lm.residual_norms[layer], rtol=1e-4)
    assert steering_additions(lm, ev, {"calm": 0.0}, [4, 5]) == {}
    plain = steer_generate(lm, ev, PROMPT, {}, max_new_tokens=20, seed=None)
    assert steer_generate(lm, ev, PROMPT, {"sad": 1.0}, layers=list(range(4, 21)), max_new_tokens=20, seed=None) != plain


def test_an_empty_layer_list_means_the_presets_layers_in_generation_and_monitoring_alike(lm, ev):
    from core.steering_preset import load_preset

    assert resolve_steer_layers(ev, None, []) == resolve_steer_layers(ev, None, None) == list(load_preset(ev).layers)
    assert resolve_steer_layers(ev, 5, []) == [5] and resolve_steer_layers(ev, 5, [10, 11]) == [10, 11]
    one = steer_generate(lm, ev, PROMPT, {"sad": 0.5}, layer=12, max_new_tokens=12, seed=None)
    assert steer_generate(lm, ev, PROMPT, {"sad": 0.5}, layer=12, layers=[], max_new_tokens=12, seed=None) == one


def test_no_hook_remains_even_after_an_exception(lm, ev):
    before = hooks_on(lm)
    with steering_hooks(lm, {5: steering_direction(lm, ev, {"afraid": 1.0}, 5)}):
        assert hooks_on(lm) == before + 1
    assert hooks_on(lm) == before
    with pytest.raises(RuntimeError):
        with steering_hooks(lm, {5: steering_direction(lm, ev, {"afraid": 1.0}, 5)}):
            raise RuntimeError("a failed generation")
    assert hooks_on(lm) == before
    with pytest.raises(EmotionLensError, match="out of range"):
        with steering_hooks(lm, {5: np.zeros(lm.d_model), 99: np.zeros(lm.d_model)}):
            pass
    assert hooks_on(lm) == before


def test_a_plain_request_beside_a_steered_one_gets_its_own_output(lm, ev):
    reference = steer_generate(lm, ev, PROMPT, {}, max_new_tokens=16, seed=7)
    results = {}

    def run(key, strengths):
        results[key] = steer_generate(lm, ev, PROMPT, strengths, max_new_tokens=16, seed=7)

    threads = [threading.Thread(target=run, args=("steered", {"sad": 2.0})), threading.Thread(target=run, args=("plain", {}))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results["plain"] == reference and results["steered"] != reference


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"strengths": {"calmm": 0.5}}, "unknown emotion"),
        ({"max_new_tokens": 0}, "between 1 and"),
        ({"positions": "some"}, "positions must be"),
        ({"strengths": {"calm": float("nan")}}, "finite"),
    ],
)
def test_bad_requests_get_one_clear_message(lm, ev, kwargs, message):
    args = {"strengths": {"calm": 0.5}, "max_new_tokens": 5} | kwargs
    with pytest.raises(EmotionLensError, match=message):
        steer_generate(lm, ev, PROMPT, args.pop("strengths"), **args)


def test_readout_directions_steer_in_the_same_units(lm, ev):
    layer = ev.reading_layer()
    d = steering_direction(lm, ev, {"happy": 0.5}, layer, kind="readout")
    w = ev.directions("readout", layer)[ev.index("happy")]
    assert np.isclose(np.linalg.norm(d), 0.5 * lm.residual_norms[layer], rtol=1e-4)
    assert np.allclose(d / np.linalg.norm(d), w / np.linalg.norm(w), atol=1e-5)
    with pytest.raises(EmotionLensError, match="steering directions"):
        steering_direction(lm, ev, {"happy": 0.5}, layer, kind="other")


def test_a_reply_cut_inside_a_character_drops_the_half_character(lm):
    ids = lm.tokenizer("I love 🎉", add_special_tokens=False)["input_ids"]
    assert len(ids) > 3 and lm.tokenizer.decode(ids[:-1]).endswith("\ufffd")  # the emoji is split over tokens
    assert decode_reply(lm, ids[:-1]) == "I love" and decode_reply(lm, ids) == "I love 🎉"


def test_a_new_turn_ends_the_reply():
    assert turn_end("Sure, here you go.\nUser: and then?") == len("Sure, here you go.")
    assert turn_end("Sure.\n\n  Assistant: again") == len("Sure.")
    assert turn_end("A user: asked me") is None and turn_end("Note: nothing here") is None


def test_a_base_model_stops_where_it_would_write_the_users_next_turn():
    """Gemma is a base model: unstopped, it writes the dialogue on; the reply ends at its turn's end."""
    from core import load_model, load_vectors

    gemma = load_model("gemma3-270m")
    gev = load_vectors(gemma)
    seen = []
    reply = steer_generate(gemma, gev, PROMPT, {}, max_new_tokens=80, seed=0, on_text=seen.append)
    assert seen and seen[-1] == reply and "User:" not in reply and "Assistant:" not in reply
    assert len(seen) < 80  # it stopped before the length limit


def test_streaming_hears_every_token_and_ends_on_the_reply(lm, ev):
    seen = []
    reply = steer_generate(lm, ev, PROMPT, {"calm": 0.3}, max_new_tokens=15, seed=1, on_text=seen.append)
    assert len(seen) == 15 and seen[-1] == reply
    assert reply == steer_generate(lm, ev, PROMPT, {"calm": 0.3}, max_new_tokens=15, seed=1)  # streaming changes nothing
