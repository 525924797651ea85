"""Home: what Emotion Lens is, which model is loaded, and the state of its vectors."""

import json

import streamlit as st

from app_state import current_model, missing, report
from core import PRESETS
from core.validate_report import summary_markdown
from core.vectors import vectors_dir

st.title("Emotion Lens")
st.markdown(
    "See **functional emotions** inside open language models, token by token. For each of **171 emotions** "
    "Emotion Lens has a direction inside the model, built from short stories in which a character feels that "
    "emotion (the recipe of Anthropic's 2026 paper *Emotion Concepts and their Function in a Large Language "
    "Model*). Paste any conversation and every word is coloured by how strongly the model's own signal for an "
    "emotion is active there: **red** stronger than in typical text, **blue** weaker."
)
st.markdown(
    "**Start here:** open the **Transcript viewer**, pick an example or paste a conversation, and hover "
    "any word. For an audience, switch on **Presentation mode** in its sidebar (arrow keys or a clicker "
    "move between slides). Then try **Steering**, which adds an emotion while the model writes, and "
    "**Live**, which watches emotions as it writes."
)
with st.container(horizontal=True):
    st.page_link("pages/1_Transcript_viewer.py", label="Open the Transcript viewer", icon="🖍️")
    st.page_link("pages/8_Steering.py", label="Steering", icon="🎛️")
    st.page_link("pages/9_Live.py", label="Live", icon="📡")
st.info(
    "Everything runs on this machine, offline (on its CPU unless the server was started with a GPU, "
    "`make run DEVICE=cuda`). The shipped models are small (135M and 270M parameters): where they do "
    "not reproduce a finding of the paper, the pages say so."
)

name, lm, ev = current_model()

st.subheader(f"Model: {name}")
c1, c2, c3, c4 = st.columns(4)
c1.metric("Layers", lm.n_layers)
c2.metric("d_model", lm.d_model)
c3.metric("Emotion vectors", len(ev.emotions))
c4.metric(
    "Reading layer",
    ev.reading_layer(),
    help=f"Readout layer (chosen by story cross-validation); "
    f"the concept vectors' default is {ev.default_layer}, about two-thirds deep as in the paper",
)
st.caption(f"{PRESETS[name].description if name in PRESETS else lm.source}; runs on {lm.device} in {lm.placement.dtype}.")
st.caption(f"Concept vectors: {ev.describe()}; built {ev.meta.get('created', '?')}; corpus {ev.meta.get('corpus_hash', '')[:12]}.")
st.caption(
    f"What tokens show: {ev.describe_token_reading()}. Families: {len(ev.families.names)} groups of "
    "near-synonyms from the concept vectors, never across human valence."
)

rep = report(name)
if rep:
    st.markdown(summary_markdown(rep))
    st.caption(
        f"Default reading: {rep['method']}. Full tables: cached_vectors/{name}/validation.md (python -m core validate --model {name})."
    )

st.subheader("Status of cached vectors")
rows = []
for model in PRESETS:
    meta_path = vectors_dir(model) / "meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        rows.append(
            {
                "model": model,
                "emotions": len(meta["emotions"]),
                "layers": meta["n_layers"],
                "readout layer": meta.get("readout", {}).get("layer"),
                "concept layer": meta["default_layer"],
                "stories": sum(meta["stories_per_emotion"].values()),
                "built": meta.get("created", ""),
            }
        )
    else:
        rows.append(
            {
                "model": model,
                "emotions": 0,
                "layers": None,
                "readout layer": None,
                "concept layer": None,
                "stories": 0,
                "built": (missing(model) or "").replace("`", ""),
            }
        )
st.dataframe(rows, hide_index=True, width="stretch")
for model, preset in PRESETS.items():
    if preset.optional:
        st.caption(f"**{model}** (optional, {preset.parts.size / 1e9:.1f} GB): {preset.gains} It {missing(model) or 'is ready'}.")
st.markdown(
    "The other pages: **Emotion space**, **Clusters**, **Similarity**, **Layers** and **Compare models** "
    "show the geometry of the 171 directions; **Logit lens** shows which words each one pushes the model "
    "towards."
)
