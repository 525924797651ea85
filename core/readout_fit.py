"""Fit the readout at every layer and choose its layer, shrinkage and reading position by
cross-validation over the stories (held out by story), with the tables that say why; calibrate
the readout and the concept vectors on the stories and on neutral chat."""

from __future__ import annotations

import numpy as np

from . import readout as ro
from .collect import STARTS, Progress
from .scoring import READ_POSITIONS

CHAT_PER_EMOTION = 2  # held-out stories per emotion read as chat, to choose the position
LEARNING_CURVE = (4, 8, 12, 16, 20)


def _pick(table: dict) -> tuple:
    """The key with the best mean of top-1 and top-5 (ties: the earlier key)."""
    return max(table, key=lambda k: (table[k]["top1"] + table[k]["top5"]) / 2)


def readout_stage(
    means: np.ndarray,
    start: int,
    labels: np.ndarray,
    n_emotions: int,
    pcs_all: list,
    concept: np.ndarray,
    neutral_mean: np.ndarray,
    neutral_cov: np.ndarray,
    chat: np.ndarray,
    chat_idx: np.ndarray,
    progress: Progress,
) -> tuple[dict, dict]:
    """Choose layer and shrinkage by story cross-validation, fit the readout at every layer,
    and calibrate readout and concept vectors on the stories (and on neutral chat).

    ``means``: ``[len(STARTS), n_stories, L, D]`` story means (``start`` indexes STARTS);
    ``chat``: ``[len(chat_idx), positions, L, D]``, fold-0 stories sent as chat, which choose the
    reading position. Returns (arrays, meta["readout"]).
    """
    x: np.ndarray = means[start]
    n, L, D = x.shape
    fold_of = ro.folds(labels)
    cv = {}
    for l in range(L):
        ranks = ro.cross_validate(x[:, l].astype(np.float64), labels, n_emotions, pcs_all[l], fold_of=fold_of)
        for s, r in ranks.items():
            cv[(l, s)] = ro.accuracy(r)
        progress("readout cv", l + 1, L)
    layer, shrink = _pick({k: v for k, v in cv.items() if k[1] < 1.0})
    concept_layer = _pick({k: v for k, v in cv.items() if k[1] == 1.0})[0]
    per_emotion = int(np.bincount(labels).min())
    curve = []
    xl = x[:, layer].astype(np.float64)
    for cap in [c for c in LEARNING_CURVE if c < per_emotion * (ro.N_FOLDS - 1) / ro.N_FOLDS] + [None]:
        ranks = ro.cross_validate(xl, labels, n_emotions, pcs_all[layer], (shrink, 1.0), fold_of, per_class=cap)
        per = cap or round(per_emotion * (ro.N_FOLDS - 1) / ro.N_FOLDS, 1)
        curve.append({"train_per_emotion": per, "readout": ro.accuracy(ranks[shrink]), "concept": ro.accuracy(ranks[1.0])})
    starts = {}
    for k, st in enumerate(STARTS):
        ranks = ro.cross_validate(means[k][:, layer].astype(np.float64), labels, n_emotions, pcs_all[layer], (shrink,), fold_of)
        starts[st] = ro.accuracy(ranks[shrink])
    arrays = {
        k: np.zeros((L, n_emotions) + ((D,) if k == "readout" else ()), np.float32)
        for k in ("readout", "readout_mean", "readout_std", "readout_neutral_mean", "readout_neutral_std", "story_mean", "story_std")
    }
    positions = {}
    train = np.flatnonzero(fold_of != 0)
    for l in range(L):
        xl = x[:, l].astype(np.float64)
        w = ro.scatter(xl, labels, n_emotions, pcs_all[l]).directions(shrink)
        arrays["readout"][l] = w
        arrays["readout_mean"][l], arrays["readout_std"][l] = ro.calibrate(w, xl)
        arrays["readout_neutral_mean"][l] = w @ neutral_mean[l]
        var = np.einsum("ed,df,ef->e", w, neutral_cov[l], w)
        arrays["readout_neutral_std"][l] = np.sqrt(np.clip(var, 1e-12, None))
        arrays["story_mean"][l], arrays["story_std"][l] = ro.calibrate(concept[l].astype(np.float64), xl)
        held = ro.scatter(xl[train], labels[train], n_emotions, pcs_all[l])  # fold 0 left out
        readings = {"story": xl[chat_idx], **{p: chat[:, k, l] for k, p in enumerate(READ_POSITIONS)}}
        for s, kind in ((shrink, "readout"), (1.0, "concept")):
            w0 = held.directions(s)
            model = ro.FoldModel(w0, *ro.calibrate(w0, xl[train]))
            for p, r in readings.items():
                positions[(kind, p, l)] = ro.accuracy(ro.ranks(model.z(r), labels[chat_idx]))
            if l == layer and kind == "readout":
                arrays.update(readout_heldout=model.w, readout_heldout_mean=model.mean, readout_heldout_std=model.std)
        progress("readout fit", l + 1, L)
    position = _pick({p: positions[("readout", p, layer)] for p in READ_POSITIONS})
    rnd = lambda d: {k: round(v, 4) for k, v in d.items()}
    meta = {
        "method": "covariance-corrected mass-mean probe: w_e ∝ Σ⁻¹(μ_e − μ̄), Σ = (1−λ)·within-emotion "
        "covariance of story means + λ·mean eigenvalue·I, neutral PCs projected out; "
        "z calibrated on the story means",
        "layer": int(layer),
        "shrinkage": float(shrink),
        "position": position,
        "folds": ro.N_FOLDS,
        "selection": "best mean of top-1 and top-5 in story cross-validation (held out by story)",
        "concept_best_layer": int(concept_layer),
        "cv": [{"layer": l, "shrinkage": s, **rnd(a)} for (l, s), a in cv.items()],
        "start_tokens": [{"start_token": st, **rnd(a)} for st, a in starts.items()],
        "learning_curve": [{**c, "readout": rnd(c["readout"]), "concept": rnd(c["concept"])} for c in curve],
        "positions": [{"kind": k, "position": p, "layer": l, **rnd(a)} for (k, p, l), a in positions.items()],
        "chat_stories": int(len(chat_idx)),
        "heldout_fold": 0,
    }
    return arrays, meta
