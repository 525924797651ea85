"""Device and precision (core/devices.py): what users ask for is checked, and lower precision
reads the same as float32 within a stated tolerance. CPU only: a GPU changes where the numbers
are computed, not the code path that turns them into readings."""

import numpy as np
import pytest
import torch

from core import EmotionLensError, load_model, load_vectors, score
from core.devices import placement

FRIGHT = "User: I heard the door handle turn slowly. Someone is inside the house and I am alone.\nAssistant: Call the police now."


@pytest.mark.fast
def test_unknown_or_absent_devices_get_one_message():
    with pytest.raises(EmotionLensError, match="unknown device 'tpu'"):
        placement("tpu")
    with pytest.raises(EmotionLensError, match="unknown dtype 'int8'"):
        placement("cpu", "int8")
    if not torch.cuda.is_available():
        with pytest.raises(EmotionLensError, match="no CUDA GPU"):
            placement("cuda")
        assert placement("auto").device in ("cpu", "mps")
    assert placement("CPU", " BFloat16 ").torch_dtype == torch.bfloat16


@pytest.mark.fast
def test_a_bfloat16_model_runs_every_path_and_hands_back_float32(tiny, tiny_vectors):
    from core.activations import capture
    from core.lens import logit_lens
    from core.monitor import monitor
    from core.steering import steer_generate

    lm = load_model(tiny.source, dtype="bfloat16")
    assert lm.model.dtype == torch.bfloat16 and lm.placement.dtype == "bfloat16" and str(lm.device) == "cpu"
    with capture(lm, [1, 2]) as cap:
        cap.run(**lm.tokenizer("A quiet morning by the river.", return_tensors="pt"))
    assert all(h.dtype == torch.float32 and h.device.type == "cpu" for h in cap.outputs.values())
    ts = score(lm, tiny_vectors, FRIGHT)
    assert np.isfinite(ts.z[ts.word_mask()]).all()
    reply = steer_generate(lm, tiny_vectors, "User: Tell me about the river.", {"calm": 2.0}, max_new_tokens=6, seed=0)
    assert isinstance(reply, str)
    result = monitor(lm, tiny_vectors, "User: Tell me about the river.", {"afraid": 50.0}, max_new_tokens=6, seed=0)
    assert len(result.tokens) <= 6 and not result.flagged
    up, down = logit_lens(lm, tiny_vectors.at()[0], k=3)
    assert len(up) == len(down) == 3


def test_bfloat16_reads_like_float32_on_the_shipped_model(lm, ev):
    # The stated tolerance (docs/usage.md): per-token z within 0.1 on average, each emotion's
    # text mean within 0.1, the same five strongest emotions. Measured: 0.05, 0.03, 5 of 5.
    low = load_model(lm.name, dtype="bfloat16")
    a, b = score(lm, ev, FRIGHT), score(low, load_vectors(low), FRIGHT)
    words = a.word_mask()
    assert float(np.abs(a.z[words] - b.z[words]).mean()) <= 0.1
    ma, mb = a.mean_z(), b.mean_z()
    assert max(abs(ma[e] - mb[e]) for e in ma) <= 0.1
    top = lambda m: set(sorted(m, key=m.get)[-5:])
    assert len(top(ma) & top(mb)) >= 4 and "afraid" in {e for e in ma if ma[e] > 0}
    assert "model run in bfloat16" in b.meta["method"] and "bfloat16" not in a.meta["method"]


def test_the_cli_takes_device_and_dtype():
    import json

    from conftest import run_cli

    out = run_cli("info", "--json", "--dtype", "bfloat16", "--device", "auto")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["dtype"] == "bfloat16" and info["device"] == ("cuda:0" if torch.cuda.is_available() else "cpu")
    out = run_cli("score", "--text", "hello", "--dtype", "int8")
    assert out.returncode == 2 and "invalid choice" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.fast
def test_the_build_sizes_its_batches_from_free_memory(tiny):
    from core.devices import batch_size_for

    assert batch_size_for(tiny, 512) == 8  # a tiny model on a CPU with gigabytes free: the CPU's cap
    assert batch_size_for(tiny, 1_000_000) == 1  # texts that long: one at a time
