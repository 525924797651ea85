"""Emotion space: PCA of the 171 vectors, and how its axes line up with human ratings."""

import numpy as np
import streamlit as st

from app_state import (
    affect,
    cluster_picker,
    downloads,
    geometry,
    layer_picker,
    page_header,
    user_errors,
    vader,
    warriner_ratings,
    what,
)
from core import geometry as g
from core import plots
from core.ratings import parse_vad_lexicon

name, lm, ev = page_header("Emotion space (PCA)")
layer = layer_picker(ev)
k = cluster_picker()
geo = geometry(name, layer, k)
cl = geo.clusters
caption = ev.describe(layer) + f" · PCA of the 171 unit concept vectors · colours: k-means, k={k}"
emotions = np.array(ev.emotions)
ratings = vader(tuple(ev.emotions))
human = warriner_ratings(tuple(ev.emotions))
scores = geo.scores

c1, c2 = st.columns(2)
pcx = c1.selectbox("x axis", range(10), 0, format_func=lambda i: f"PC{i + 1}", key="pcx")
pcy = c2.selectbox("y axis", range(10), 1, format_func=lambda i: f"PC{i + 1}", key="pcy")
fig = plots.scatter(
    scores[:, pcx],
    scores[:, pcy],
    emotions,
    cl.labels,
    cl.names,
    f"PC{pcx + 1} × PC{pcy + 1} of {len(emotions)} emotion vectors",
    caption,
    f"PC{pcx + 1} ({geo.explained[pcx]:.0%} of variance)",
    f"PC{pcy + 1} ({geo.explained[pcy]:.0%} of variance)",
)
st.plotly_chart(fig, key="pca")
what(
    "each dot is one emotion's direction inside the model, flattened onto the two axes along which the 171 "
    "directions differ most. Emotions the model represents alike sit close together. Names are shown where "
    "they fit; hover a dot for the rest."
)
rows = [
    {"emotion": e, **{f"PC{i + 1}": float(scores[j, i]) for i in range(10)}, "cluster": cl.names[cl.labels[j]]}
    for j, e in enumerate(emotions)
]
downloads(fig, rows, f"pca-{name}-L{layer}")

fig_var = plots.variance(geo.explained, "Variance explained by each PC", caption)
st.plotly_chart(fig_var, key="var")
what(
    "how much of the differences between the 171 directions each axis captures. "
    f"Paper (Claude Sonnet 4.5): PC1 26%, PC2 15%. Here: PC1 {geo.explained[0]:.0%}, PC2 {geo.explained[1]:.0%}."
)
downloads(fig_var, [{"PC": f"PC{i + 1}", "variance": float(x)} for i, x in enumerate(geo.explained)], f"variance-{name}-L{layer}")

c1, c2 = st.columns(2)
with c1:
    f1 = plots.ordering(scores[:, 0], emotions, "Emotions ordered along PC1", caption)
    st.plotly_chart(f1, key="pc1")
    what("every emotion's position on the first axis, lowest at the bottom.")
    downloads(f1, [{"emotion": e, "PC1": float(x)} for e, x in zip(emotions, scores[:, 0])], f"pc1-{name}-L{layer}")
with c2:
    f2 = plots.ordering(scores[:, 1], emotions, "Emotions ordered along PC2", caption)
    st.plotly_chart(f2, key="pc2")
    what("every emotion's position on the second axis, lowest at the bottom.")
    downloads(f2, [{"emotion": e, "PC2": float(x)} for e, x in zip(emotions, scores[:, 1])], f"pc2-{name}-L{layer}")

low, high = g.axis_ends(scores[:, 0], ev.emotions)
st.markdown(
    f"**What PC1 is in this model:** from *{', '.join(low)}* at one end to "
    f"*{', '.join(high)}* at the other (the sign is arbitrary; it is oriented so that "
    "it rises with human valence: VADER, else Warriner et al.)."
)

st.header("Human ratings")
st.markdown(
    f"Shipped: **{human.citation}** ({human.coverage()} of the 171 emotion words have an exact entry) and "
    f"**{ratings.citation}** ({ratings.coverage()} words, valence only). Words a lexicon lacks are left out, "
    "never imputed. You can also upload a lexicon in NRC-VAD's format (term, valence, arousal, dominance, "
    "tab-separated)."
)
upload = st.file_uploader(
    "Lexicon (.tsv/.txt, NRC-VAD format)", type=["tsv", "txt"], key="lexicon", help="Up to 2 MB of UTF-8 text (the app's upload limit)"
)
sets = [human, ratings]
with user_errors():
    if upload is not None:
        sets.append(parse_vad_lexicon(upload.getvalue(), ev.emotions, upload.name))
for rs in sets:
    pairs = [("valence", rs.valence, 0, 0.81)]
    if rs.arousal is not None:
        pairs.append(("arousal", rs.arousal, 1, 0.66))
    for quality, values, pc, paper in pairs:
        r, n = g.correlate(scores[:, pc], values)
        best, rb = g.best_pc(scores, values)
        mask = ~np.isnan(values)
        fig_r = plots.scatter(
            values[mask],
            scores[mask, pc],
            emotions[mask],
            cl.labels[mask],
            cl.names,
            f"PC{pc + 1} vs human {quality} ({rs.name}): r = {r:.2f}, n = {n}",
            caption + f" · ratings: {rs.citation}",
            f"human {quality}",
            f"PC{pc + 1}",
            height=520,
        )
        st.plotly_chart(fig_r, key=f"r-{rs.name}-{quality}")
        verdict = "reproduces" if abs(r) >= paper else "falls short of"
        what(
            f"whether the model's axis PC{pc + 1} orders emotions as people rate their {quality}: each dot is an "
            f"emotion word, placed by its human rating (across) and by the model (up). A straight rising or "
            f"falling band would mean they agree."
        )
        st.markdown(
            f"**r = {r:.2f}** over n = {n} emotions; the paper found r = {paper} on Claude Sonnet 4.5. "
            f"This small model {verdict} that figure. Of PCs 1–5, PC{best + 1} tracks human {quality} best "
            f"(r = {rb:.2f})."
        )
        downloads(
            fig_r,
            [
                {"emotion": e, f"human {quality}": float(h), f"PC{pc + 1}": float(s)}
                for e, h, s in zip(emotions[mask], values[mask], scores[mask, pc])
            ],
            f"{quality}-{rs.name}-{name}-L{layer}".replace(" ", "_"),
        )

st.header("Affect plane")
plane = affect(name, layer)
st.markdown(
    "The two directions in emotion space that best **predict** human valence and arousal "
    f"({human.name}): a ridge regression fitted to the ratings, so this plane is *fitted*, not found by the "
    "model the way PC1 and PC2 are. How well it predicts ratings of emotions it was not fitted on "
    f"(10-fold cross-validation): valence **r = {plane['valence']['cv_r']:.2f}**, arousal "
    f"**r = {plane['arousal']['cv_r']:.2f}** (n = {plane['valence']['n']})."
)
fig_p = plots.scatter(
    plane["valence"]["coords"],
    plane["arousal"]["coords"],
    emotions,
    cl.labels,
    cl.names,
    "Affect plane: directions fitted to human valence and arousal",
    caption + f" · ridge regression on {human.citation}; all 171 emotions placed, {plane['valence']['n']} of them rated",
    "fitted valence direction",
    "fitted arousal direction",
)
st.plotly_chart(fig_p, key="plane")
what(
    "all 171 emotions placed on the two directions inside the model that best predict how pleasant (across) "
    "and how activating (up) people rate them. Fitted to the ratings, so it shows that the information is "
    "there, not that the model organises emotions this way on its own."
)
downloads(
    fig_p,
    [
        {"emotion": e, "valence coordinate": float(a), "arousal coordinate": float(b)}
        for e, a, b in zip(emotions, plane["valence"]["coords"], plane["arousal"]["coords"])
    ],
    f"affect-plane-{name}-L{layer}",
)
