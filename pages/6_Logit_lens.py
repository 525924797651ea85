"""Logit lens: which tokens does an emotion vector push the model towards, and away from?"""

import streamlit as st

from app_state import downloads, layer_picker, page_header, what
from core import plots
from core.lens import logit_lens

name, lm, ev = page_header("Logit lens")
layer = layer_picker(ev)
emotion = st.selectbox("Emotion", ev.emotions, index=ev.emotions.index("happy"), key="emotion")
k = st.slider("Tokens", 5, 40, 15, key="k_tokens")


@st.cache_data(show_spinner=False)
def lens(name: str, layer: int, emotion: str, k: int):
    return logit_lens(lm, ev.at(layer)[ev.index(emotion)], k)


up, down = lens(name, layer, emotion, k)
caption = (
    ev.describe(layer) + " · vector scaled to the last layer's mean residual norm, through the final norm and unembedding; logits centred"
)
c1, c2 = st.columns(2)
with c1:
    f1 = plots.token_bars(up, f"'{emotion}' promotes", caption, "rgb(178,24,43)")
    st.plotly_chart(f1, key="up")
with c2:
    f2 = plots.token_bars(down, f"'{emotion}' suppresses", caption, "rgb(33,102,172)")
    st.plotly_chart(f2, key="down")
what(
    f"if the model's '{emotion}' direction were fed straight to its output, which next words it would make more "
    "likely (left) and less likely (right). Tokens that are only part of a character (byte pieces of accented "
    "letters, CJK or emoji) are shown as their raw token, one bar each."
)
downloads(
    f1,
    [{"token": t.label, "token_id": t.token_id, "logit": t.logit, "direction": "promoted"} for t in up]
    + [{"token": t.label, "token_id": t.token_id, "logit": t.logit, "direction": "suppressed"} for t in down],
    f"logit-lens-{name}-L{layer}-{emotion}",
)
st.caption(
    "Reading a middle layer's direction through the final unembedding is approximate: later layers "
    "transform it. The paper uses this view to see what each vector promotes."
)
