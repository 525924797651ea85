"""UMAP of the emotion vectors with k-means clusters, named and ordered by valence."""
import numpy as np
import streamlit as st

from app_state import downloads, geometry, get_vectors, layer_picker, page_header, vader
from core import geometry as g
from core import plots
from core.vectors import vectors_dir

name, lm, ev = page_header("Clusters (UMAP + k-means)", "🫧")
layer = layer_picker(ev)
k = st.sidebar.slider("k (clusters)", 2, 20, 10, key="k")
n_neighbors = st.sidebar.slider("UMAP neighbours", 5, 50, 15, key="nn")
min_dist = st.sidebar.select_slider("UMAP min_dist", [0.0, 0.05, 0.1, 0.25, 0.5], 0.1, key="md")


@st.cache_data(show_spinner=False)
def embedding(name: str, layer: int, n_neighbors: int, min_dist: float):
    stored = g.stored_umap(vectors_dir(name), layer, n_neighbors, min_dist)
    if stored is not None:
        return stored, "precomputed at build time"
    return g.umap_embedding(get_vectors(name).at(layer), n_neighbors=n_neighbors, min_dist=min_dist), "computed now"


with st.spinner("Computing UMAP (the first run compiles numba code: up to a minute)…"):
    emb, origin = embedding(name, layer, n_neighbors, min_dist)
geo = geometry(name, layer, k)
ratings = vader(tuple(ev.emotions))
emotions = np.array(ev.emotions)

# Order clusters by mean human valence of their rated members (unrated clusters last).
labels = geo["labels"]
mean_val = {c: np.nanmean(ratings.valence[labels == c]) if (~np.isnan(ratings.valence[labels == c])).any()
            else np.nan for c in range(k)}
order = sorted(range(k), key=lambda c: (np.isnan(mean_val[c]), mean_val[c]))
rank = {c: i for i, c in enumerate(order)}
ranked = np.array([rank[c] for c in labels])
names = {rank[c]: f"{geo['names'][c]} (valence {mean_val[c]:+.1f})" if not np.isnan(mean_val[c])
         else f"{geo['names'][c]} (no ratings)" for c in range(k)}
caption = (ev.describe(layer) + f" · UMAP (cosine, {n_neighbors} neighbours, min_dist {min_dist}, seed 42; "
           f"{origin}) · k-means k={k} on unit vectors · clusters ordered by mean VADER valence")
fig = plots.scatter(emb[:, 0], emb[:, 1], emotions, ranked, names, "UMAP of emotion vectors", caption,
                    "UMAP 1", "UMAP 2", height=700)
st.plotly_chart(fig, key="umap")
downloads(fig, [{"emotion": e, "umap1": float(x), "umap2": float(y), "cluster": names[c]}
                for e, (x, y), c in zip(emotions, emb, ranked)], f"umap-{name}-L{layer}-k{k}")

st.subheader("Clusters, from most negative to most positive")
for c in range(k):
    members = ", ".join(emotions[ranked == c])
    st.markdown(f"**{c + 1}. {names[c]}** — {members}")
