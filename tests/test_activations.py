import pytest
import torch

from core.activations import capture, layer_last, layer_means

TEXT = "The cat sat on the mat and looked out of the window at the rain."


@pytest.fixture(scope="module")
def ids(lm):
    return lm.tokenizer(TEXT, return_tensors="pt")


def test_hooks_equal_output_hidden_states(lm, ids):
    with torch.inference_mode():
        ref = lm.model(**ids, output_hidden_states=True).hidden_states
    with capture(lm, [0, 7, 20, 28, 29]) as cap:
        cap.run(**ids)
    for layer in (0, 7, 20, 28):
        assert torch.allclose(cap.outputs[layer], ref[layer + 1], atol=1e-5)
    # transformers applies the final norm to its last hidden state; the hook sees the raw stream.
    assert torch.allclose(lm.model.model.norm(cap.outputs[29]), ref[30], atol=1e-4)
    assert set(cap.outputs) == {0, 7, 20, 28, 29}


def _hook_counts(lm):
    return [len(b._forward_hooks) for b in lm.blocks]


def test_hooks_removed_after_context_and_after_error(lm, ids):
    before = _hook_counts(lm)
    with capture(lm, [3, 5]) as cap:
        assert _hook_counts(lm)[3] == before[3] + 1
        cap.run(**ids)
    assert _hook_counts(lm) == before
    with pytest.raises(RuntimeError):
        with capture(lm, [3, 5]) as cap:
            raise RuntimeError("boom")
    assert _hook_counts(lm) == before
    with pytest.raises(Exception):
        with capture(lm, [4]) as cap:
            cap.run(input_ids=torch.tensor([[10**9]]))  # fails inside the forward pass
    assert _hook_counts(lm) == before


def test_stop_early_matches_full_pass(lm, ids):
    with capture(lm, [12]) as full:
        full.run(**ids)
    with capture(lm, [12], stop_early=True) as early:
        assert early.run(**ids) is None
    assert torch.equal(full.outputs[12], early.outputs[12])


def test_batched_equals_unbatched(lm):
    texts = [
        "Short one.",
        "A much longer sentence that keeps going for a while about the weather and trains.",
        "Medium length text, with a comma.",
    ]
    batched = layer_means(lm, texts, [2, 20], start=1)
    for i, text in enumerate(texts):
        alone = layer_means(lm, [text], [2, 20], start=1)[0]
        assert torch.allclose(batched[i], alone, atol=1e-4, rtol=1e-4)


def test_streaming_mean_equals_mean_of_kept_states(lm, ids):
    with capture(lm, [9]) as cap:
        cap.run(**ids)
    expected = cap.outputs[9][0, 4:].double().mean(0)
    got = layer_means(lm, [TEXT], [9], start=4)[0, 0]
    assert torch.allclose(got, expected, atol=1e-4)


def test_last_token_in_a_batch_is_each_texts_own_last_position(lm):
    texts = ["Short one.", "A much longer sentence that keeps going for a while about the weather and trains."]
    batched = layer_last(lm, texts, [3, 12])
    for i, text in enumerate(texts):
        with capture(lm, [3, 12]) as cap:
            cap.run(**lm.tokenizer(text, return_tensors="pt"))
        for j, layer in enumerate((3, 12)):
            assert torch.allclose(batched[i, j], cap.outputs[layer][0, -1].double(), atol=1e-4, rtol=1e-4)


def test_layer_out_of_range(lm):
    from core import EmotionLensError

    with pytest.raises(EmotionLensError, match="out of range"):
        with capture(lm, [30]):
            pass
