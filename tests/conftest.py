"""Shared fixtures: the real shipped SmolLM2 model and its committed vectors, loaded once."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def lm():
    from core import load_model

    return load_model("smollm2-135m-instruct")


@pytest.fixture(scope="session")
def ev(lm):
    from core import load_vectors

    return load_vectors(lm)


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """A 4-block Llama (d_model 64) saved as a model directory and loaded the way a user's would be."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from core import corpus, load_model

    folder = tmp_path_factory.mktemp("tiny-llama")
    bpe = ByteLevelBPETokenizer(add_prefix_space=False)
    texts = [s.text for s in corpus.load_stories()[:400]]
    bpe.train_from_iterator(texts, vocab_size=600, min_frequency=2, special_tokens=["<s>", "</s>"])
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>", eos_token="</s>")
    tok.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=1024,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    return load_model(str(folder))


@pytest.fixture(scope="session")
def tiny_vectors(tiny, tmp_path_factory):
    """The build, end to end (story means, neutral PCs, concept vectors, readout) on three emotions."""
    import os

    from core.build import BuildConfig, build_vectors

    os.environ["EMOTION_LENS_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    try:
        config = BuildConfig(emotions=("afraid", "calm", "happy"), batch_size=16)
        return build_vectors(tiny, config, out_dir=tmp_path_factory.mktemp("vectors"))
    finally:
        os.environ.pop("EMOTION_LENS_CACHE")


@pytest.fixture(scope="session")
def scan_corpus(tmp_path_factory):
    """A generated corpus to scan: 24 chat transcripts and 2 malformed records (``core.corpus.write_chat_corpus``)."""
    from core.corpus import write_chat_corpus

    path = tmp_path_factory.mktemp("corpus") / "chats.jsonl"
    write_chat_corpus(path, 24)
    return path


@pytest.fixture(scope="session")
def scan_dir(scan_corpus, tmp_path_factory):
    """That corpus scanned with the shipped model by ``python -m core scan`` (local engine)."""
    out = tmp_path_factory.mktemp("scan-local")
    result = run_cli("scan", str(scan_corpus), "--out", str(out), "--chunk", "8")
    assert result.returncode == 0, result.stderr
    return out


def file_limit(max_bytes: int):
    """For a child process: no file may grow past ``max_bytes`` (a full disk, as a write sees it:
    EFBIG instead of the signal that would kill the process)."""

    def limit():
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))

    return limit


def run_cli(*args, env=None, timeout=600, max_file_bytes=None):
    """Run ``python -m core`` in a fresh process, as a user would (with a full disk, if asked)."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        preexec_fn=file_limit(max_file_bytes) if max_file_bytes else None,
    )


# Property tests: a fixed, reproducible sample in CI; HYPOTHESIS_PROFILE=full searches wider.
_common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large], database=None)
settings.register_profile("ci", max_examples=60, derandomize=True, **_common)
settings.register_profile("full", max_examples=1000, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
