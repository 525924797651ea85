"""UMAP of the emotion vectors with k-means clusters, named and ordered by valence."""

import numpy as np
import streamlit as st

from app_state import cluster_picker, downloads, geometry, get_vectors, layer_picker, page_header, what
from core import geometry as g
from core import plots
from core.vectors import vectors_dir

name, lm, ev = page_header("Clusters (UMAP + k-means)")
layer = layer_picker(ev)
k = cluster_picker()
n_neighbors = st.sidebar.slider("UMAP neighbours", 5, 50, 15, key="nn")
min_dist = st.sidebar.select_slider("UMAP min_dist", [0.0, 0.05, 0.1, 0.25, 0.5], 0.1, key="md")


@st.cache_data(show_spinner=False)
def embedding(name: str, layer: int, n_neighbors: int, min_dist: float):
    stored = g.stored_umap(vectors_dir(name), layer, n_neighbors, min_dist)
    if stored is not None:
        return stored, "precomputed at build time"
    return g.umap_embedding(get_vectors(name).at(layer), n_neighbors=n_neighbors, min_dist=min_dist), "computed now"


with st.spinner(
    "Computing UMAP for these settings (every layer is stored at the default 15 neighbours and "
    "min_dist 0.1; other settings are computed now, the first time up to a minute)…"
):
    emb, origin = embedding(name, layer, n_neighbors, min_dist)
cl = geometry(name, layer, k).clusters
emotions = np.array(ev.emotions)
legend = {c: f"{c + 1}. {cl.names[c]}" for c in cl.names}
caption = (
    ev.describe(layer) + f" · UMAP (cosine, {n_neighbors} neighbours, min_dist {min_dist}, seed 42; "
    f"{origin}) · k-means k={k} on unit vectors · clusters numbered by mean human valence (VADER, else Warriner et al.), "
    "named by their most typical members"
)
fig = plots.scatter(emb[:, 0], emb[:, 1], emotions, cl.labels, legend, "UMAP of emotion vectors", caption, "UMAP 1", "UMAP 2", height=700)
st.plotly_chart(fig, key="umap")
what(
    "a map of the 171 emotion directions in which neighbours inside the model stay neighbours on the page "
    "(distances between far-apart groups mean little). Colours are k-means clusters, numbered from the most "
    "unpleasant to the most pleasant by how people rate their words; the same number has the same colour on "
    "every page."
)
downloads(
    fig,
    [{"emotion": e, "umap1": float(x), "umap2": float(y), "cluster": legend[c]} for e, (x, y), c in zip(emotions, emb, cl.labels)],
    f"umap-{name}-L{layer}-k{k}",
)

st.subheader("Clusters, from most negative to most positive")
for c in sorted(cl.names):
    v = cl.valence[c]
    members = ", ".join(emotions[cl.labels == c])
    badge = f"mean valence {v:+.1f}" if not np.isnan(v) else "no rated words"
    st.markdown(
        f'<span class="el-swatch" style="background:{plots.cluster_colour(c)}"></span> **{c + 1}. {cl.names[c]}** ({badge}) — {members}',
        unsafe_allow_html=True,
    )
