"""The readout: probe directions that tell emotions apart, and their calibration on the stories.

The concept vectors (emotion mean minus the mean over emotions) are the paper's objects, but
reading text through them is dominated by directions along which *all* stories vary (topic,
person, length). A mass-mean probe with a covariance correction (Marks & Tegmark 2023, "The
Geometry of Truth"; linear discriminant analysis in effect) divides that shared variation out:

    w_e ∝ Σ⁻¹ (μ_e − μ̄),   Σ = (1 − λ) Σ_within + λ · mean eigenvalue · I

with the neutral PCs projected out first. λ = 1 gives back the concept vectors exactly, so the
cross-validation below compares the two on the same footing. Each direction is calibrated on the
story means (z = 0: as in typical emotional text, z = 1: one story-to-story standard deviation),
which puts all 171 emotions on one scale.

Everything here is numpy over per-story means, so choices are made on the training stories by
cross-validation held out by story, never on the validation set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SHRINKAGES = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0)
N_FOLDS = 5


def complement(pcs: np.ndarray, d: int) -> np.ndarray:
    """Projector onto the complement of the neutral PCs (rows of ``pcs``)."""
    q = np.eye(d)
    return q - pcs.T @ pcs if len(pcs) else q


def class_means(x: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    sums = np.zeros((n_classes, x.shape[1]))
    np.add.at(sums, labels, x)
    return sums / np.maximum(np.bincount(labels, minlength=n_classes), 1)[:, None]


@dataclass
class Scatter:
    """Eigen-decomposed within-emotion covariance and centred emotion means, in the complement
    of the neutral PCs: enough to form the readout for any shrinkage without refitting."""

    evals: np.ndarray  # [D]
    evecs: np.ndarray  # [D, D]
    centred: np.ndarray  # [E, D] emotion means minus the mean over emotions
    scale: float  # mean eigenvalue over the complement

    def directions(self, shrinkage: float) -> np.ndarray:
        """Unit readout rows ``[E, D]`` for one shrinkage (1.0: the concept vectors)."""
        if shrinkage >= 1.0:
            w = self.centred
        else:
            inv = 1.0 / ((1.0 - shrinkage) * self.evals + shrinkage * self.scale)
            w = ((self.centred @ self.evecs) * inv) @ self.evecs.T
        return w / np.linalg.norm(w, axis=1, keepdims=True)


def scatter(x: np.ndarray, labels: np.ndarray, n_classes: int, pcs: np.ndarray) -> Scatter:
    x = np.asarray(x, np.float64)
    q = complement(pcs, x.shape[1])
    x = x @ q
    means = class_means(x, labels, n_classes)
    resid = x - means[labels]
    cov = resid.T @ resid / len(x)
    evals, evecs = np.linalg.eigh((cov + cov.T) / 2)
    evals = np.clip(evals, 0.0, None)
    rank = max(1, x.shape[1] - len(pcs))
    return Scatter(evals, evecs, means - means.mean(0, keepdims=True), float(evals.sum() / rank))


def calibrate(w: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and std of each direction's projection over the story means."""
    proj = np.asarray(x, np.float64) @ w.T
    return proj.mean(0), np.maximum(proj.std(0), 1e-9)


def zscores(x: np.ndarray, w: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return (np.asarray(x, np.float64) @ w.T - mean) / std


def ranks(z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """1-based rank of each row's true emotion among all emotions (1 = read highest)."""
    own = z[np.arange(len(z)), labels]
    return (z > own[:, None]).sum(1) + 1


def folds(labels: np.ndarray, n_folds: int = N_FOLDS, seed: int = 0) -> np.ndarray:
    """Fold of each story, stratified by emotion, so every emotion is in every training split."""
    rng = np.random.default_rng(seed)
    out = np.zeros(len(labels), int)
    for e in np.unique(labels):
        idx = np.flatnonzero(labels == e)
        out[rng.permutation(idx)] = np.arange(len(idx)) % n_folds
    return out


def subsample(labels: np.ndarray, idx: np.ndarray, per_class: int | None, seed: int = 0) -> np.ndarray:
    """At most ``per_class`` of the given story indices per emotion (a learning-curve point)."""
    if per_class is None:
        return idx
    rng = np.random.default_rng(seed)
    keep = [rng.permutation(idx[labels[idx] == e])[:per_class] for e in np.unique(labels[idx])]
    return np.sort(np.concatenate(keep))


@dataclass
class FoldModel:
    """The readout fitted without one fold: scores that fold's stories honestly."""

    w: np.ndarray
    mean: np.ndarray
    std: np.ndarray

    def z(self, x: np.ndarray) -> np.ndarray:
        return zscores(x, self.w, self.mean, self.std)


def fit(x: np.ndarray, labels: np.ndarray, n_classes: int, pcs: np.ndarray, shrinkage: float) -> FoldModel:
    w = scatter(x, labels, n_classes, pcs).directions(shrinkage)
    return FoldModel(w, *calibrate(w, x))


def cross_validate(
    x: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    pcs: np.ndarray,
    shrinkages=SHRINKAGES,
    fold_of: np.ndarray | None = None,
    per_class: int | None = None,
) -> dict[float, np.ndarray]:
    """Rank of each story's own emotion when read by a readout fitted without its fold.

    Returns, per shrinkage, ``[n_stories]`` ranks among all emotions. ``per_class`` caps the
    training stories per emotion (the learning curve); the held-out stories stay the same.
    """
    fold_of = folds(labels) if fold_of is None else fold_of
    out = {s: np.zeros(len(labels), int) for s in shrinkages}
    for f in np.unique(fold_of):
        test = np.flatnonzero(fold_of == f)
        train = subsample(labels, np.flatnonzero(fold_of != f), per_class, seed=int(f))
        sc = scatter(x[train], labels[train], n_classes, pcs)
        for s in shrinkages:
            w = sc.directions(s)
            z = zscores(x[test], w, *calibrate(w, x[train]))
            out[s][test] = ranks(z, labels[test])
    return out


def accuracy(rank: np.ndarray) -> dict[str, float]:
    return {"top1": float((rank <= 1).mean()), "top5": float((rank <= 5).mean()), "median_rank": float(np.median(rank))}
