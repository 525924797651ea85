"""Contrast directions: emotion directions taken from the model's own chat activations.

The concept vectors come from third-person stories; a chat model steered with them often
drifts rather than changes mood. These directions instead record what the model does when the
same neutral request is asked in different emotional versions ("… Answer as someone who is
feeling very sad."): the residual stream at the prompt's last token (the reply header's end,
where the model settles how to answer) or averaged over the user's words and the header, per
emotion over a few prompts, minus the mean over all emotions, as the paper does for stories.
Which position steers better differs by model, so the steering study chooses it on its own
prompts: on SmolLM2 the last token ("sad" averaged over the words barely pointed along valence
and hardly moved an outside judge), on Gemma the words. Built once per model (``python -m core
build --contrast``), stored beside the vectors as ``contrast.safetensors`` (float16, with its
description and position in the header), read only through safetensors.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from .activations import layer_last, layer_means
from .alignment import prepare, tokenize
from .errors import EmotionLensError
from .paths import atomic_path
from .transcript import Turn

if TYPE_CHECKING:
    from .models import LoadedModel

FILE = "contrast.safetensors"
CONTRAST_POSITIONS = {"last": "the prompt's last token (end of the reply header)", "words": "the user's words and the reply header"}
TEMPLATE = "{prompt} Answer as someone who is feeling very {emotion}."
# Neutral requests used only to build the directions (the steering study chooses and reports
# on two other sets, core.effects.CHOOSE_PROMPTS and REPORT_PROMPTS).
BUILD_PROMPTS = [
    "Tell me about your morning coffee.",
    "What did you do last Saturday?",
    "Describe the kitchen in your home.",
    "How do you get to work?",
    "Tell me about the last book you read.",
    "What is on your desk right now?",
    "Describe the park near your house.",
    "What are your plans for tomorrow?",
]


def _texts(lm: LoadedModel, emotion: str, prompts: list[str]) -> list[str]:
    return [prepare(lm, [Turn("user", TEMPLATE.format(prompt=p, emotion=emotion))], open_reply=True)[0] for p in prompts]


def build_contrast(
    lm: LoadedModel,
    emotions: list[str],
    prompts: list[str] = BUILD_PROMPTS,
    position: str = "last",
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, dict]:
    """``[n_layers, n_emotions, d_model]`` directions (emotion mean minus the mean over emotions)
    read at ``position`` (a key of ``CONTRAST_POSITIONS``), and their description."""
    if position not in CONTRAST_POSITIONS:
        raise EmotionLensError(f"contrast position must be one of {', '.join(CONTRAST_POSITIONS)}")
    # The chat header before the user's words is the same for every version: start there.
    text, segments = prepare(lm, [Turn("user", prompts[0])], open_reply=True)
    start = tokenize(lm, text, segments)[4][-2].words[0]
    layers = list(range(lm.n_layers))
    means = np.zeros((lm.n_layers, len(emotions), lm.d_model))
    for j, emotion in enumerate(emotions):
        texts = _texts(lm, emotion, prompts)
        acts = layer_last(lm, texts, layers) if position == "last" else layer_means(lm, texts, layers, start=start)
        means[:, j] = acts.mean(0).numpy()
        if progress:
            progress(j + 1, len(emotions))
    where = CONTRAST_POSITIONS[position] + ("" if position == "last" else f", from token {start}")
    meta = {
        "model": lm.name,
        "weights_sha256": lm.sha256,
        "emotions": list(emotions),
        "template": TEMPLATE,
        "prompts": list(prompts),
        "position": position,
        "positions": where,
        "method": "emotion mean minus the mean over emotions, per layer",
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    return means - means.mean(1, keepdims=True), meta


def save_contrast(folder: Path, directions: np.ndarray, meta: dict) -> Path:
    from safetensors.numpy import save_file

    path = Path(folder) / FILE
    with atomic_path(path) as tmp:
        save_file({"contrast": directions.astype(np.float16)}, str(tmp), metadata={"meta": json.dumps(meta)})
    return path


def load_contrast(folder: Path, shape: tuple[int, int, int]) -> tuple[np.ndarray, dict] | None:
    """The stored directions, if this folder has them; refused clearly if they do not fit."""
    from safetensors import safe_open

    path = Path(folder) / FILE
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), "np") as f:
            arr, meta = f.get_tensor("contrast").astype(np.float32), json.loads(f.metadata()["meta"])
    except Exception as exc:
        raise EmotionLensError(f"{path} is not a valid contrast file ({' '.join(str(exc).split())[:120]})") from None
    if arr.shape != tuple(shape):
        raise EmotionLensError(
            f"{path} has shape {list(arr.shape)}, expected {list(shape)}: rebuild it with `python -m core build --contrast`"
        )
    return arr, meta
