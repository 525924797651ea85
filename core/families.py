"""Families: named groups of the 171 emotions, so near-synonyms stop splitting one signal.

Among 171 names, "afraid", "scared", "frightened" and "terrified" share one signal; at a
single token, which of them tops the list is close to chance. A family groups them, and a
hover card says "fear family · scared +2.1".

Built from the concept vectors (the model's own geometry), never across human valence:
emotions are first split by the sign of their human valence (VADER, else Warriner et al.),
each sign is clustered (average linkage on cosine distance), and each word that humans rate
near neutral or not at all ("mortified", "at ease") joins the family whose centre its
vector is closest to. So no family mixes pleasant and unpleasant rated words, and its name,
the rated member most similar to the others, never contradicts its members.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .geometry import unit_rows

N_FAMILIES = 24
NEUTRAL_BAND = 0.5  # |valence| below this (VADER scale, -4..+4) counts as neither sign


@dataclass(frozen=True)
class Families:
    names: list[str]  # one per family, each a member's name
    of: np.ndarray  # [n_emotions] family index of each emotion
    sign: list[int]  # -1 or +1: the human valence of the family's rated members

    def members(self, f: int, emotions: list[str]) -> list[str]:
        return [emotions[i] for i in np.flatnonzero(self.of == f)]

    def label(self, f: int) -> str:
        return f"{self.names[f]} family"

    @property
    def labels(self) -> list[str]:
        """ "afraid family", …: how pickers, watch-lists and payloads name the families."""
        return [self.label(f) for f in range(len(self.names))]

    def find(self, label: str) -> int | None:
        """The family a label ("afraid family") names, or None."""
        return self.labels.index(label) if label in self.labels else None

    def columns(self, label: str) -> np.ndarray | None:
        """The emotion columns of the family a label names, or None."""
        f = self.find(label)
        return None if f is None else np.flatnonzero(self.of == f)


def valence_sign(valence: np.ndarray) -> np.ndarray:
    v = np.asarray(valence, np.float64)
    return np.where(np.isnan(v) | (np.abs(v) < NEUTRAL_BAND), 0, np.sign(v)).astype(int)


def medoid(u: np.ndarray, idx: np.ndarray) -> int:
    """The member with the highest mean cosine to the other members."""
    sim = u[idx] @ u[idx].T
    return int(idx[np.argmax(sim.sum(1))])


def build_families(vectors: np.ndarray, emotions: list[str], valence: np.ndarray, n_families: int = N_FAMILIES) -> Families:
    """Cluster one layer's concept vectors within each valence sign; families ordered from
    unpleasant to pleasant, then by size."""
    from scipy.cluster.hierarchy import fcluster, linkage

    u = unit_rows(np.asarray(vectors, np.float64))
    sign = valence_sign(valence)
    signed = np.flatnonzero(sign != 0)
    out: list[tuple[int, np.ndarray]] = []
    for s in (-1, 1):
        g = np.flatnonzero(sign == s)
        if not len(g):
            continue
        k = max(1, min(len(g), round(n_families * len(g) / len(signed))))
        parts = (
            np.zeros(len(g), int)
            if k == 1 or len(g) == 1
            else fcluster(linkage(u[g], method="average", metric="cosine"), k, criterion="maxclust") - 1
        )
        out += [(s, g[parts == c]) for c in np.unique(parts)]
    out.sort(key=lambda t: (t[0], -len(t[1])))
    of = np.full(len(emotions), -1)
    names, signs = [], []
    for f, (s, idx) in enumerate(out):
        of[idx] = f
        names.append(emotions[medoid(u, idx)])
        signs.append(s)
    centres = unit_rows(np.stack([u[of == f].mean(0) for f in range(len(out))]))
    for i in np.flatnonzero(of < 0):
        of[i] = int(np.argmax(centres @ u[i]))
    return Families(names, of, signs)


def strongest(z: np.ndarray, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the largest of ``z``'s ``columns`` (NaN ignored; NaN where all are), and which
    column it is: how a family reads."""
    sub = np.where(np.isnan(z[..., columns]), -np.inf, z[..., columns])
    k = sub.argmax(-1)
    best = np.take_along_axis(sub, k[..., None], -1)[..., 0]
    return np.where(np.isfinite(best), best, np.nan), columns[k]


def family_max(z: np.ndarray, of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per token, each family's reading (its strongest member's z) and which member that is;
    ``of`` gives each emotion's family."""
    n = int(of.max()) + 1
    out = np.full(z.shape[:-1] + (n,), np.nan, np.float32)
    arg = np.zeros(z.shape[:-1] + (n,), int)
    for f in range(n):
        out[..., f], arg[..., f] = strongest(z, np.flatnonzero(of == f))
    return out, arg
