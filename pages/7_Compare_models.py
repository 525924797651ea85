"""The same emotion space in two models: do they organise the 171 concepts alike?"""
import numpy as np
import streamlit as st

from app_state import available_models, downloads, geometry, get_vectors, page_setup, user_errors, vader
from core import geometry as g
from core import plots

page_setup("Compare models", "⚖️")
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
sim_a = geos[a]["sim"][np.ix_(ia, ia)]
sim_b = geos[b]["sim"][np.ix_(ib, ib)]
r = g.structure_correlation(sim_a, sim_b)
st.markdown(f"Correlation of the two models' cosine-similarity structures over {len(shared)} shared "
            f"emotions (default layers {evs[a].default_layer} and {evs[b].default_layer}): **r = {r:.2f}**.")

cols = st.columns(2)
for col, m in zip(cols, (a, b)):
    ev, geo = evs[m], geos[m]
    ratings = vader(tuple(ev.emotions))
    scores = geo["scores"]
    rv, n = g.correlate(scores[:, 0], ratings.valence)
    with col:
        fig = plots.scatter(scores[:, 0], scores[:, 1], ev.emotions, geo["labels"], geo["names"],
                            f"{m}: PC1 × PC2 (PC1 vs valence r = {rv:.2f}, n = {n})", ev.describe(),
                            f"PC1 ({geo['explained'][0]:.0%})", f"PC2 ({geo['explained'][1]:.0%})",
                            height=560, show_text=False)
        st.plotly_chart(fig, key=f"pca-{m}")
        downloads(fig, [{"emotion": e, "PC1": float(s[0]), "PC2": float(s[1])} for e, s in zip(ev.emotions, scores)],
                  f"compare-pca-{m}")

upper = np.triu_indices(len(shared), 1)
pairs = np.array([f"{shared[i]} · {shared[j]}" for i, j in zip(*upper)])
groups = np.zeros(len(pairs), int)
fig = plots.scatter(sim_a[upper], sim_b[upper], pairs, groups, {0: "emotion pairs"},
                    f"Cosine similarity of each pair of emotions: {a} vs {b} (r = {r:.2f})",
                    f"{evs[a].describe()} | {evs[b].describe()}", a, b, height=560, show_text=False)
st.plotly_chart(fig, key="pairs")
downloads(fig, [{"pair": p, a: float(x), b: float(y)} for p, x, y in zip(pairs, sim_a[upper], sim_b[upper])],
          "compare-similarity")
