"""The fast tier (`make test-fast`, under a minute): the mechanics on a tiny randomly initialised
Llama-architecture model built here, with a byte-level tokenizer trained here on the corpus.
Nothing in it needs the shipped weights; what it checks is plumbing that must hold for any model:
hooks, token alignment, the build end to end on three emotions, scoring and steering.
The real-model tests (the rest of the suite) check that the readings mean something."""

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.fast
EMOTIONS = ("afraid", "calm", "happy")


def test_capture_reads_each_blocks_output(tiny):
    from core.activations import capture

    ids = tiny.tokenizer("A quiet morning by the river.", return_tensors="pt")
    with capture(tiny, range(tiny.n_layers)) as cap:
        cap.run(**ids)
    with torch.inference_mode():
        hidden = tiny.model(**ids, output_hidden_states=True).hidden_states
    for layer in range(tiny.n_layers - 1):  # the last hidden state is after the final norm
        assert torch.allclose(cap.outputs[layer].float(), hidden[layer + 1].float(), atol=1e-5)


def test_steering_hooks_add_exactly_their_vector_and_always_come_off(tiny):
    from core.activations import capture
    from core.steering import steering_hooks

    ids = tiny.tokenizer("A quiet morning by the river.", return_tensors="pt")
    add = np.ones(tiny.d_model, np.float32)
    hooks = lambda: sum(len(b._forward_hooks) for b in tiny.blocks)  # transformers may keep its own
    before = hooks()

    def block_output(additions):
        with steering_hooks(tiny, additions), capture(tiny, [1]) as cap:
            cap.run(**ids)
        return cap.outputs[1].float()

    moved = block_output({1: add}) - block_output({})
    assert torch.allclose(moved, torch.ones_like(moved), atol=1e-4)
    with pytest.raises(RuntimeError):
        with steering_hooks(tiny, {1: add}):
            raise RuntimeError("boom")
    assert hooks() == before


def test_every_character_is_shown_once_with_its_token(tiny):
    from core.alignment import prepare, tokenize

    text = "User: 明日の手術が怖い 🎉 Ärzte\nAssistant: Viel Glück!"
    rendered, segments = prepare(tiny, text)
    _, tokens, offsets, _, turns = tokenize(tiny, rendered, segments)
    assert "".join(tokens) == rendered
    assert all(0 <= a <= b <= len(rendered) for a, b in offsets)
    assert [t.role for t in turns if t.role != "system"] == ["user", "assistant"]


def test_the_build_runs_end_to_end_on_three_emotions(tiny, tiny_vectors):
    ev = tiny_vectors
    assert ev.emotions == list(EMOTIONS) and ev.vectors.shape == (tiny.n_layers, 3, tiny.d_model)
    assert np.allclose(np.linalg.norm(ev.vectors, axis=-1), 1, atol=1e-4)
    assert ev.has_readout and 0 <= ev.reading_layer() < tiny.n_layers
    assert ev.meta["stories_per_emotion"] == {e: 24 for e in EMOTIONS}


def test_scoring_gives_every_token_a_z_for_every_emotion(tiny, tiny_vectors):
    from core import score

    ts = score(tiny, tiny_vectors, "User: The lights went out and something moved.\nAssistant: Stay where you are.")
    assert ts.z.shape == (len(ts.tokens), 3) and np.isfinite(ts.z[ts.word_mask()]).all()
    assert set(ts.mean_z()) == set(EMOTIONS) and "layer" in ts.meta["method"]


def test_steering_at_strength_zero_is_the_plain_reply_and_a_push_changes_the_next_token(tiny, tiny_vectors):
    from core.steering import steer_generate, steering_additions, steering_hooks

    prompt = "User: Tell me about the river."
    plain = steer_generate(tiny, tiny_vectors, prompt, {}, max_new_tokens=8, seed=None)
    assert steer_generate(tiny, tiny_vectors, prompt, {"calm": 0.0}, max_new_tokens=8, seed=None) == plain
    ids = tiny.tokenizer(prompt, return_tensors="pt")
    with torch.inference_mode():
        before = tiny.model(**ids).logits[0, -1]
        with steering_hooks(tiny, steering_additions(tiny, tiny_vectors, {"calm": 4.0}, [1, 2])):
            after = tiny.model(**ids).logits[0, -1]
    assert not torch.allclose(before, after)
