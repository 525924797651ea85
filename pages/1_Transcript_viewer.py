"""Transcript viewer: paste or pick a conversation, see one emotion token by token."""
import json

import numpy as np
import streamlit as st

from app_state import get_forward, load_with_spinner, model_picker, page_setup, reading_help, user_errors
from core.corpus import load_examples
from core.probe import assistant_colon, extremes, scores_from, top_emotions, turn_means
from core.render import (bars_figure, caption_html, display_values, highlight_html, legend_html, scores_csv,
                         standalone_html, timeline_figure)
from core.transcript import decode_text_file
from core.vectors import BASELINE_LABELS, BASELINES, KIND_LABELS, KINDS

DEFAULT_EMOTIONS = ["afraid", "calm", "desperate", "happy", "loving", "angry", "surprised"]

page_setup("Transcript viewer", "🖍️")


@st.cache_data(show_spinner=False)
def examples():
    return [(e.slug, e.title, e.caption, json.dumps(list(e.messages))) for e in load_examples()]


# --- sidebar: model, layer, emotions, display -------------------------------------------
name = model_picker()
with user_errors():
    lm, ev = load_with_spinner(name)
kinds = [k for k in KINDS if k == "concept" or ev.has_readout]
kind = st.sidebar.radio("Reading", kinds, key="kind", format_func=KIND_LABELS.get,
                        help="Readout: directions fitted to tell the 171 emotions apart. "
                             "Concept vectors: the paper's mean-difference directions.")
st.sidebar.caption(reading_help(ev))
baseline = st.sidebar.radio("z against", BASELINES, key="baseline", format_func=BASELINE_LABELS.get,
                            help="Stories: 0 = as in typical emotional text, so emotions compare fairly with each "
                                 "other. Neutral chat: 0 = as in plain assistant dialogue (the paper's baseline).")
default_layer = ev.reading_layer(kind)
layer = st.sidebar.slider("Layer", 0, ev.n_layers - 1, default_layer, key=f"layer-{kind}",
                          help=f"Default {default_layer}: " + ("chosen by cross-validation on the stories"
                               if kind == "readout" else "about two-thirds deep, as in the paper"))
chosen = st.sidebar.multiselect("Emotions (for charts)", ev.emotions,
                                [e for e in DEFAULT_EMOTIONS if e in ev.emotions], key="emotions")
highlight = st.sidebar.selectbox("Highlight emotion", ev.emotions,
                                 index=ev.emotions.index("afraid"), key="highlight")
mode = st.sidebar.radio("Colour scale", ["transcript", "z"], key="mode",
                        format_func={"transcript": "Per transcript (paper)", "z": "z (full colour at ±3)"}.get)
window = st.sidebar.slider("Smoothing (tokens)", 1, 9, 1, step=2, key="smooth")
present = st.sidebar.toggle("Presentation mode", key="present",
                            help="Large type, one emotion, a plain-language legend, step through the examples")

gallery = examples()
titles = [g[1] for g in gallery]

# --- presentation mode ------------------------------------------------------------------
if present:
    step = st.session_state.setdefault("present_step", 0) % len(gallery)
    c1, c2, c3 = st.columns([1, 6, 1])
    if c1.button("◀ Previous", key="prev"):
        st.session_state.present_step = step = (step - 1) % len(gallery)
    if c3.button("Next ▶", key="next"):
        st.session_state.present_step = step = (step + 1) % len(gallery)
    slug, title, caption, messages = gallery[step]
    c2.markdown(f"## {title}")
    st.markdown(f'<div class="el-present-caption">{caption_html(caption)}</div>', unsafe_allow_html=True)
    with user_errors():
        ts = scores_from(get_forward(name, messages), ev, layer, kind, baseline)
        values = display_values(ts, ev, highlight, mode, window)
        st.markdown(legend_html(highlight, mode, plain=True, baseline=baseline), unsafe_allow_html=True)
        st.markdown(f'<div class="el-present">{highlight_html(ts, highlight, values, font_px=26)}</div>',
                    unsafe_allow_html=True)
    st.caption(ts.meta["method"])
    st.stop()

# --- input -------------------------------------------------------------------------------
st.title("Transcript viewer")
source = st.radio("Input", ["Example", "Paste", "Upload"], horizontal=True, key="source")
text = None
with user_errors():
    if source == "Example":
        pick = st.selectbox("Example transcript", range(len(gallery)), format_func=titles.__getitem__, key="example")
        st.caption(gallery[pick][2])
        text = gallery[pick][3]
    elif source == "Paste":
        # No character counter: what limits a transcript is the model's context, counted in tokens
        # below; the parser refuses pastes over 200,000 characters with a message.
        text = st.text_area("Transcript", height=200, key="pasted",
                            placeholder="Plain text, or turns starting with User: / Assistant:, "
                                        "or JSON chat messages [{\"role\": …, \"content\": …}]")
    else:
        upload = st.file_uploader("Transcript file", type=["txt", "json", "jsonl"], key="upload")
        text = decode_text_file(upload.getvalue(), upload.name) if upload else None
if not text or not text.strip():
    st.info("Choose an example, paste a transcript, or upload a file.")
    st.stop()

with user_errors():
    with st.spinner("Reading the transcript with the model…"):
        fw = get_forward(name, text)
    ts = scores_from(fw, ev, layer, kind, baseline)
st.caption(f"{ts.meta['method']} · {len(ts.tokens):,} of the {lm.max_tokens:,} tokens {name} reads at once")
if ts.meta.get("note"):
    st.warning(ts.meta["note"])

tab_hl, tab_top, tab_line, tab_cmp, tab_exp = st.tabs(
    ["Highlights", "Top emotions", "Over time", "Compare", "Export"])

with tab_hl:
    values = display_values(ts, ev, highlight, mode, window)
    st.markdown(legend_html(highlight, mode, baseline=baseline), unsafe_allow_html=True)
    st.markdown(highlight_html(ts, highlight, values), unsafe_allow_html=True)
    st.caption("Hover a token for its raw and z values and its top-5 emotions. Small grey tokens are "
               "the chat template's markers, which the model reads too.")

with tab_top:
    for span, means in turn_means(ts):
        st.plotly_chart(bars_figure(top_emotions(means, ts.emotions, 8),
                                    f"{span.role.title()} turn (tokens {span.start}–{span.end - 1}): "
                                    f"emotions most above baseline (mean z)"), key=f"turn{span.start}")
    colon = assistant_colon(ts)
    if colon:
        st.markdown("**At the start of each Assistant reply** (the token before its words, the paper's "
                    "“Assistant colon” position, where the model prepares its reply):")
        for span, z in colon:
            st.plotly_chart(bars_figure(top_emotions(z, ts.emotions, 8),
                                        f"before the reply at token {span.reply_start}"), key=f"colon{span.start}")
    st.caption(ts.meta["method"])

with tab_line:
    if chosen:
        st.plotly_chart(timeline_figure(ts, chosen, window, ts.meta["method"]), key="timeline")
    else:
        st.info("Pick emotions in the sidebar.")

with tab_cmp:
    st.markdown("Two transcripts side by side, coloured by z (against the baseline chosen in the sidebar) so "
                "they share one scale (e.g. the 1000 mg and 8000 mg Tylenol conversations).")
    a_col, b_col = st.columns(2)
    choices = ["Your input (above)"] + titles
    default_a = 1 + next((i for i, g in enumerate(gallery) if "tylenol_safe" in g[0]), 0)
    default_b = 1 + next((i for i, g in enumerate(gallery) if "overdose" in g[0]), 1)
    with user_errors():
        sides = []
        for col, key, default in ((a_col, "cmp_a", default_a), (b_col, "cmp_b", default_b)):
            pick = col.selectbox("Transcript", range(len(choices)), index=default,
                                 format_func=choices.__getitem__, key=key)
            other = ts if pick == 0 else scores_from(get_forward(name, gallery[pick - 1][3]), ev, layer, kind, baseline)
            col.markdown(highlight_html(other, highlight, display_values(other, ev, highlight, "z", window)),
                         unsafe_allow_html=True)
            col.metric(f"mean z of {highlight}", f"{other.mean_z()[highlight]:+.2f}")
            sides.append(other)
        diff = np.array([sides[1].mean_z()[e] - sides[0].mean_z()[e] for e in ev.emotions])
        st.plotly_chart(bars_figure(extremes(diff, ev.emotions, 8, 8), "right minus left: mean z difference "
                                    "(red: higher on the right; blue: higher on the left)", 480, "mean z, right − left"),
                        key="cmpdiff")
        st.caption(ts.meta["method"])

with tab_exp:
    title = "Emotion Lens: " + highlight
    page = standalone_html(title, ts.meta["method"],
                           legend_html(highlight, mode, baseline=baseline) + highlight_html(ts, highlight, values))
    st.download_button("Highlighted transcript (HTML, works offline)", page, "emotion-lens.html", "text/html")
    st.download_button("Scores (CSV)", scores_csv(ts, chosen or [highlight]), "emotion-lens-scores.csv", "text/csv")
    st.download_button("Scores (JSON, all emotions)", json.dumps(ts.to_json()), "emotion-lens-scores.json",
                       "application/json")
