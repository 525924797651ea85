"""Corpus: a scanned corpus of transcripts (`python -m core scan`), sorted and filtered by one
emotion with DuckDB over its Parquet files, and any transcript opened in the viewer at its peak."""

import streamlit as st

from app_state import available_models, downloads, keep, kept, user_errors, what
from core.plots import histogram
from core.scan_query import SPEAKERS, errors, open_scan, ranking, scan_root, token_range, transcript_text

st.title("Corpus")
what(
    "a whole corpus of conversations read by the model, one emotion at a time: which transcripts reach the "
    "highest value of that emotion (its peak, the strongest token) or the highest average (its mean over the "
    "words), and how the emotion spreads over the corpus. Pick a row to open that conversation in the "
    "Transcript viewer, scrolled to its peak."
)
folder = st.text_input(
    "Scan folder",
    placeholder="e.g. scans/chats",
    help="Made by `python -m core scan chats.jsonl --out scans/chats` (JSONL, Parquet or a folder of .txt/.json files)",
    **kept("corpus_folder", ""),
)
keep("corpus_folder")
if not folder.strip():
    st.info(
        "Scan a corpus first, then give its folder here:\n\n"
        "`.venv/bin/python -m core scan chats.jsonl --out scans/chats` (add `--engine ray` to run it on Ray)."
    )
    st.stop()
with user_errors():
    scan = open_scan(folder, scan_root())
meta = scan.meta
st.caption(
    f"{meta['transcripts']:,} transcripts ({meta['tokens']:,} tokens) scanned by {meta['model']} on {meta['engine']}, "
    f"{meta['created']}; {meta['errors']} records could not be read. Mean: {meta['summary_reading']}. "
    f"Peak: {meta['token_reading']}."
)

names = scan.names
c1, c2, c3 = st.columns([2, 1, 1])
name = c1.selectbox("Emotion or family", names, **kept("corpus_name", names.index("desperate") if "desperate" in names else 0, "index"))
by = c2.radio("Sort by", ["peak", "mean"], horizontal=True, **kept("corpus_by", 0, "index"))
speaker = c3.selectbox("Whose words", SPEAKERS, **kept("corpus_speaker", 0, "index"), help="any: the whole transcript")
lo, hi = token_range(scan)
c4, c5 = st.columns([2, 1])
length = c4.slider("Length (tokens)", lo, max(hi, lo + 1), (lo, max(hi, lo + 1)), key="corpus_length")
at_least = c5.number_input(f"{by} z at least", value=None, step=0.5, placeholder="no bound", key="corpus_at_least")
for k in ("corpus_name", "corpus_by", "corpus_speaker"):
    keep(k)

with user_errors():
    everything = ranking(scan, name, by, speaker, *length)
    table = everything if at_least is None else everything[everything.value >= at_least]
st.markdown(f"**{len(table):,}** of {meta['transcripts']:,} transcripts, highest {by} of **{name}** first.")
picked = st.dataframe(
    table.drop(columns="value"),
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    key="corpus_table",
    column_config={
        "peak_z": st.column_config.NumberColumn("peak z", format="%.2f"),
        "mean_z": st.column_config.NumberColumn("mean z", format="%.2f"),
        "peak_token": "peak at token",
        "peak_speaker": "peak speaker",
        "n_tokens": "tokens",
        "n_turns": "turns",
    },
)
rows = picked.selection.rows if picked else []
chosen = table.iloc[rows[0]] if rows else (table.iloc[0] if len(table) else None)


def open_in_viewer(rid: str, emotion: str, token: int, model: str) -> None:
    """Runs before the next run (a button callback), so the model picker may still change."""
    text = transcript_text(scan, rid)
    for key, value in (("source", "Paste"), ("pasted", text)):
        st.session_state[key] = st.session_state[f"_kept_{key}"] = value
    st.session_state.viewer_focus = {"text": text, "emotion": emotion, "token": int(token)}
    st.session_state.pop("_choice-viewer", None)  # the viewer opens on this emotion, not the last one chosen there
    if model in available_models():
        st.session_state.model = model
    st.session_state._corpus_go = True


if st.session_state.pop("_corpus_go", False):
    st.switch_page("pages/1_Transcript_viewer.py")


if chosen is not None:
    with st.container(horizontal=True):
        st.button(
            f"Open {chosen.id} in the Transcript viewer at its peak (token {int(chosen.peak_token)})",
            type="primary",
            key="corpus_open",
            on_click=open_in_viewer,
            args=(str(chosen.id), name, int(chosen.peak_token), meta["model"]),
        )
fig = histogram(
    everything.value,
    f"{name}: {by} z over the corpus",
    f"{meta['model']} · {meta['summary_reading'] if by == 'mean' else meta['token_reading']} · {len(everything):,} transcripts",
    f"{by} z",
    None if chosen is None else float(chosen.value),
)
st.plotly_chart(fig, key="corpus_hist")
downloads(fig, table.to_dict("records"), f"corpus-{name.replace(' ', '_')}-{by}")
bad = errors(scan)
if bad:
    with st.expander(f"{len(bad)} records that could not be read"):
        st.dataframe(bad, hide_index=True)
