"""Shared fixtures: the real shipped SmolLM2 model and its committed vectors, loaded once."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


def run_cli(*args, env=None, timeout=600):
    """Run ``python -m core`` in a fresh process, as a user would."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True, text=True, env=full_env, timeout=timeout)
