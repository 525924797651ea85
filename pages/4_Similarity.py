"""Cosine similarity between emotion vectors, ordered by hierarchical clustering."""

import numpy as np
import streamlit as st

from app_state import cluster_picker, downloads, geometry, layer_picker, page_header, what
from core import geometry as g
from core import plots

name, lm, ev = page_header("Similarity between emotions")
layer = layer_picker(ev)
k = cluster_picker()
geo = geometry(name, layer, k)
sim, emotions = geo.sim, np.array(ev.emotions)
order = g.hierarchical_order(sim)
caption = (
    ev.describe(layer) + f" · cosine similarity · order: average-linkage clustering · strip: k-means "
    f"clusters (k={k}), coloured as on the other pages"
)

fig = plots.heatmap(
    sim[np.ix_(order, order)],
    emotions[order],
    emotions[order],
    "Cosine similarity of the 171 emotion vectors",
    caption,
    height=900,
    bands=geo.clusters.labels[order],
)
st.plotly_chart(fig, key="heat")
what(
    "how alike the model's directions for every pair of emotions are: red squares are pairs it represents "
    "alike, blue ones opposites. Rows are ordered so similar emotions sit together, which makes families show "
    "as red blocks along the diagonal; the strip on the left gives each row's cluster."
)
downloads(
    fig,
    [{"emotion": e, **{f: float(sim[i, j]) for j, f in enumerate(emotions)}} for i, e in enumerate(emotions)],
    f"similarity-{name}-L{layer}",
)

st.subheader("Neighbours")
chosen = st.selectbox("Emotion", ev.emotions, index=ev.emotions.index("afraid"), key="nb")
near, far = g.neighbours(sim, ev.emotions, chosen, 10)
c1, c2 = st.columns(2)
c1.markdown("**Nearest**\n\n" + "\n".join(f"1. {e} ({s:+.2f})" for e, s in near))
c2.markdown("**Farthest**\n\n" + "\n".join(f"1. {e} ({s:+.2f})" for e, s in far))

st.subheader("A chosen subset")
subset = st.multiselect(
    "Emotions",
    ev.emotions,
    ["afraid", "scared", "terrified", "anxious", "nervous", "happy", "joyful", "excited", "calm", "sad", "angry"],
    key="subset",
)
if len(subset) >= 2:
    idx = [ev.index(e) for e in subset]
    sub = sim[np.ix_(idx, idx)]
    sub_order = g.hierarchical_order(sub) if len(idx) > 2 else np.arange(len(idx))
    names = [subset[i] for i in sub_order]
    fig2 = plots.heatmap(sub[np.ix_(sub_order, sub_order)], names, names, "Similarity within the subset", caption, height=520)
    st.plotly_chart(fig2, key="subheat")
    what("the same similarities for the emotions you picked, large enough to read every cell.")
    downloads(
        fig2,
        [{"emotion": a, **{b: float(sub[i, j]) for j, b in enumerate(subset)}} for i, a in enumerate(subset)],
        f"similarity-subset-{name}-L{layer}",
    )
