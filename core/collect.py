"""Collect activations over the corpus for the build, resumably: per-story means from several
start tokens, stories read as chat at the reading positions, and the neutral dialogues'
token moments. Each is checkpointed in the user cache (safetensors, written atomically) under
a key of the model and its weights, so an interrupted build resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch

from . import corpus
from .activations import SINK_TOKENS, capture, encode_batch, mean_from
from .alignment import tokenize
from .paths import atomic_path, cache_dir, sweep_stale_temporaries
from .scoring import READ_POSITIONS, prompt_positions
from .transcript import Turn, render

if TYPE_CHECKING:
    from .models import LoadedModel

STARTS = (1, 10, 25)  # token positions from which story means are kept
MAX_STORY_TOKENS = 512
Progress = Callable[[str, int, int], None]  # (stage, done, total)


def work_dir(lm: LoadedModel) -> Path:
    key = f"{lm.name.replace('/', '__')}-{(lm.sha256 or 'nosha')[:12]}"
    path = cache_dir() / "build" / key
    path.mkdir(parents=True, exist_ok=True)
    sweep_stale_temporaries(path)
    return path


def _load_checkpoint(path: Path) -> dict | None:
    from safetensors.numpy import load_file

    try:
        return load_file(str(path)) if path.exists() else None
    except Exception:
        return None  # a damaged checkpoint is recomputed, never trusted


def _save_checkpoint(path: Path, arrays: dict) -> None:
    from safetensors.numpy import save_file

    with atomic_path(path) as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp))


def _story_key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


def heldout_key(text: str) -> str:
    """How meta.json names a story left out of the held-out readout (sha1 prefix of its text)."""
    return _story_key(text).hex()[:16]


def _resumable(
    lm: LoadedModel,
    texts: list[str],
    path: Path,
    tail: tuple,
    axis: int,
    batch_size: int,
    progress: Progress,
    stage: str,
    compute: Callable[[list[int]], np.ndarray],
) -> np.ndarray:
    """Per-text arrays, computed in batches and checkpointed under ``path`` keyed by each text's
    sha1: an interrupted build resumes and an edited corpus recomputes only what changed.
    ``compute(indices)`` returns ``[len(indices), *tail]``; results stack along ``axis``."""
    n = len(texts)
    shape = list(tail)
    shape.insert(axis, n)
    out, done = np.zeros(shape, np.float32), np.zeros(n, bool)
    keys = [_story_key(t) for t in texts]
    saved = _load_checkpoint(path)
    if saved is not None and saved["means"].ndim == len(shape) and tuple(np.delete(saved["means"].shape, axis)) == tuple(tail):
        where = {bytes(k): j for j, k in enumerate(saved["keys"])}
        have = [(i, where[k]) for i, k in enumerate(keys) if k in where]
        if have:
            mine, theirs = map(list, zip(*have))
            np.moveaxis(out, axis, 0)[mine] = np.moveaxis(saved["means"], axis, 0)[theirs]
            done[mine] = True
    lengths = [len(lm.tokenizer(t).input_ids) for t in texts]
    todo = [i for i in sorted(range(n), key=lengths.__getitem__) if not done[i]]
    progress(stage, int(done.sum()), n)

    def save():
        kept = np.flatnonzero(done)
        _save_checkpoint(
            path, {"means": np.take(out, kept, axis=axis), "keys": np.frombuffer(b"".join(keys[i] for i in kept), np.uint8).reshape(-1, 20)}
        )

    last_save, unsaved = time.time(), False
    try:
        for b in range(0, len(todo), batch_size):
            idx = todo[b : b + batch_size]
            np.moveaxis(out, axis, 0)[idx] = compute(idx)
            done[idx] = unsaved = True
            if time.time() - last_save > 20:
                save()
                last_save, unsaved = time.time(), False
            progress(stage, int(done.sum()), n)
    finally:  # also on Ctrl-C or an error: what was computed is kept for the next run
        if unsaved:
            save()
    return out


def story_means(lm: LoadedModel, stories: list[corpus.Story], work: Path, batch_size: int, progress: Progress) -> np.ndarray:
    """``[len(STARTS), n_stories, n_layers, d_model]`` float32 means of each story read as plain text."""
    texts = [s.text for s in stories]
    L = lm.n_layers

    def compute(idx):
        batch = encode_batch(lm, [texts[i] for i in idx], MAX_STORY_TOKENS)
        with capture(lm, range(L), reduce=mean_from(STARTS, batch["attention_mask"]), stop_early=True) as cap:
            cap.run(**batch)
        return torch.stack([cap.outputs[l] for l in range(L)], 2).float().numpy().transpose(1, 0, 2, 3)

    return _resumable(
        lm, texts, work / "story_means.safetensors", (len(STARTS), L, lm.d_model), 1, batch_size, progress, "stories", compute
    )


def chat_readings(lm: LoadedModel, stories: list[corpus.Story], work: Path, batch_size: int, progress: Progress) -> np.ndarray:
    """``[n, len(READ_POSITIONS), n_layers, d_model]``: each story sent as a user message with the
    Assistant's reply opened, read at each position (to choose where summaries read)."""
    L = lm.n_layers
    prompts = []
    for s in stories:
        text, segments = render([Turn("user", s.text)], lm.chat_template, lm.tokenizer, open_reply=True)
        prompts.append((text, prompt_positions(tokenize(lm, text, segments)[4])))

    def compute(idx):
        batch = encode_batch(lm, [prompts[i][0] for i in idx])
        spans = [prompts[i][1] for i in idx]

        def reduce(layer, hidden):
            return torch.stack(
                [torch.stack([hidden[b, lo:hi].mean(0) for lo, hi in (sp[p] for p in READ_POSITIONS)]) for b, sp in enumerate(spans)]
            )

        with capture(lm, range(L), reduce=reduce, stop_early=True) as cap:
            cap.run(**batch)
        return torch.stack([cap.outputs[l] for l in range(L)], 2).float().numpy()

    return _resumable(
        lm,
        [p[0] for p in prompts],
        work / "chat_readings.safetensors",
        (len(READ_POSITIONS), L, lm.d_model),
        0,
        batch_size,
        progress,
        "chat positions",
        compute,
    )


def cached_story_means(lm: LoadedModel, start_token: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``([n_stories, L, D], labels)`` from this machine's build checkpoint, or None when it does
    not hold every story of the current corpus (then only a build can give them)."""
    saved = _load_checkpoint(work_dir(lm) / "story_means.safetensors")
    if saved is None or start_token not in STARTS:
        return None
    where = {bytes(k): j for j, k in enumerate(saved["keys"])}
    stories = corpus.load_stories()
    rows = [where.get(_story_key(s.text)) for s in stories]
    if any(r is None for r in rows):
        return None
    emotions = list(corpus.emotions())
    return saved["means"][STARTS.index(start_token), rows], np.array([emotions.index(s.emotion) for s in stories])


def neutral_moments(lm: LoadedModel, dialogues: list[list[dict]], work: Path, progress: Progress):
    """Per layer: token count, mean ``[L, D]`` and covariance ``[L, D, D]`` of neutral tokens.

    Dialogues are rendered as the model reads chat (its template, if any). Position 0 is
    left out: it is an attention sink whose norm dwarfs every other token's.
    """
    digest = hashlib.sha1(json.dumps(dialogues, sort_keys=True).encode()).hexdigest()[:12]
    path = work / f"neutral_moments-{digest}.safetensors"
    saved = _load_checkpoint(path)
    if saved is not None and saved["mean"].shape == (lm.n_layers, lm.d_model):
        return saved["mean"].astype(np.float64), saved["cov"].astype(np.float64)
    L, D = lm.n_layers, lm.d_model
    s1 = torch.zeros(L, D, dtype=torch.float64)
    s2 = torch.zeros(L, D, D, dtype=torch.float64)
    count = 0
    for i, messages in enumerate(dialogues):
        text, _ = render([Turn(m["role"], m["content"]) for m in messages], lm.chat_template, lm.tokenizer)
        ids = lm.tokenizer(text, return_tensors="pt", truncation=True, max_length=1024)

        def reduce(layer, hidden):
            return hidden[0, SINK_TOKENS:].double()

        with capture(lm, range(L), reduce=reduce, stop_early=True) as cap:
            cap.run(**ids)
        for l in range(L):
            x = cap.outputs[l]
            s1[l] += x.sum(0)
            s2[l] += x.T @ x
        count += cap.outputs[0].shape[0]
        progress("neutral", i + 1, len(dialogues))
    mean = (s1 / count).numpy()
    cov = (s2 / count).numpy() - np.einsum("ld,le->lde", mean, mean)
    _save_checkpoint(path, {"mean": mean.astype(np.float32), "cov": cov.astype(np.float32)})
    return mean, cov
