"""Stories → emotion vectors (the paper's recipe), resumable and written atomically.

1. Each story's residual stream is averaged from ``start_token`` on, at every layer.
   Means for several starts are kept in one pass so the start can be chosen afterwards.
2. Stories are averaged per emotion and the mean over emotions is subtracted.
3. The neutral dialogues' token activations give, per layer, the principal components
   that explain ``neutral_variance`` of their variance; those are projected out.
4. Rows are unit-normalised. The neutral mean and covariance also give each vector's
   baseline projection mean/std (for z-scores) without a second pass.

Per-story means are checkpointed in the user cache, so an interrupted build resumes.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import corpus
from .activations import SINK_TOKENS, capture, encode_batch, mean_from
from .errors import EmotionLensError
from .geometry import store_default_umap
from .paths import atomic_path, cache_dir
from .transcript import Turn, render
from .vectors import EmotionVectors, new_meta, vectors_dir

STARTS = (1, 10, 25)          # token positions from which story means are kept
MAX_STORY_TOKENS = 512
Progress = Callable[[str, int, int], None]   # (stage, done, total)


@dataclass(frozen=True)
class BuildConfig:
    start_token: int = 10
    neutral_variance: float = 0.5
    batch_size: int = 8
    default_layer: int | None = None     # None: about two-thirds deep


def default_layer_for(n_layers: int) -> int:
    return int(round(2 * n_layers / 3))


def _work_dir(lm) -> Path:
    key = f"{lm.name.replace('/', '__')}-{(lm.sha256 or 'nosha')[:12]}"
    path = cache_dir() / "build" / key
    path.mkdir(parents=True, exist_ok=True)
    return path


def _load_npz(path: Path) -> dict | None:
    from safetensors.numpy import load_file
    try:
        return load_file(str(path)) if path.exists() else None
    except Exception:
        return None            # a damaged checkpoint is recomputed, never trusted


def _save_npz(path: Path, arrays: dict) -> None:
    from safetensors.numpy import save_file
    with atomic_path(path) as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp))


def _story_key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


def story_means(lm, stories: list[corpus.Story], work: Path, batch_size: int,
                progress: Progress) -> np.ndarray:
    """``[len(STARTS), n_stories, n_layers, d_model]`` float32 means, resumable.

    The checkpoint is keyed by each story's text, so an interrupted build resumes and an
    edited corpus recomputes only the stories that changed.
    """
    path = work / "story_means.safetensors"
    n, L, D = len(stories), lm.n_layers, lm.d_model
    means, done = np.zeros((len(STARTS), n, L, D), np.float32), np.zeros(n, bool)
    keys = [_story_key(s.text) for s in stories]
    saved = _load_npz(path)
    if saved is not None and saved["means"].shape[::2] == (len(STARTS), L) and saved["means"].shape[3] == D:
        where = {bytes(k): j for j, k in enumerate(saved["keys"])}
        for i, key in enumerate(keys):
            if key in where:
                means[:, i], done[i] = saved["means"][:, where[key]], True
    lengths = [len(lm.tokenizer(s.text).input_ids) for s in stories]
    todo = [i for i in sorted(range(n), key=lengths.__getitem__) if not done[i]]
    progress("stories", int(done.sum()), n)

    def save():
        kept = np.flatnonzero(done)
        _save_npz(path, {"means": means[:, kept],
                         "keys": np.frombuffer(b"".join(keys[i] for i in kept), np.uint8).reshape(-1, 20)})

    last_save, unsaved = time.time(), False
    try:
        for b in range(0, len(todo), batch_size):
            idx = todo[b:b + batch_size]
            batch = encode_batch(lm, [stories[i].text for i in idx], MAX_STORY_TOKENS)
            reduce = mean_from(STARTS, batch["attention_mask"])
            with capture(lm, range(L), reduce=reduce, stop_early=True) as cap:
                cap.run(**batch)
            means[:, idx] = torch.stack([cap.outputs[l] for l in range(L)], 2).float().numpy()
            done[idx] = unsaved = True
            if time.time() - last_save > 20:
                save()
                last_save, unsaved = time.time(), False
            progress("stories", int(done.sum()), n)
    finally:        # also on Ctrl-C or an error: what was computed is kept for the next run
        if unsaved:
            save()
    return means


def neutral_moments(lm, dialogues: list[list[dict]], work: Path, progress: Progress):
    """Per layer: token count, mean ``[L, D]`` and covariance ``[L, D, D]`` of neutral tokens.

    Dialogues are rendered as the model reads chat (its template, if any). Position 0 is
    left out: it is an attention sink whose norm dwarfs every other token's.
    """
    digest = hashlib.sha1(json.dumps(dialogues, sort_keys=True).encode()).hexdigest()[:12]
    path = work / f"neutral_moments-{digest}.safetensors"
    saved = _load_npz(path)
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
    _save_npz(path, {"mean": mean.astype(np.float32), "cov": cov.astype(np.float32)})
    return mean, cov


def neutral_pcs(cov: np.ndarray, variance: float) -> tuple[np.ndarray, float]:
    """Top principal components of one layer explaining at least ``variance`` of the total."""
    evals, evecs = np.linalg.eigh(cov)
    order = np.argsort(evals)[::-1]
    evals, evecs = np.clip(evals[order], 0, None), evecs[:, order]
    frac = np.cumsum(evals) / evals.sum()
    k = int(np.searchsorted(frac, variance) + 1)
    return evecs[:, :k].T, float(frac[k - 1])


def emotion_directions(story_means_l: np.ndarray, labels: np.ndarray, n_emotions: int,
                       pcs: np.ndarray) -> np.ndarray:
    """Per-emotion means, minus the mean over emotions, neutral PCs projected out, unit norm."""
    sums = np.zeros((n_emotions, story_means_l.shape[1]))
    np.add.at(sums, labels, story_means_l)
    means = sums / np.bincount(labels, minlength=n_emotions)[:, None]
    centred = means - means.mean(0, keepdims=True)
    if len(pcs):
        centred = centred - (centred @ pcs.T) @ pcs
    return centred / np.linalg.norm(centred, axis=1, keepdims=True)


def build_vectors(lm, config: BuildConfig = BuildConfig(), out_dir: Path | None = None,
                  force: bool = False, progress: Progress | None = None) -> EmotionVectors:
    progress = progress or (lambda stage, done, total: None)
    if config.start_token not in STARTS:
        raise EmotionLensError(f"start token must be one of {', '.join(map(str, STARTS))}")
    out_dir = Path(out_dir or vectors_dir(lm.name))
    stories, dialogues = corpus.load_stories(), corpus.load_neutral()
    emotions = list(corpus.emotions())
    chash = corpus.corpus_hash()
    _refuse_foreign(out_dir, lm, chash, force)
    work = _work_dir(lm)
    means = story_means(lm, stories, work, config.batch_size, progress)
    mean, cov = neutral_moments(lm, dialogues, work, progress)
    labels = np.array([emotions.index(s.emotion) for s in stories])
    present = np.bincount(labels, minlength=len(emotions))
    if (present == 0).any():
        raise EmotionLensError(f"no stories for: {', '.join(e for e, c in zip(emotions, present) if c == 0)}")
    s = STARTS.index(config.start_token)
    L, E, D = lm.n_layers, len(emotions), lm.d_model
    vecs = np.zeros((L, E, D), np.float32)
    bmean, bstd = np.zeros((L, E), np.float32), np.zeros((L, E), np.float32)
    pcs_all, n_pcs, explained = [], [], []
    for l in range(L):
        pcs, frac = neutral_pcs(cov[l], config.neutral_variance)
        v = emotion_directions(means[s, :, l].astype(np.float64), labels, E, pcs)
        vecs[l] = v
        bmean[l] = v @ mean[l]
        bstd[l] = np.sqrt(np.clip(np.einsum("ed,df,ef->e", v, cov[l], v), 1e-12, None))
        pcs_all.append(pcs)
        n_pcs.append(len(pcs))
        explained.append(round(frac, 4))
    kmax = max(n_pcs)
    padded = np.zeros((L, kmax, D), np.float32)
    for l, p in enumerate(pcs_all):
        padded[l, :len(p)] = p
    default = config.default_layer if config.default_layer is not None else default_layer_for(L)
    meta = new_meta(lm, emotions, default_layer=int(default), corpus_hash=chash,
                    stories_per_emotion={e: int(c) for e, c in zip(emotions, present)},
                    n_neutral_dialogues=len(dialogues),
                    method={"start_token": config.start_token, "neutral_variance": config.neutral_variance,
                            "neutral_pcs_removed": n_pcs, "neutral_variance_explained": explained,
                            "baseline": "neutral dialogue tokens (position 0 excluded)",
                            "residual": "output of decoder block <layer>"})
    ev = EmotionVectors(vecs, bmean, bstd, meta, padded)
    ev.save(out_dir)
    progress("umap", 0, 1)
    store_default_umap(ev, out_dir)
    progress("umap", 1, 1)
    return ev


def _refuse_foreign(out_dir: Path, lm, chash: str, force: bool) -> None:
    meta_path = out_dir / "meta.json"
    if force or not meta_path.exists():
        return
    try:
        old = json.loads(meta_path.read_text())
    except ValueError:
        return
    reasons = []
    if old.get("corpus_hash") != chash:
        reasons.append("a different corpus")
    if old.get("weights_sha256") and lm.sha256 and old["weights_sha256"] != lm.sha256:
        reasons.append("different model weights")
    if old.get("model") != lm.name:
        reasons.append(f"model '{old.get('model')}'")
    if reasons:
        raise EmotionLensError(f"{out_dir} holds vectors built from {' and '.join(reasons)}; "
                               "pass --force to overwrite them")
