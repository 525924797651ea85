"""The geometry of emotion space: similarity, PCA, clusters, UMAP, layers, logit lens.

Pure functions over ``[n_emotions, d_model]`` matrices (numpy in, numpy out), so pages
and tests compute exactly the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def unit_rows(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def cosine_matrix(v: np.ndarray) -> np.ndarray:
    u = unit_rows(np.asarray(v, dtype=np.float64))
    return np.clip(u @ u.T, -1.0, 1.0)


@dataclass
class PCAResult:
    scores: np.ndarray        # [n_emotions, n_components]
    explained: np.ndarray     # share of variance per component
    components: np.ndarray    # [n_components, d_model]


def pca(v: np.ndarray, n_components: int = 10) -> PCAResult:
    """PCA by SVD of the centred vectors; signs fixed so results do not flip between runs."""
    x = np.asarray(v, dtype=np.float64)
    x = x - x.mean(0, keepdims=True)
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    k = min(n_components, len(s))
    signs = np.sign(vt[:k].sum(1))
    signs[signs == 0] = 1
    comps = vt[:k] * signs[:, None]
    return PCAResult(x @ comps.T, (s[:k] ** 2) / (s ** 2).sum(), comps)


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


def cluster_names(v: np.ndarray, labels: np.ndarray, emotions: list[str], n: int = 3) -> dict[int, str]:
    """Name each cluster by the members nearest its centroid."""
    u = unit_rows(np.asarray(v, np.float64))
    names = {}
    for c in sorted(set(labels.tolist())):
        idx = np.flatnonzero(labels == c)
        centre = u[idx].mean(0)
        best = idx[np.argsort(-(u[idx] @ centre))[:n]]
        names[c] = " / ".join(emotions[i] for i in best)
    return names


def umap_embedding(v: np.ndarray, seed: int = 42, n_neighbors: int = 15, min_dist: float = 0.1) -> np.ndarray:
    import umap
    reducer = umap.UMAP(n_components=2, n_neighbors=n_neighbors, min_dist=min_dist, metric="cosine",
                        random_state=seed, n_jobs=1)
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


def logit_lens(lm, direction: np.ndarray, k: int = 15):
    """Tokens a direction most promotes and suppresses through the final norm and unembedding.

    The direction is scaled to a typical final-layer norm first, since RMSNorm is (nearly)
    scale-free but its epsilon is not.
    """
    import torch
    model = lm.model
    norm = getattr(getattr(model, "model", model), "norm", None)
    head = model.get_output_embeddings()
    with torch.inference_mode():
        x = torch.tensor(direction, dtype=torch.float32) * float(lm.residual_norms[-1])
        if norm is not None:
            x = norm(x.unsqueeze(0))[0]
        logits = head(x)
        logits = logits - logits.mean()
    top = torch.topk(logits, k).indices.tolist()
    bottom = torch.topk(-logits, k).indices.tolist()
    word = lambda i: lm.tokenizer.decode([i])
    return ([(word(i), float(logits[i])) for i in top], [(word(i), float(logits[i])) for i in bottom])


UMAP_FILE = "umap.json"


def store_default_umap(ev, folder) -> None:
    """UMAP's first call compiles with numba (slow): the build stores the default embedding."""
    import json
    from pathlib import Path
    from .paths import write_text_atomic
    emb = umap_embedding(ev.at())
    write_text_atomic(Path(folder) / UMAP_FILE, json.dumps(
        {"layer": ev.default_layer, "seed": 42, "n_neighbors": 15, "min_dist": 0.1, "metric": "cosine",
         "coords": np.round(emb, 5).tolist()}))


def stored_umap(folder, layer: int, n_neighbors: int = 15, min_dist: float = 0.1):
    """The stored embedding when it was made with these settings, else None."""
    import json
    from pathlib import Path
    path = Path(folder) / UMAP_FILE
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    if (data["layer"], data["n_neighbors"], data["min_dist"]) != (layer, n_neighbors, min_dist):
        return None
    return np.asarray(data["coords"], dtype=np.float32)
