"""The same emotion space in two models: do they organise the 171 concepts alike?"""

import numpy as np
import streamlit as st

from app_state import available_models, downloads, geometry, get_vectors, user_errors, vader, what
from core import geometry as g
from core import plots

st.title("Compare models")
models = available_models()
if len(models) < 2:
    st.warning("Two models with built vectors are needed.")
    st.stop()
with user_errors():
    evs = {m: get_vectors(m) for m in models[:2]}
a, b = list(evs)
shared = [e for e in evs[a].emotions if e in evs[b].emotions]
ia, ib = [evs[a].index(e) for e in shared], [evs[b].index(e) for e in shared]
geos = {m: geometry(m, evs[m].default_layer, 10) for m in (a, b)}
sim_a = geos[a].sim[np.ix_(ia, ia)]
sim_b = geos[b].sim[np.ix_(ib, ib)]
r = g.structure_correlation(sim_a, sim_b)
st.markdown(
    f"Correlation of the two models' cosine-similarity structures over {len(shared)} shared "
    f"emotions (default layers {evs[a].default_layer} and {evs[b].default_layer}): **r = {r:.2f}**."
)

cols = st.columns(2)
for col, m in zip(cols, (a, b)):
    ev, geo = evs[m], geos[m]
    ratings = vader(tuple(ev.emotions))
    rv, n = g.correlate(geo.scores[:, 0], ratings.valence)
    with col:
        fig = plots.scatter(
            geo.scores[:, 0],
            geo.scores[:, 1],
            ev.emotions,
            geo.clusters.labels,
            geo.clusters.names,
            f"{m}: PC1 × PC2 (PC1 vs valence r = {rv:.2f}, n = {n})",
            ev.describe(),
            f"PC1 ({geo.explained[0]:.0%})",
            f"PC2 ({geo.explained[1]:.0%})",
            height=720,
            show_text=False,
            width=60,
        )
        st.plotly_chart(fig, key=f"pca-{m}")
        downloads(
            fig, [{"emotion": e, "PC1": float(s[0]), "PC2": float(s[1])} for e, s in zip(ev.emotions, geo.scores)], f"compare-pca-{m}"
        )
what(
    "each model's emotion space flattened onto its own two main axes, coloured by that model's own clusters "
    "(k = 10, numbered from most unpleasant to most pleasant), so the two maps can be set side by side."
)

upper = np.triu_indices(len(shared), 1)
pairs = np.array([f"{shared[i]} · {shared[j]}" for i, j in zip(*upper)])
fig = plots.density(
    sim_a[upper],
    sim_b[upper],
    pairs,
    f"Cosine similarity of each pair of emotions: {a} vs {b} (r = {r:.2f}, {len(pairs):,} pairs)",
    f"{evs[a].describe()} | {evs[b].describe()}",
    a,
    b,
)
st.plotly_chart(fig, key="pairs")
what(
    f"for every pair of emotions, how alike {a} (across) and {b} (up) represent them; darker cells hold more "
    "pairs. If the models agreed perfectly, all pairs would lie on the dotted diagonal. The named points are the "
    "pairs the two models disagree on most."
)
downloads(fig, [{"pair": p, a: float(x), b: float(y)} for p, x, y in zip(pairs, sim_a[upper], sim_b[upper])], "compare-similarity")
