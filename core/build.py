"""Stories → emotion vectors (the paper's recipe), resumable and written atomically.

1. Each story's residual stream is averaged from ``start_token`` on, at every layer.
   Means for several starts are kept in one pass so the start can be chosen afterwards.
2. Stories are averaged per emotion and the mean over emotions is subtracted.
3. The neutral dialogues' token activations give, per layer, the principal components
   that explain ``neutral_variance`` of their variance; those are projected out.
4. Rows are unit-normalised. The neutral mean and covariance also give each vector's
   baseline projection mean/std (for z-scores) without a second pass.

Activations are collected and checkpointed by ``core.collect`` (an interrupted build resumes);
the readout is fitted and chosen by ``core.readout_fit``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import corpus
from .collect import MAX_STORY_TOKENS, STARTS, Progress, chat_readings, heldout_key, neutral_moments, story_means, work_dir
from .devices import batch_size_for
from .errors import EmotionLensError
from .geometry import store_umap
from .readout_fit import CHAT_PER_EMOTION, readout_stage
from .vectors import EmotionVectors, new_meta, vectors_dir

if TYPE_CHECKING:
    from .models import LoadedModel


@dataclass(frozen=True)
class BuildConfig:
    start_token: int = 10
    neutral_variance: float = 0.5
    batch_size: int | None = None  # None: from free memory (core.devices.batch_size_for)
    default_layer: int | None = None  # None: about two-thirds deep
    emotions: tuple[str, ...] | None = None  # a subset of the corpus's emotions (None: all 171)


def default_layer_for(n_layers: int) -> int:
    return int(round(2 * n_layers / 3))


def neutral_pcs(cov: np.ndarray, variance: float) -> tuple[np.ndarray, float]:
    """Top principal components of one layer explaining at least ``variance`` of the total."""
    evals, evecs = np.linalg.eigh(cov)
    order = np.argsort(evals)[::-1]
    evals, evecs = np.clip(evals[order], 0, None), evecs[:, order]
    frac = np.cumsum(evals) / evals.sum()
    k = int(np.searchsorted(frac, variance) + 1)
    return evecs[:, :k].T, float(frac[k - 1])


def emotion_directions(story_means_l: np.ndarray, labels: np.ndarray, n_emotions: int, pcs: np.ndarray) -> np.ndarray:
    """Per-emotion means, minus the mean over emotions, neutral PCs projected out, unit norm."""
    sums = np.zeros((n_emotions, story_means_l.shape[1]))
    np.add.at(sums, labels, story_means_l)
    means = sums / np.bincount(labels, minlength=n_emotions)[:, None]
    centred = means - means.mean(0, keepdims=True)
    if len(pcs):
        centred = centred - (centred @ pcs.T) @ pcs
    return centred / np.linalg.norm(centred, axis=1, keepdims=True)


def build_vectors(
    lm: LoadedModel, config: BuildConfig = BuildConfig(), out_dir: Path | None = None, force: bool = False, progress: Progress | None = None
) -> EmotionVectors:
    progress = progress or (lambda stage, done, total: None)
    if config.start_token not in STARTS:
        raise EmotionLensError(f"start token must be one of {', '.join(map(str, STARTS))}")
    out_dir = Path(out_dir or vectors_dir(lm.name))
    stories, dialogues = corpus.load_stories(), corpus.load_neutral()
    emotions = list(corpus.emotions())
    if config.emotions is not None:
        unknown = sorted(set(config.emotions) - set(emotions))
        if unknown:
            raise EmotionLensError(f"not in the corpus: {', '.join(unknown)}")
        emotions = [e for e in emotions if e in config.emotions]
        stories = [s for s in stories if s.emotion in config.emotions]
    chash = corpus.corpus_hash()
    _refuse_foreign(out_dir, lm, chash, force)
    work = work_dir(lm)
    batch = config.batch_size or batch_size_for(lm, MAX_STORY_TOKENS)
    means = story_means(lm, stories, work, batch, progress)
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
        padded[l, : len(p)] = p
    default = config.default_layer if config.default_layer is not None else default_layer_for(L)
    meta = new_meta(
        lm,
        emotions,
        default_layer=int(default),
        corpus_hash=chash,
        stories_per_emotion={e: int(c) for e, c in zip(emotions, present)},
        n_neutral_dialogues=len(dialogues),
        method={
            "start_token": config.start_token,
            "neutral_variance": config.neutral_variance,
            "neutral_pcs_removed": n_pcs,
            "neutral_variance_explained": explained,
            "baseline": "neutral dialogue tokens (position 0 excluded)",
            "residual": "output of decoder block <layer>",
        },
    )
    from .readout import folds

    fold_of = folds(labels)
    chat_idx = np.concatenate([np.flatnonzero((labels == e) & (fold_of == 0))[:CHAT_PER_EMOTION] for e in range(E)])
    chat = chat_readings(lm, [stories[i] for i in chat_idx], work, batch, progress)
    arrays, meta["readout"] = readout_stage(means, s, labels, E, pcs_all, vecs, mean, cov, chat, chat_idx, progress)
    meta["readout"]["heldout_keys"] = [heldout_key(stories[i].text) for i in np.flatnonzero(fold_of == 0)]
    ev = EmotionVectors(vecs, bmean, bstd, meta, padded, extras=arrays)
    ev.save(out_dir)
    store_umap(ev, out_dir, progress)
    return ev


def _refuse_foreign(out_dir: Path, lm: LoadedModel, chash: str, force: bool) -> None:
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
        raise EmotionLensError(f"{out_dir} holds vectors built from {' and '.join(reasons)}; pass --force to overwrite them")
