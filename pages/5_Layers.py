"""Is the structure of emotion space stable across depth? And which layer reads emotions best?"""

import streamlit as st

from app_state import downloads, get_vectors, page_header, report, vader, what
from core import geometry as g
from core import plots
from core.validate_report import layer_series

name, lm, ev = page_header("Across layers")


@st.cache_data(show_spinner=False)
def by_layer(name: str):
    ev = get_vectors(name)
    return g.layer_structure(ev.vectors), g.pc1_valence_by_layer(ev.vectors, vader(tuple(ev.emotions)).valence)


with st.spinner("Comparing every pair of layers…"):
    structure, pc1_r = by_layer(name)
layers = list(range(ev.n_layers))
m = ev.meta["method"]
caption = (
    f"{name} · all {ev.n_layers} layers · {len(ev.emotions)} emotion vectors per layer from "
    f"{sum(ev.meta['stories_per_emotion'].values())} stories, mean from token {m['start_token']}, neutral "
    f"PCs explaining {m['neutral_variance']:.0%} of variance projected out at each layer"
)
fig = plots.heatmap(
    structure, layers, layers, "Correlation between layers' similarity matrices", caption, zmin=0, zmax=1, height=600, colorscale="Viridis"
)
fig.update_xaxes(title="layer")
fig.update_yaxes(title="layer")
st.plotly_chart(fig, key="layers")
what(
    "whether emotions are arranged alike at different depths: each cell compares the pattern of similarities "
    "between all 171 emotions at two layers (1 = the same arrangement). A bright block means those layers "
    "organise emotions the same way."
)
downloads(fig, [{"layer": a, **{str(b): float(structure[a, b]) for b in layers}} for a in layers], f"layers-{name}")

series = {"|r| PC1 vs VADER valence": pc1_r, **layer_series(report(name), ev.n_layers)}
fig2 = plots.line(
    layers,
    series,
    "Per layer: valence structure, story cross-validation and validation scores",
    caption + " · held-out validation set and story cross-validation (python -m core validate)",
    "layer",
    "score",
)
fig2.add_vline(x=ev.default_layer, line_dash="dot", annotation_text="concept default")
if ev.has_readout:
    fig2.add_vline(x=ev.reading_layer(), line_dash="dash", annotation_text="readout layer", annotation_position="bottom right")
st.plotly_chart(fig2, key="perlayer")
what(
    "for each layer, how well emotions are read there. *Story CV top-5*: how often a story the readout never "
    "saw has its own emotion among the 5 highest of 171. *Implicit top-3*: the same for short scenarios that never "
    "name the emotion (top 3 of 56). *Sweep ρ*: whether readings rise as a number in the text becomes more "
    "alarming (1 = always). *Two-person accuracy*: in a passage about two people who feel different things, how "
    "often each person's emotion reads higher in their own part than in the other's (50% = chance)."
)
downloads(fig2, [{"layer": l, **{k: float(v[l]) for k, v in series.items()}} for l in layers], f"per-layer-{name}")
st.markdown(
    f"Best |r| of PC1 with valence: **{pc1_r.max():.2f}** at layer {int(pc1_r.argmax())}; at the "
    f"default layer {ev.default_layer}: **{pc1_r[ev.default_layer]:.2f}** (paper: 0.81)."
)
