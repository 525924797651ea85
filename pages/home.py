"""Home: what Emotion Lens is, which model is loaded, and the state of its vectors."""
import json

import streamlit as st

from app_state import current_model, report
from core import PRESETS
from core.validate import summary_markdown
from core.vectors import vectors_dir

st.title("Emotion Lens")
st.markdown(
    "See **functional emotions** inside open language models, token by token. Emotion Lens "
    "builds a direction in the model's residual stream for each of **171 emotion concepts** "
    "from short stories in which a character feels that emotion (the recipe of Anthropic's 2026 "
    "paper *Emotion Concepts and their Function in a Large Language Model*), fits a **readout** "
    "that tells those 171 emotions apart, and shows where each one lights up in any text you paste: "
    "**red** where the signal is stronger than in typical emotional text, **blue** where it is weaker.")
st.info("Everything runs on this machine's CPU, offline. These are small models (135M and 270M "
        "parameters): where they do not reproduce a finding of the paper, the pages say so.")

name, lm, ev = current_model()

st.subheader(f"Model: {name}")
c1, c2, c3, c4 = st.columns(4)
c1.metric("Layers", lm.n_layers)
c2.metric("d_model", lm.d_model)
c3.metric("Emotion vectors", len(ev.emotions))
c4.metric("Reading layer", ev.reading_layer(), help=f"Readout layer (chosen by story cross-validation); "
          f"the concept vectors' default is {ev.default_layer}, about two-thirds deep as in the paper")
st.caption(PRESETS[name].description)
st.caption(f"Concept vectors: {ev.describe()}; built {ev.meta.get('created', '?')}; corpus {ev.meta.get('corpus_hash', '')[:12]}.")
st.caption(f"What tokens show: {ev.describe_token_reading()}. Families: {len(ev.families.names)} groups of "
           "near-synonyms from the concept vectors, never across human valence.")

rep = report(name)
if rep:
    st.markdown(summary_markdown(rep))
    st.caption(f"Default reading: {rep['method']}. Full tables: cached_vectors/{name}/validation.md "
               f"(python -m core validate --model {name}).")

st.subheader("Status of cached vectors")
rows = []
for model in PRESETS:
    meta_path = vectors_dir(model) / "meta.json"
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        rows.append({"model": model, "emotions": len(meta["emotions"]), "layers": meta["n_layers"],
                     "readout layer": meta.get("readout", {}).get("layer"), "concept layer": meta["default_layer"],
                     "stories": sum(meta["stories_per_emotion"].values()), "built": meta.get("created", "")})
    else:
        rows.append({"model": model, "emotions": 0, "layers": None, "readout layer": None, "concept layer": None,
                     "stories": 0,
                     "built": "not built: python -m core build --model " + model})
st.dataframe(rows, hide_index=True, width="stretch")
st.markdown("Open a page from the sidebar: **Transcript viewer** to paste a conversation and watch "
            "each emotion token by token (with a presentation mode for audiences); **Emotion space**, **Clusters**, "
            "**Similarity**, **Layers** and **Compare models** for the geometry; **Steering** to add an emotion "
            "while the model writes and see what changes; **Live** to watch emotions as the model writes and stop "
            "it when one crosses a line.")
