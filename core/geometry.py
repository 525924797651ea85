"""The geometry of emotion space: similarity, PCA, clusters, UMAP, layers.

Pure functions over ``[n_emotions, d_model]`` matrices (numpy in, numpy out), so pages
and tests compute exactly the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .vectors import EmotionVectors


def unit_rows(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def cosine_matrix(v: np.ndarray) -> np.ndarray:
    u = unit_rows(np.asarray(v, dtype=np.float64))
    return np.clip(u @ u.T, -1.0, 1.0)


@dataclass
class PCAResult:
    scores: np.ndarray  # [n_emotions, n_components]
    explained: np.ndarray  # share of variance per component
    components: np.ndarray  # [n_components, d_model]


def pca(v: np.ndarray, n_components: int = 10) -> PCAResult:
    """PCA by SVD of the centred vectors; signs fixed so results do not flip between runs."""
    x = np.asarray(v, dtype=np.float64)
    x = x - x.mean(0, keepdims=True)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    k = min(n_components, len(s))
    signs = np.sign(vt[:k].sum(1))
    signs[signs == 0] = 1
    comps = vt[:k] * signs[:, None]
    return PCAResult(x @ comps.T, (s[:k] ** 2) / (s**2).sum(), comps)


def orient(pc_scores: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Flip a PC so it correlates positively with a reference (e.g. valence): signs are arbitrary."""
    mask = ~np.isnan(reference)
    r = np.corrcoef(pc_scores[mask], reference[mask])[0, 1] if mask.sum() > 2 else 1.0
    return pc_scores if r >= 0 else -pc_scores


def kmeans(v: np.ndarray, k: int = 10, seed: int = 0) -> np.ndarray:
    """k-means on unit vectors (cosine geometry); labels renumbered by cluster size."""
    from sklearn.cluster import KMeans

    if not 2 <= k <= len(v):
        raise ValueError(f"k must be between 2 and {len(v)}")
    labels = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(unit_rows(np.asarray(v, np.float64)))
    order = np.argsort(-np.bincount(labels, minlength=k), kind="stable")
    remap = np.empty(k, int)
    remap[order] = np.arange(k)
    return remap[labels]


@dataclass
class Clusters:
    """k-means clusters numbered from the most negative mean valence (0) to the most positive;
    clusters with no rated member come last. The number is also the cluster's colour everywhere."""

    labels: np.ndarray  # [n_emotions] cluster number
    names: dict[int, str]
    valence: dict[int, float]  # mean human valence of the rated members (nan: none rated)


def cluster_names(v: np.ndarray, labels: np.ndarray, emotions: list[str], valence: np.ndarray | None = None, n: int = 2) -> dict[int, str]:
    """Name each cluster by its most typical members: those whose vectors are, on average,
    most similar to the cluster's other members (a cluster is never named after what its
    centre happens to read as, which can be an emotion few of its members resemble).

    A name never joins words of opposite human valence: it takes the most typical members
    of the cluster's majority sign (and unrated words). A cluster whose rated members split
    clearly both ways says "mixed valence" rather than hiding it.
    """
    u = unit_rows(np.asarray(v, np.float64))
    val = np.full(len(emotions), np.nan) if valence is None else np.asarray(valence, np.float64)
    names = {}
    for c in sorted(set(labels.tolist())):
        idx = np.flatnonzero(labels == c)
        typical = idx[np.argsort(-(u[idx] @ u[idx].T).sum(1), kind="stable")]
        signs = np.sign(np.nan_to_num(val[typical]))
        majority = int((signs > 0).sum() - (signs < 0).sum())
        # the majority's sign; on a tie (or none rated), the most typical rated member's
        sign = np.sign(majority) if majority else next((x for x in signs if x != 0), 0.0)
        picked = [i for i in typical if np.isnan(val[i]) or sign == 0 or np.sign(val[i]) in (0, sign)][:n]
        rated = val[idx][~np.isnan(val[idx])]
        mixed = len(rated) >= 4 and min((rated > 0.5).mean(), (rated < -0.5).mean()) >= 0.25
        names[c] = " / ".join(emotions[i] for i in picked) + (" (mixed valence)" if mixed else "")
    return names


def clusters(v: np.ndarray, emotions: list[str], valence: np.ndarray, k: int = 10) -> Clusters:
    """k-means on unit vectors, ordered by mean human valence, named (see ``cluster_names``)."""
    raw = kmeans(v, k)
    val = np.asarray(valence, np.float64)
    means = {c: float(np.nanmean(val[raw == c])) if (~np.isnan(val[raw == c])).any() else np.nan for c in range(k)}
    order = sorted(range(k), key=lambda c: (np.isnan(means[c]), means[c]))
    rank = np.empty(k, int)
    rank[order] = np.arange(k)
    labels = rank[raw]
    return Clusters(labels, cluster_names(v, labels, emotions, val), {int(rank[c]): means[c] for c in range(k)})


@dataclass
class Summary:
    """What the geometry pages show for one model and layer, computed once."""

    sim: np.ndarray  # [E, E] cosine similarity
    scores: np.ndarray  # [E, 10] PCA scores, PC1 oriented to rise with valence
    explained: np.ndarray  # share of variance per PC
    clusters: Clusters


def summary(v: np.ndarray, emotions: list[str], valence: np.ndarray, k: int = 10) -> Summary:
    """Similarity, PCA and clusters of one layer's vectors. PC signs are arbitrary: PC1 is
    oriented to rise with human valence, as in the paper."""
    p = pca(v, 10)
    scores = p.scores.copy()
    scores[:, 0] = orient(scores[:, 0], valence)
    return Summary(cosine_matrix(v), scores, p.explained, clusters(v, emotions, valence, k))


def label_mask(x: np.ndarray, y: np.ndarray, dx: float = 0.11, dy: float = 0.045) -> np.ndarray:
    """Which points of a scatter get a text label so that no two labels overlap.

    Greedy, outermost points first (they are the ones people read); distances are in shares
    of each axis's range and labels are wide, so they need more room across than down.
    The rest are labelled on hover.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if len(x) == 0:
        return np.zeros(0, bool)
    nx = (x - x.min()) / (np.ptp(x) or 1)
    ny = (y - y.min()) / (np.ptp(y) or 1)
    keep = np.zeros(len(x), bool)
    for i in np.argsort(-((nx - 0.5) ** 2 + (ny - 0.5) ** 2)):
        if not np.any(keep & (np.abs(nx - nx[i]) < dx) & (np.abs(ny - ny[i]) < dy)):
            keep[i] = True
    return keep


def umap_embedding(v: np.ndarray, seed: int = 42, n_neighbors: int = 15, min_dist: float = 0.1) -> np.ndarray:
    import umap

    reducer = umap.UMAP(n_components=2, n_neighbors=n_neighbors, min_dist=min_dist, metric="cosine", random_state=seed, n_jobs=1)
    return reducer.fit_transform(np.asarray(v, np.float64)).astype(np.float32)


def hierarchical_order(sim: np.ndarray) -> np.ndarray:
    """Leaf order of average-linkage clustering on cosine distance (similar emotions adjacent)."""
    from scipy.cluster.hierarchy import leaves_list, linkage, optimal_leaf_ordering
    from scipy.spatial.distance import squareform

    dist = np.clip(1.0 - sim, 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)
    condensed = squareform((dist + dist.T) / 2, checks=False)
    z = linkage(condensed, method="average")
    return leaves_list(optimal_leaf_ordering(z, condensed))


def neighbours(sim: np.ndarray, emotions: list[str], emotion: str, n: int = 8):
    """(nearest, farthest) as lists of (emotion, cosine), the emotion itself excluded."""
    i = emotions.index(emotion)
    order = [j for j in np.argsort(-sim[i]) if j != i]
    near = [(emotions[j], float(sim[i, j])) for j in order[:n]]
    far = [(emotions[j], float(sim[i, j])) for j in order[::-1][:n]]
    return near, far


def _upper(m: np.ndarray) -> np.ndarray:
    return m[np.triu_indices_from(m, k=1)]


def structure_correlation(sim_a: np.ndarray, sim_b: np.ndarray) -> float:
    """Pearson r between the off-diagonal entries of two similarity matrices."""
    return float(np.corrcoef(_upper(sim_a), _upper(sim_b))[0, 1])


def layer_structure(vectors: np.ndarray) -> np.ndarray:
    """``[L, L]`` correlations between every pair of layers' similarity matrices."""
    sims = [cosine_matrix(v) for v in vectors]
    ups = np.stack([_upper(s) for s in sims])
    return np.corrcoef(ups)


def pc1_valence_by_layer(vectors: np.ndarray, valence: np.ndarray) -> np.ndarray:
    """|r| of each layer's PC1 with human valence: where in depth valence is the main axis."""
    return np.array([abs(correlate(pca(v, 2).scores[:, 0], valence)[0]) for v in vectors])


def valence_loading(v: np.ndarray, valence: np.ndarray) -> np.ndarray:
    """Cosine of each (unit) row with the valence axis: the sum of the rated rows weighted by
    their centred human valence. Steering along a row that barely loads on it has no reason to
    move an outside judge's sentiment, however well the row reads its emotion."""
    u, ok = unit_rows(np.asarray(v, dtype=np.float64)), ~np.isnan(valence)
    axis = u[ok].T @ (valence[ok] - valence[ok].mean())
    return u @ (axis / np.linalg.norm(axis))


def correlate(x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    """Pearson r over the entries where both are known, and how many there were."""
    mask = ~(np.isnan(x) | np.isnan(y))
    if mask.sum() < 3:
        return float("nan"), int(mask.sum())
    return float(np.corrcoef(x[mask], y[mask])[0, 1]), int(mask.sum())


def best_pc(scores: np.ndarray, values: np.ndarray, k: int = 5) -> tuple[int, float]:
    """Which of the first ``k`` PCs correlates most (either sign) with a rating, and its r."""
    rs = [correlate(scores[:, i], values)[0] for i in range(min(k, scores.shape[1]))]
    best = int(np.argmax(np.abs(rs)))
    return best, rs[best]


def axis_ends(values: np.ndarray, emotions: list[str], n: int = 6) -> tuple[list[str], list[str]]:
    """The emotions at the low and the high end of an axis: what the axis is, in words."""
    order = np.argsort(values)
    return [emotions[i] for i in order[:n]], [emotions[i] for i in order[::-1][:n]]


UMAP_FILE = "umap.json"


def store_umap(ev: EmotionVectors, folder, progress=None) -> None:
    """UMAP of every layer at the default settings, stored at build time: the first live call compiles
    with numba (up to a minute) and each layer takes seconds, too slow for a page that follows a slider."""
    import json
    from pathlib import Path

    from .paths import write_text_atomic

    layers = {}
    if len(ev.emotions) <= 15:  # fewer points than UMAP's neighbours: nothing to embed
        return
    for layer in range(ev.n_layers):
        layers[str(layer)] = np.round(umap_embedding(ev.at(layer)), 5).tolist()
        if progress:
            progress("umap", layer + 1, ev.n_layers)
    write_text_atomic(
        Path(folder) / UMAP_FILE, json.dumps({"seed": 42, "n_neighbors": 15, "min_dist": 0.1, "metric": "cosine", "layers": layers})
    )


def stored_umap(folder, layer: int, n_neighbors: int = 15, min_dist: float = 0.1):
    """The stored embedding of this layer when it was made with these settings, else None."""
    import json
    from pathlib import Path

    path = Path(folder) / UMAP_FILE
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    if (data["n_neighbors"], data["min_dist"]) != (n_neighbors, min_dist) or str(layer) not in data.get("layers", {}):
        return None
    return np.asarray(data["layers"][str(layer)], dtype=np.float32)
