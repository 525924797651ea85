"""HTML highlights and plotly figures. Every piece of text is escaped before it is shown.

Colour: a diverging scale centred on zero, red where the emotion's signal rises above
neutral and blue where it falls below, as in the paper.
"""

from __future__ import annotations

import base64
import html
import json

import numpy as np

from .activations import SINK_TOKENS
from .export import with_csp
from .families import strongest
from .paths import ASSETS
from .plots import text, wrap
from .scoring import TokenScores
from .summaries import smooth, transcript_scale
from .token_reading import SATURATION_Z

ROLE_LABELS = {"user": "User", "assistant": "Assistant", "system": "System", "text": "Text"}
MODES = {
    "transcript": "per-transcript scale (1 = 99th percentile |z| across all emotions here)",
    "z": "z per token: 0 = as in typical training text, ±1 = one token-level spread "
    "(full colour at |z| = {zmax:g}); grey tokens are chat markers, which no reading reads",
}

CSS = (ASSETS / "highlight.css").read_text()
HIGHLIGHT_JS = (ASSETS / "highlight.js").read_text()
PLAIN_LEGEND = "redder: the model's internal '{emotion}' signal is stronger than in typical text; bluer: weaker; white: as usual"
PLAIN_ENDS = ["much weaker than usual", "much stronger than usual"]


def color(value: float) -> str:
    """``value`` in [-1, 1] → rgba: blue below zero, red above, transparent at zero."""
    v = float(np.clip(value, -1.0, 1.0))
    if np.isnan(v):
        v = 0.0
    r, g, b = (178, 24, 43) if v >= 0 else (33, 102, 172)
    return f"rgba({r},{g},{b},{abs(v) * 0.85:.3f})"


def ink(value: float) -> str:
    """Black or white text over ``color(value)`` (on white), whichever contrasts more: at least
    4.5:1 (WCAG AA) at every value, where fixed dark text falls to 3.5:1 on full red."""
    v = 0.0 if np.isnan(value) else float(np.clip(value, -1.0, 1.0))
    a = abs(v) * 0.85
    rgb = np.array((178, 24, 43) if v >= 0 else (33, 102, 172), np.float64)
    c = (a * rgb + (1 - a) * 255) / 255
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    lum = float(lin @ (0.2126, 0.7152, 0.0722))
    return "#000" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "#fff"


def display_values(
    ts: TokenScores, emotion: str, mode: str = "z", window: int = 1, zmax: float = SATURATION_Z, families=None, source: str = "token"
) -> np.ndarray:
    """Values in [-1, 1] for colouring one emotion (or ``"<name> family"``, its strongest
    member), as z or on the paper's per-transcript scale, from what tokens show
    (``TokenScores.shown``). Chat markers and the attention sink read NaN: drawn grey, and
    kept out of the scale and the smoothing. ``source`` as in ``highlight_payload``."""
    z = ts.per_token(source)
    vals = family_or_emotion(z, ts.emotions, emotion, families).astype(np.float64)
    vals = vals / (zmax if mode == "z" else transcript_scale(z))
    read = ~np.isnan(vals)
    vals[read] = smooth(vals[read], window)
    return np.clip(vals, -1, 1)


def family_or_emotion(z: np.ndarray, emotions: list[str], choice: str, families=None) -> np.ndarray:
    """One column of ``z``: an emotion's, or a family's (its strongest member at each token)."""
    columns = families.columns(choice) if families is not None else None
    return z[:, emotions.index(choice)] if columns is None else strongest(z, columns)[0]


# Colour-blind-safe categorical colours with no pure red or blue (Dark2 and friends).
LINE_COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#555555"]
Z_SCALE = 100  # z travels to the browser as int16 hundredths (±327.67)
NOT_READ = -32768  # a token no reading reads (chat markers, the attention sink): drawn grey


def highlight_payload(
    ts: TokenScores,
    emotion: str,
    mode: str = "z",
    window: int = 1,
    *,
    key: str = "view",
    plain: bool = False,
    controls: bool = True,
    markers: bool = True,
    font_px: int = 15,
    zmax: float = SATURATION_Z,
    families=None,
    source: str = "token",
) -> dict:
    """Everything the browser needs to draw a transcript and recolour it without Python.

    What tokens show (``TokenScores.shown``) for all emotions goes once, as base64 int16
    hundredths (~0.35 MB per 1,000 tokens); families travel as names and each emotion's family,
    so choosing a family and the hover cards' "family · member" need no round trip. Colours
    computed in the browser match ``display_values`` and ``color``. ``source="summary"`` colours
    by the summary reading per token instead (researchers comparing readings and layers).
    """
    choices = ts.emotions + (families.labels if families is not None else [])
    if emotion not in choices:
        emotion = ts.emotions[0]
    shown = ts.per_token(source)
    z = np.where(np.isnan(shown), NOT_READ, np.clip(np.nan_to_num(shown) * Z_SCALE, -32767, 32767).round())
    fam = {"names": list(families.names), "of": families.of.tolist()} if families is not None else None
    return {
        "key": key,
        "emotions": list(ts.emotions),
        "tokens": list(ts.tokens),
        "families": fam,
        "turns": [
            {"role": t.role, "label": ROLE_LABELS.get(t.role, t.role), "start": t.start, "end": t.end, "lo": t.words[0], "hi": t.words[1]}
            for t in ts.turns
        ],
        "z": base64.b64encode(z.astype("<i2").tobytes()).decode("ascii"),
        "zscale": Z_SCALE,
        "zmax": zmax,
        "missing": NOT_READ,
        "scale": transcript_scale(shown),
        "initial": {"emotion": emotion, "mode": mode, "window": int(window), "markers": bool(markers)},
        "plain": bool(plain),
        "controls": bool(controls),
        "font_px": int(font_px),
        "legend": {
            "transcript": MODES["transcript"],
            "plain": PLAIN_LEGEND,
            "z": MODES["z"].format(zmax=zmax),
            "ends": {"plain": PLAIN_ENDS, "transcript": ["−1 (blue)", "+1 (red)"], "z": [f"z −{zmax:g} (blue)", f"z +{zmax:g} (red)"]},
        },
        "caption": f"{ts.meta.get('token_method') if source == 'token' else ts.meta.get('method', '')} · {len(ts.tokens):,} tokens",
    }


def script_json(data) -> str:
    """JSON safe inside a <script> element: no '<', '>' or '&' can end it or start markup."""
    return (
        json.dumps(data, ensure_ascii=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def interactive_html(title: str, payload: dict) -> str:
    """A self-contained page that recolours like the app: inline CSS, script and data, nothing fetched."""
    return with_csp(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>body{{max-width:900px;margin:24px auto;padding:0 16px}}{CSS}</style></head><body>"
        f"<h2 style='font-family:ui-sans-serif,system-ui,sans-serif'>{html.escape(title)}</h2>"
        f"<div id='el-root'></div><script type='application/json' id='el-data'>{script_json(payload)}</script>"
        f"<script>{HIGHLIGHT_JS}\nmountHighlights(document.getElementById('el-root'), "
        f"JSON.parse(document.getElementById('el-data').textContent));</script></body></html>"
    )


def caption_html(caption: str, cls: str = "el-caption") -> str:
    return f'<div class="{cls}">{html.escape(caption)}</div>'


def timeline_figure(ts: TokenScores, emotions: list[str], window: int = 1, caption: str = "", families=None):
    """What tokens show for several emotions (or families) over token position, smoothed over
    the tokens a reading reads, with turn boundaries marked and gaps at chat markers.

    Line colours avoid red and blue, which mean "up" and "down" everywhere else in the app.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    x = np.arange(SINK_TOKENS, len(ts.tokens))  # the attention sink left out
    for k, e in enumerate(emotions):
        y = family_or_emotion(ts.shown, ts.emotions, e, families)[SINK_TOKENS:].astype(np.float64)
        read = ~np.isnan(y)
        y[read] = smooth(y[read], window)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                name=text(e),
                connectgaps=False,
                line=dict(color=LINE_COLOURS[k % len(LINE_COLOURS)], width=2),
                text=[text(t) for t in ts.tokens[SINK_TOKENS:]],
                hovertemplate=f"{text(e)}: %{{y:.2f}}<br>token %{{x}}: %{{text}}<extra></extra>",
            )
        )
    for span in ts.turns:
        fig.add_vline(x=span.start - 0.5, line_width=1, line_dash="dot", line_color="#999")
        fig.add_annotation(
            x=span.start,
            y=1.02,
            yref="paper",
            showarrow=False,
            xanchor="left",
            text=ROLE_LABELS.get(span.role, span.role),
            font=dict(size=10, color="#666"),
        )
    fig.add_hline(y=0, line_width=1, line_color="#bbb")
    fig.update_layout(
        height=360,
        margin=dict(l=10, r=10, t=80, b=10),
        xaxis_title="token position",
        yaxis_title=f"z, mean over {window} tokens" if window > 1 else "z",
        title=dict(text=wrap(caption, 110), font=dict(size=12)),
        legend=dict(orientation="h", y=-0.25),
    )
    return fig


def bars_figure(items: list[tuple[str, float]], title: str, height: int = 260, xlabel: str = "z"):
    import plotly.graph_objects as go

    names = [text(n) for n, _ in items][::-1]
    vals = [v for _, v in items][::-1]
    fig = go.Figure(
        go.Bar(x=vals, y=names, orientation="h", marker_color=["rgb(178,24,43)" if v >= 0 else "rgb(33,102,172)" for v in vals])
    )
    fig.update_layout(
        height=height, margin=dict(l=10, r=10, t=36, b=10), title=dict(text=wrap(title, 90), font=dict(size=12)), xaxis_title=text(xlabel)
    )
    return fig


def live_html(tokens: list[str], values: list[float], flagged_at: set[int], zmax: float = SATURATION_Z) -> str:
    """A reply being written, coloured by one emotion's (or family's) z per token; tokens that
    crossed a watch threshold are outlined. Escaped: the reply is model output, untrusted text."""
    spans = []
    for i, (tok, v) in enumerate(zip(tokens, values)):
        cls = "el-tok el-flag" if i in flagged_at else "el-tok"
        spans.append(
            f'<span class="{cls}" style="background:{color(float(v) / zmax)};color:{ink(float(v) / zmax)}">{html.escape(tok)}</span>'
        )
    return f'<div class="el-transcript el-live">{"".join(spans)}</div>'
