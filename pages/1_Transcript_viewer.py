"""Transcript viewer: paste or pick a conversation, see any emotion token by token."""

import contextlib
import hashlib
import json
import re

import pandas as pd
import streamlit as st

from app_state import chosen, current_model, get_forward, highlight_view, keep, kept, reading_help, user_errors, what
from core import EmotionLensError
from core.corpus import load_examples
from core.export import scores_csv
from core.render import bars_figure, caption_html, highlight_payload, interactive_html, timeline_figure
from core.scoring import scores_from
from core.summaries import extremes, mean_z_difference, named, turn_means, turn_table
from core.transcript import MAX_CHARS, MAX_FILE_BYTES, read_transcript_file
from core.vectors import BASELINE_LABELS, BASELINES, KIND_LABELS, READING_KINDS

CHART_EMOTIONS = ["afraid", "calm", "desperate", "happy"]


@st.cache_data(show_spinner=False)
def examples():
    return [(e.slug, e.title, e.caption, json.dumps(list(e.messages))) for e in load_examples()]


def export_stem(model: str, label: str | None, text: str, emotion: str) -> str:
    """emotion-lens-<model>-<transcript>-<emotion>: a name that tells downloads apart (a paste is
    named by a hash of its text)."""
    subject = label if label and label != "pasted" else "pasted-" + hashlib.sha256(text.encode()).hexdigest()[:8]
    slug = lambda s: re.sub(r"[^A-Za-z0-9]+", "-", s).strip("-")[:40] or "transcript"
    return f"emotion-lens-{model}-{slug(subject.rsplit('.', 1)[0])}-{slug(emotion)}"


# --- sidebar: reading, layer, presentation --------------------------------------------------
name, lm, ev = current_model()
kinds = [k for k in READING_KINDS if k == "concept" or ev.has_readout]
kind = st.sidebar.radio(
    "Reading",
    kinds,
    key="kind",
    format_func=KIND_LABELS.get,
    help="Readout: directions fitted to tell the 171 emotions apart. Concept vectors: the paper's mean-difference directions.",
)
st.sidebar.caption(reading_help(ev))
baseline = st.sidebar.radio(
    "z against",
    BASELINES,
    key="baseline",
    format_func=BASELINE_LABELS.get,
    help="Stories: 0 = as in typical emotional text, so emotions compare fairly with each "
    "other. Neutral chat: 0 = as in plain assistant dialogue (the paper's baseline).",
)
default_layer = ev.reading_layer(kind)
layer = st.sidebar.slider(
    "Layer",
    0,
    ev.n_layers - 1,
    default_layer,
    key=f"layer-{kind}",
    help=f"Default {default_layer}: "
    + ("chosen by cross-validation on the stories" if kind == "readout" else "about two-thirds deep, as in the paper")
    + ". Every layer was read in the same forward pass: switching does not re-run the model.",
)
colour_by = st.sidebar.radio(
    "Colour tokens by",
    ["token", "summary"],
    key="colour_by",
    format_func={"token": "the token reading (default)", "summary": "the reading and layer above"}.get,
    help="The token reading is fitted and calibrated on single tokens, so colours and "
    "hover cards agree with the words. The reading above is calibrated on whole "
    "texts: token by token it saturates; shown for comparing readings and layers.",
)
present = st.sidebar.toggle("Presentation mode", key="present", help="Full width, large type, a plain legend, chat markers hidden")

gallery = examples()
titles = [g[1] for g in gallery]


def scores(text):
    return scores_from(get_forward(name, text), ev, layer, kind, baseline)


def looks(view: str, fallback: dict | None = None) -> dict:
    """What a view shows first: the reader's last choice there (or in ``fallback``), else afraid."""
    got = chosen(view) or fallback or {}
    return {"emotion": got.get("emotion", "afraid"), "mode": got.get("mode", "z"), "window": int(got.get("window", 1))}


# --- presentation mode: any transcript, full width ------------------------------------------
if present:
    st.html(
        "<style>[data-testid='stSidebar'],[data-testid='stSidebarCollapsedControl'],[data-testid='stHeader'],"
        "[data-testid='stExpandSidebarButton']{display:none} .stMainBlockContainer{padding-top:.75rem}</style>"
    )
    own = st.session_state.get("viewer_text")
    examples_deck = [(g[1], g[2], g[3]) for g in gallery]
    deck = ([("Your transcript", "", own)] if own and own not in [g[3] for g in gallery] else []) + examples_deck
    step = st.session_state.setdefault("present_step", 0) % len(deck)
    with st.container(key="present_bar"):  # stays on screen (app.css): a clicker's keys press these
        c1, c2, c3, c4 = st.columns([1.5, 6, 1.5, 0.8], vertical_alignment="center")
        if c1.button("◀ Previous", key="prev", width="stretch", type="primary"):
            step = (step - 1) % len(deck)
        if c3.button("Next ▶", key="next", width="stretch", type="primary"):
            step = (step + 1) % len(deck)
        st.session_state.present_step = step
        c4.button("Exit", key="exit_present", on_click=lambda: st.session_state.update(present=False), width="stretch")
        title, caption, text = deck[step]
        c2.markdown(f"### {title} <span class='el-badge'>{step + 1} / {len(deck)}</span>", unsafe_allow_html=True)
    if caption:
        st.markdown(caption_html(caption, "el-present-caption"), unsafe_allow_html=True)
    look = looks("present", chosen("viewer"))
    with user_errors():
        ts = scores(text)
        payload = highlight_payload(ts, look["emotion"], key="present", plain=True, markers=False, font_px=24, families=ev.families)
        highlight_view(payload | {"slides": True})
    with contextlib.suppress(EmotionLensError):  # read the next slide ahead, so Next is instant (its own errors show there)
        scores(deck[(step + 1) % len(deck)][2])
    st.stop()

# --- input ----------------------------------------------------------------------------------
st.title("Transcript viewer")
# Every input survives presentation mode and other pages (kept): Streamlit forgets undrawn widgets.
source = st.radio("Input", ["Example", "Paste", "Upload"], horizontal=True, **kept("source", "Example"))
keep("source")
text, label = None, None
with user_errors():
    if source == "Example":
        pick = st.selectbox("Example transcript", range(len(gallery)), format_func=titles.__getitem__, **kept("example", 0))
        keep("example")
        st.caption(gallery[pick][2])
        text, label = gallery[pick][3], gallery[pick][0]
    elif source == "Paste":
        # What limits a transcript is the model's context, counted in tokens below.
        text = st.text_area(
            "Transcript",
            height=200,
            **kept("pasted", ""),
            max_chars=MAX_CHARS,
            placeholder='Plain text, or turns starting with User: / Assistant:, or JSON chat messages [{"role": …, "content": …}]',
        )
        keep("pasted")
        st.button("Read the transcript", type="primary", key="read_paste", help="or press Ctrl+Enter in the box")
        label = "pasted"
    else:
        upload = st.file_uploader(
            "Transcript file",
            type=["txt", "json", "jsonl"],
            key="upload",
            help=f"Up to {MAX_FILE_BYTES // 1000:,} KB of UTF-8 text ({MAX_CHARS:,} characters). A .json or .jsonl "
            'file holds chat messages: [{"role": "user", "content": …}, …], or one message per line.',
        )
        if upload:
            st.session_state.viewer_upload = (upload.name, read_transcript_file(upload.getvalue(), upload.name))
        elif st.session_state.get("viewer_upload"):
            st.caption(f"Showing {st.session_state.viewer_upload[0]}, uploaded earlier: upload another to replace it.")
        label, text = st.session_state.get("viewer_upload") or (None, None)
if not text or not text.strip():
    st.info("Choose an example, paste a transcript and press **Read the transcript**, or upload a file.")
    st.stop()
st.session_state.viewer_text = text  # presentation mode shows it too

with user_errors():
    with st.spinner("Reading the transcript with the model…"):
        ts = scores(text)
st.caption(f"{ts.meta['method']} · {len(ts.tokens):,} of the {lm.max_tokens:,} tokens {name} reads at once")
if ts.meta.get("note"):
    st.warning(ts.meta["note"])

tab_hl, tab_top, tab_line, tab_cmp, tab_exp = st.tabs(["Highlights", "Top emotions", "Over time", "Compare", "Export"])

with tab_hl:
    what(
        "how strongly the model's internal signal for one emotion (or a family of near-synonyms) is active "
        "at each token, read by the token-level reading: a running impression over the last few tokens, "
        "calibrated on single tokens so ±3 is rare. Switch the emotion, scale and smoothing above the text; "
        "hover a token for its value and its five strongest emotions with their families. Small grey tokens "
        "are the chat template's markers: the model reads them, no reading colours them."
    )
    # Opened from the Corpus page: that emotion, scrolled to the transcript's peak token.
    focus = st.session_state.get("viewer_focus")
    focus = focus if focus and focus.get("text") == text and 0 <= focus.get("token", -1) < len(ts.tokens) else None
    look = looks("viewer", {"emotion": focus["emotion"]} if focus else None)
    payload = highlight_payload(ts, look["emotion"], look["mode"], look["window"], key="viewer", families=ev.families, source=colour_by)
    highlight_view(payload | ({"focus": focus["token"]} if focus else {}))
    st.caption(f"Colours: {ts.meta['token_method'] if colour_by == 'token' else ts.meta['method'] + ', per token'}")

with tab_top:
    what(
        "for each turn, the emotions whose signal is furthest above the baseline on average over the "
        "turn's words (the summary reading set in the sidebar; chat markers left out), each with its family."
    )
    rows = turn_table(ts, 4, ev.families)
    st.table(pd.DataFrame(rows).set_index("turn"))
    first_user = next((k for k, t in enumerate(ts.turns) if t.role == "user"), 0)
    pick = st.selectbox("Turn", range(len(rows)), index=first_user, key="turn_pick", format_func=lambda i: rows[i]["turn"])
    means = turn_means(ts)[pick][1]
    bars = [(named(e, ts.emotions, ev.families), v) for e, v in extremes(means, ts.emotions, 8, 4)]
    st.plotly_chart(bars_figure(bars, f"{rows[pick]['turn']}: most above and below baseline", 420, "mean z"), key="turnbars")
    st.caption(f"Mean z over the turn's words · {ts.meta['method']}")


@st.fragment
def over_time():
    c1, c2 = st.columns([3, 1])
    chosen = c1.multiselect(
        "Emotions or families",
        ev.emotions + ev.families.labels,
        [e for e in CHART_EMOTIONS if e in ev.emotions],
        key="emotions",
        max_selections=8,
    )
    window = c2.select_slider("Smoothing (tokens)", [1, 3, 5, 9, 15, 25, 51], value=9 if len(ts.tokens) < 400 else 25, key="line_smooth")
    what(
        "each emotion's token-level z over the transcript (a family: its strongest member), averaged over a "
        "sliding window of tokens so trends show through token-level noise. Dotted lines mark where turns begin; "
        "chat markers leave gaps."
    )
    if chosen:
        st.plotly_chart(timeline_figure(ts, chosen, window, ts.meta["token_method"], ev.families), key="timeline")


with tab_line:
    over_time()


@st.fragment
def compare():
    what(
        "two transcripts coloured by z on one shared scale (e.g. the 1000 mg and 8000 mg "
        "Tylenol conversations), and which emotions read higher on each side."
    )
    emotion = st.selectbox("Emotion", ev.emotions, index=ev.emotions.index("afraid"), key="cmp_emotion")
    choices = ["Your input (above)"] + titles
    default_a = 1 + next((i for i, g in enumerate(gallery) if "tylenol_safe" in g[0]), 0)
    default_b = 1 + next((i for i, g in enumerate(gallery) if "overdose" in g[0]), 1)
    sides = []
    with user_errors():
        for col, key, default in zip(st.columns(2), ("cmp_a", "cmp_b"), (default_a, default_b)):
            with col:
                pick = st.selectbox("Transcript", range(len(choices)), index=default, format_func=choices.__getitem__, key=key)
                other = ts if pick == 0 else scores(gallery[pick - 1][3])
                st.metric(f"mean z of {emotion}", f"{other.mean_z()[emotion]:+.2f}")
                highlight_view(highlight_payload(other, emotion, "z", key=key, controls=False, families=ev.families))
                sides.append(other)
    diff = mean_z_difference(*sides)
    st.plotly_chart(
        bars_figure(
            extremes(diff, ev.emotions, 8, 8),
            "right minus left: mean z difference (red: higher on the right; blue: higher on the left)",
            480,
            "mean z, right − left",
        ),
        key="cmpdiff",
    )


with tab_cmp:
    compare()

with tab_exp:
    look = looks("viewer")
    family = ev.families.columns(look["emotion"])
    columns = [ev.emotions[j] for j in family] if family is not None else [look["emotion"]]
    columns += [e for e in st.session_state.get("emotions") or CHART_EMOTIONS if e in ts.emotions and e not in columns]
    stem = export_stem(name, label, text, look["emotion"])
    st.caption(
        f"Downloads are made when you click, from the reading shown above; the page opens on "
        f"**{look['emotion']}**, as the highlights do now."
    )
    title = f"Emotion Lens · {name} · {label}"
    st.download_button(
        "Highlighted transcript (HTML: all 171 emotions, works offline)",
        lambda: interactive_html(  # made on click, not on every run: it encodes every emotion's z again
            title,
            highlight_payload(ts, look["emotion"], look["mode"], look["window"], key="export", families=ev.families, source=colour_by),
        ),
        f"{stem}.html",
        "text/html",
        on_click="ignore",
    )
    st.download_button(
        f"Scores of {', '.join(columns[:3])}{' …' if len(columns) > 3 else ''} (CSV)",
        lambda: scores_csv(ts, columns),
        f"{stem}.csv",
        "text/csv",
        on_click="ignore",
        help="the highlighted emotion (a family: all its members) and the Over time chart's emotions",
    )
    st.download_button(
        "Scores of all emotions (JSON)", lambda: json.dumps(ts.to_json()), f"{stem}.json", "application/json", on_click="ignore"
    )
