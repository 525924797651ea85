"""What every Streamlit page shares: cached model/vectors/forward passes and the model picker.

Pages read widgets, call ``core`` and draw; the expensive objects live here, once per
process (``st.cache_resource``), keyed so that one user's input never reaches another's.
"""
from __future__ import annotations

import os
from contextlib import contextmanager

import streamlit as st

from core import DEFAULT_MODEL, EmotionLensError, PRESETS, load_model, load_vectors
from core.paths import ASSETS
from core.render import CSS
from core.probe import forward
from core.vectors import vectors_dir

MAX_FORWARD_CACHE = 24


def available_models() -> list[str]:
    return [name for name in PRESETS if (vectors_dir(name) / "meta.json").exists()]


@st.cache_resource(show_spinner=False)
def get_model(name: str):
    return load_model(name)


@st.cache_resource(show_spinner=False)
def get_vectors(name: str):
    return load_vectors(get_model(name))


@st.cache_resource(show_spinner=False, max_entries=MAX_FORWARD_CACHE)
def get_forward(name: str, text: str):
    """All layers for one input, computed once: switching emotion or layer re-projects only."""
    lm = get_model(name)
    return forward(lm, text, range(lm.n_layers))


def load_with_spinner(name: str):
    """Model and vectors, with a visible message on the slow first load."""
    with st.spinner(f"Loading {name} (the very first start converts its weights: up to a minute)…"):
        return get_model(name), get_vectors(name)


def model_picker(key: str = "model", label: str = "Model", sidebar: bool = True) -> str:
    models = available_models()
    if not models:
        st.error("No emotion vectors found in cached_vectors/. Build them with `python -m core build`.")
        st.stop()
    default = os.environ.get("EMOTION_LENS_MODEL", DEFAULT_MODEL)
    if key not in st.session_state:
        st.session_state[key] = default if default in models else models[0]
    where = st.sidebar if sidebar else st
    return where.selectbox(label, models, key=key, help="Shipped models with committed emotion vectors")


def page_setup(title: str, icon: str = "🔎") -> None:
    st.set_page_config(page_title=f"{title} · Emotion Lens", page_icon=icon, layout="wide")
    st.markdown(f"<style>{CSS}{(ASSETS / 'app.css').read_text()}</style>", unsafe_allow_html=True)


def page_header(title: str, icon: str):
    """Page config, title, model picker and the loaded model and vectors: every page starts so."""
    page_setup(title, icon)
    st.title(title)
    name = model_picker()
    with user_errors():
        lm, ev = load_with_spinner(name)
    return name, lm, ev


@contextmanager
def user_errors():
    """Show problems as one Streamlit message, never a traceback."""
    try:
        yield
    except EmotionLensError as exc:
        st.error(str(exc))
        st.stop()
    except Exception as exc:   # a bug: still one line for the user
        st.error(f"Something went wrong: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
        st.stop()


@st.cache_data(show_spinner=False)
def geometry(name: str, layer: int, k: int = 10) -> dict:
    """Similarity, PCA and clusters of one model's vectors at one layer (derived arrays only).

    PC signs are arbitrary: PC1 is oriented to rise with human valence, as in the paper.
    """
    from core import geometry as g
    ev = get_vectors(name)
    v = ev.at(layer)
    p = g.pca(v, 10)
    scores = p.scores.copy()
    scores[:, 0] = g.orient(scores[:, 0], vader(tuple(ev.emotions)).valence)
    labels = g.kmeans(v, k)
    return {"sim": g.cosine_matrix(v), "scores": scores, "explained": p.explained, "labels": labels,
            "names": g.cluster_names(v, labels, ev.emotions)}


@st.cache_data(show_spinner=False)
def vader(emotions: tuple[str, ...]):
    from core.ratings import vader_valence
    return vader_valence(list(emotions))


@st.cache_data(show_spinner=False)
def warriner_ratings(emotions: tuple[str, ...]):
    from core.ratings import warriner
    return warriner(list(emotions))


@st.cache_data(show_spinner=False)
def affect(name: str, layer: int) -> dict:
    from core.ratings import affect_plane
    ev = get_vectors(name)
    return affect_plane(ev.at(layer), warriner_ratings(tuple(ev.emotions)))


def reading_help(ev) -> str:
    from core.validate import load_report, reading_summary
    return reading_summary(load_report(vectors_dir(ev.model_name)))


def layer_picker(ev, key: str = "layer") -> int:
    return st.sidebar.slider("Layer", 0, ev.n_layers - 1, ev.default_layer, key=key,
                             help=f"Default {ev.default_layer}: about two-thirds deep")


def downloads(fig, rows, stem: str) -> None:
    """CSV of the data behind a figure and the figure itself as a standalone HTML file."""
    import pandas as pd
    c1, c2, _ = st.columns([1, 1, 4])
    c1.download_button("Data (CSV)", pd.DataFrame(rows).to_csv(index=False), f"{stem}.csv", "text/csv",
                       key=f"csv-{stem}", on_click="ignore")
    c2.download_button("Figure (HTML)", lambda: fig.to_html(include_plotlyjs=True, full_html=True),
                       f"{stem}.html", "text/html", key=f"html-{stem}", on_click="ignore")
