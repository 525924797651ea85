"""Emotion Lens — the app's router: page config, styles and the model picker, set once for every page."""

import streamlit as st

st.session_state["_routed"] = True  # app_state.ROUTED: this run came through the router

from app_state import configure, model_picker  # noqa: E402

PAGES = [
    st.Page("pages/home.py", title="Home", icon="🔎", default=True),
    st.Page("pages/1_Transcript_viewer.py", title="Transcript viewer", icon="🖍️", url_path="Transcript_viewer"),
    st.Page("pages/2_Emotion_space.py", title="Emotion space", icon="🧭", url_path="Emotion_space"),
    st.Page("pages/3_Clusters.py", title="Clusters", icon="🫧", url_path="Clusters"),
    st.Page("pages/4_Similarity.py", title="Similarity", icon="🟥", url_path="Similarity"),
    st.Page("pages/5_Layers.py", title="Layers", icon="🧱", url_path="Layers"),
    st.Page("pages/6_Logit_lens.py", title="Logit lens", icon="🔤", url_path="Logit_lens"),
    st.Page("pages/7_Compare_models.py", title="Compare models", icon="⚖️", url_path="Compare_models"),
    st.Page("pages/8_Steering.py", title="Steering", icon="🎛️", url_path="Steering"),
    st.Page("pages/9_Live.py", title="Live", icon="📡", url_path="Live"),
    st.Page("pages/10_Corpus.py", title="Corpus", icon="🗂️", url_path="Corpus"),
]

configure()
page = st.navigation(PAGES)
model_picker()
page.run()
