"""The token-level reading: what colours, hover cards and alerts show for one token.

A reading fitted and calibrated on story means (each an average over ~100 tokens) is the
right tool for a turn's summary, but one token's projection spreads far wider than a story
mean's, so its z is inflated several-fold and its top emotions are close to noise. The
token-level reading is fitted and calibrated on tokens instead:

- directions: a covariance-corrected mass-mean probe whose within-emotion covariance is
  that of *tokens* (emotional tokens around their emotion's mean, neutral tokens around
  theirs), or the story-level readout or concept vectors, for comparison;
- optionally each token's hidden state is centred and scaled to unit norm first, so that a
  few tokens of huge norm (question words, chat markers) cannot dominate;
- a causal running mean: each token shows an exponentially weighted mean of the
  projections up to it (bias-corrected, so the first token is not shrunk), the way a
  reader's impression builds;
- calibration: each emotion's mean and std over training tokens (emotional and neutral,
  markers left out) *after* the running mean, so z = ±1 is one token-level spread.

Everything here is numpy; which set-up ships is chosen by cross-validation held out by
passage on the training corpus (``study/token_study.py``), never on the validation set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from .families import family_max
from .passages import MARKER, NEUTRAL

SATURATION_Z = 3.0  # the z that reads as full colour, and a "false alarm" on neutral text


def running_mean(proj: np.ndarray, decay: float) -> np.ndarray:
    """Causal exponentially weighted mean along axis 0, bias-corrected (decay 0: unchanged)."""
    if decay <= 0 or len(proj) == 0:
        return proj
    num = lfilter([1.0], [1.0, -decay], proj, axis=0)
    den = lfilter([1.0], [1.0, -decay], np.ones(len(proj)))
    return num / den[:, None]


def running_by_passage(proj: np.ndarray, passage: np.ndarray, keep: np.ndarray, decay: float, slice_tokens: int = 50_000) -> np.ndarray:
    """``running_mean`` restarted at each passage, over kept tokens only (markers are skipped
    and come back as NaN). Whole passages go through in slices of about ``slice_tokens`` kept
    tokens, so a corpus of tokens needs no more than a slice's worth of float64 at once."""
    out = np.full(proj.shape, np.nan, np.float32)
    idx = np.flatnonzero(keep)
    if not len(idx):
        return out
    if decay <= 0:
        out[idx] = proj[idx]
        return out
    pas = passage[idx]
    first = np.r_[0, np.flatnonzero(np.diff(pas)) + 1]  # where each passage's kept tokens begin
    cuts = np.unique(first[np.searchsorted(first, np.arange(0, len(idx), slice_tokens), side="right") - 1])
    for a, b in zip(cuts, np.r_[cuts[1:], len(idx)]):
        out[idx[a:b]] = _running_slice(np.asarray(proj[idx[a:b]], np.float32), pas[a:b], decay)
    return out


def _running_slice(p: np.ndarray, pas: np.ndarray, decay: float) -> np.ndarray:
    """One filter over a slice of whole passages: a passage's own sum is the running sum minus
    what the previous passages left, decayed."""
    num = lfilter([1.0], [1.0, -decay], p, axis=0)
    first = np.r_[0, np.flatnonzero(np.diff(pas)) + 1]
    start = first[np.searchsorted(first, np.arange(len(p)), side="right") - 1]
    age = np.arange(len(p)) - start  # tokens since the passage began
    carried = np.where(start[:, None] > 0, num[np.maximum(start - 1, 0)], 0.0)
    num -= (decay ** (age + 1))[:, None] * carried
    return num / ((1 - decay ** (age + 1)) / (1 - decay))[:, None]


def row_mean(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Mean of ``x[rows]`` without copying them (a 1.5B model's training tokens are ~4 GB)."""
    idx = np.flatnonzero(rows)
    return sum(x[p].sum(0, dtype=np.float64) for p in np.array_split(idx, max(1, len(idx) // 100_000))) / len(idx)


def normalise(x: np.ndarray, centre: np.ndarray | None) -> np.ndarray:
    """Centre on the training tokens' mean and scale each token to norm √d (None: unchanged)."""
    x = np.asarray(x, np.float32)
    if centre is None:
        return x
    x = x - centre
    for a in range(0, len(x), 100_000):  # in place and in slices: one copy of a corpus's tokens, not three
        part = x[a : a + 100_000]
        part *= np.sqrt(x.shape[1]) / np.maximum(np.linalg.norm(part, axis=1, keepdims=True), 1e-6)
    return x


def class_stats(x: np.ndarray, labels: np.ndarray, n_classes: int):
    """Per-class token sums and counts (neutral as class ``n_classes``) and the Gram matrix."""
    cls = np.where(labels == NEUTRAL, n_classes, labels)
    idx = np.flatnonzero(labels != MARKER)
    sums = np.zeros((n_classes + 1, x.shape[1]))
    gram = np.zeros((x.shape[1], x.shape[1]))
    for part in np.array_split(idx, max(1, len(idx) // 100_000)):  # in slices: bounded memory
        xs = np.asarray(x[part], np.float32)
        np.add.at(sums, cls[part], xs.astype(np.float64))
        gram += (xs.T @ xs).astype(np.float64)
    return sums, np.bincount(cls[idx], minlength=n_classes + 1), gram


def token_directions(sums: np.ndarray, counts: np.ndarray, gram: np.ndarray, shrinkage: float, pcs: np.ndarray | None = None) -> np.ndarray:
    """Unit rows ``[E, D]``: w_e ∝ Σ⁻¹(μ_e − μ̄) with Σ the within-class covariance of tokens
    (neutral tokens a class of their own), shrunk toward its mean eigenvalue; neutral PCs,
    if given, projected out first. Shrinkage 1 gives the token-level concept vectors."""
    means = sums / np.maximum(counts, 1)[:, None]
    n = counts.sum()
    within = (gram - (means * counts[:, None]).T @ means) / n
    d = within.shape[0]
    q = np.eye(d) - pcs.T @ pcs if pcs is not None and len(pcs) else np.eye(d)
    within = q @ within @ q
    centred = (means[:-1] - means[:-1].mean(0)) @ q
    if shrinkage >= 1.0:
        w = centred
    else:
        evals, evecs = np.linalg.eigh((within + within.T) / 2)
        evals = np.clip(evals, 0, None)
        scale = evals.sum() / max(1, d - (0 if pcs is None else len(pcs)))
        inv = 1.0 / ((1 - shrinkage) * evals + shrinkage * scale)
        w = ((centred @ evecs) * inv) @ evecs.T
    return (w / np.linalg.norm(w, axis=1, keepdims=True)).astype(np.float32)


def span_means(x: np.ndarray, labels: np.ndarray, passage: np.ndarray, n_passages: int):
    """Per passage, the mean of its emotional tokens, its label, and whether it has any."""
    emo = labels >= 0
    sums = np.zeros((n_passages, x.shape[1]))
    np.add.at(sums, passage[emo], x[emo].astype(np.float64))
    counts = np.bincount(passage[emo], minlength=n_passages)
    lab = np.full(n_passages, -1)
    lab[passage[emo]] = labels[emo]
    return sums / np.maximum(counts, 1)[:, None], lab, counts > 0


DIRECTION_KINDS = {
    "token": "covariance-corrected mean difference over token activations",
    "token-concept": "token class means minus their mean (no covariance correction)",
    "readout": "the story-level readout refitted on each passage's emotional-span mean",
    "concept": "the concept-vector recipe on span means (centred, neutral PCs out)",
}


def fit_directions(
    x: np.ndarray,
    labels: np.ndarray,
    passage: np.ndarray,
    n_passages: int,
    kind: str,
    shrinkage: float,
    pcs: np.ndarray,
    n_emotions: int,
    stats=None,
) -> np.ndarray:
    """One kind of direction set (``DIRECTION_KINDS``) fitted on the given tokens. ``stats``
    (``class_stats`` of the same tokens) saves recomputing the Gram matrix per kind."""
    if kind in ("token", "token-concept"):
        sums, counts, gram = stats or class_stats(x, labels, n_emotions)
        return token_directions(sums, counts, gram, shrinkage if kind == "token" else 1.0, pcs)
    from .readout import scatter

    means, lab, has = span_means(x, labels, passage, n_passages)
    sc = scatter(means[has], lab[has], n_emotions, pcs)
    return sc.directions(shrinkage if kind == "readout" else 1.0).astype(np.float32)


@dataclass
class TokenReading:
    """One fitted token-level reading at one layer: directions, optional normalisation,
    running-mean decay and calibration. ``z`` turns a passage's hidden states into z."""

    layer: int
    directions: np.ndarray  # [E, D]
    centre: np.ndarray | None  # [D] when tokens are normalised, else None
    decay: float
    mean: np.ndarray  # [E]
    std: np.ndarray  # [E]

    def projections(self, hidden: np.ndarray) -> np.ndarray:
        return normalise(hidden, self.centre) @ self.directions.T

    def z(self, hidden: np.ndarray, keep: np.ndarray, passage: np.ndarray | None = None) -> np.ndarray:
        """``[T, E]`` z for tokens of one passage (or of many, given each token's passage);
        tokens not kept (markers, the sink) come back as NaN."""
        passage = np.zeros(len(hidden), np.int32) if passage is None else passage
        run = running_by_passage(self.projections(hidden), passage, keep, self.decay)
        return ((run - self.mean) / self.std).astype(np.float32)


class RunningZ:
    """The token reading one token at a time, for text being written (Live): the same
    bias-corrected running mean as ``TokenReading.z``, carried from call to call."""

    def __init__(self, reading: TokenReading):
        self.reading, self.num, self.den = reading, 0.0, 0.0

    def update(self, hidden: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
        """``[n, E]`` z for the next ``n`` tokens (NaN where ``keep`` is False; those are skipped)."""
        keep = np.ones(len(hidden), bool) if keep is None else keep
        proj = self.reading.projections(hidden)
        out = np.full(proj.shape, np.nan, np.float32)
        for i in np.flatnonzero(keep):
            self.num = self.reading.decay * self.num + proj[i]
            self.den = self.reading.decay * self.den + 1.0
            out[i] = (self.num / self.den - self.reading.mean) / self.reading.std
        return out


def calibrate(run: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std per emotion over the kept (non-NaN) rows of running projections."""
    ok = ~np.isnan(run[:, 0])
    return run[ok].mean(0), np.maximum(run[ok].std(0), 1e-6)


# --- token-level figures (the study's cross-validation and ``validate`` share them) ---------


def auroc(pos: np.ndarray, neg: np.ndarray) -> float:
    """P(a positive token reads higher than a negative one), ties counted half."""
    if not len(pos) or not len(neg):
        return np.nan
    allv = np.concatenate([pos, neg])
    order = allv.argsort(kind="mergesort")
    ranks = np.empty(len(allv))
    ranks[order] = np.arange(1, len(allv) + 1)
    # average ranks over ties
    _, inv, cnt = np.unique(allv, return_inverse=True, return_counts=True)
    sums = np.zeros(len(cnt))
    np.add.at(sums, inv, ranks)
    ranks = (sums / cnt)[inv]
    return float((ranks[: len(pos)].sum() - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)))


def token_figures(z: np.ndarray, labels: np.ndarray, passage: np.ndarray, groups: np.ndarray | None = None, k: int = 5) -> dict:
    """Localization AUROC (per passage: its emotion's z on its emotional tokens against its
    neutral tokens; mean over passages), hover top-k (share of emotional tokens whose own
    top k holds the emotion), sentence top-k (the emotional span's mean z), false alarms
    (share of neutral token × emotion cells with |z| ≥ 3) and median |z| over all kept cells.

    ``groups`` maps each emotion to a family: ranks are then over families, a family
    reading as its strongest member.
    """
    keep = labels != MARKER
    emo = labels >= 0
    if groups is not None:
        z, labels = family_max(z, groups)[0], np.where(labels >= 0, groups[np.maximum(labels, 0)], labels)
    au, sent = [], []
    order = np.argsort(passage, kind="stable")
    cuts = np.flatnonzero(np.diff(passage[order])) + 1
    for rows in np.split(order, cuts):
        lab_rows = labels[rows]
        e_rows = rows[lab_rows >= 0]
        if not len(e_rows):
            continue
        lab = int(labels[e_rows[0]])
        au.append(auroc(z[e_rows, lab], z[rows[lab_rows == NEUTRAL], lab]))
        span = z[e_rows].mean(0)
        sent.append((span > span[lab]).sum() < k)
    own = z[emo, labels[emo]]
    hover = ((z[emo] > own[:, None]).sum(1) < k).mean() if emo.any() else np.nan
    neutral = z[labels == NEUTRAL]
    finite = np.abs(z[keep][np.isfinite(z[keep])])
    return {
        "auroc": float(np.nanmean(au)) if au else np.nan,
        "hover_top": float(hover),
        "sentence_top": float(np.mean(sent)) if sent else np.nan,
        "false_alarms": float((np.abs(neutral) >= SATURATION_Z).mean()) if len(neutral) else np.nan,
        "median_abs_z": float(np.median(finite)) if len(finite) else np.nan,
        "k": k,
    }
