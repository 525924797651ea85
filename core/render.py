"""HTML highlights and plotly figures. Every piece of text is escaped before it is shown.

Colour: a diverging scale centred on zero, red where the emotion's signal rises above
neutral and blue where it falls below, as in the paper.
"""
from __future__ import annotations

import html

import numpy as np

from .plots import wrap
from .activations import SINK_TOKENS
from .probe import TokenScores, centred, smooth, top_emotions, transcript_scale

ROLE_LABELS = {"user": "User", "assistant": "Assistant", "system": "System", "text": "Text"}
MODES = {"transcript": "per-transcript scale (1 = 99th percentile |activation| across all emotions here)",
         "z": "z-score against {base} (full colour at |z| = {zmax:g})"}
BASE_WORDS = {"stories": "typical emotional text (the training stories)", "neutral": "neutral chat dialogues"}

CSS = """
.el-transcript{font-family:ui-sans-serif,system-ui,sans-serif;line-height:1.9;font-size:var(--el-size,15px)}
.el-turn{border-left:4px solid #ccc;margin:0 0 10px 0;padding:4px 10px;border-radius:4px;background:#fafafa}
.el-turn.user{border-color:#7a7a7a}.el-turn.assistant{border-color:#6b4fbb}.el-turn.system{border-color:#b08900}
.el-role{font-size:0.75em;font-weight:700;letter-spacing:.05em;text-transform:uppercase;color:#555;display:block}
summary.el-role{display:list-item;cursor:pointer}
.el-tok{white-space:pre-wrap;border-radius:3px;padding:1px 0;color:#111}
.el-hdr{font-size:0.7em;color:#777}
.el-legend{display:flex;align-items:center;gap:8px;font:13px ui-sans-serif,system-ui,sans-serif;margin:6px 0 12px 0}
.el-bar{width:220px;height:12px;border-radius:3px;background:linear-gradient(90deg,rgb(33,102,172),#fff,rgb(178,24,43))}
.el-caption{font:12px ui-sans-serif,system-ui,sans-serif;color:#555;margin-bottom:8px}
"""


def color(value: float) -> str:
    """``value`` in [-1, 1] → rgba: blue below zero, red above, transparent at zero."""
    v = float(np.clip(value, -1.0, 1.0))
    if np.isnan(v):
        v = 0.0
    r, g, b = (178, 24, 43) if v >= 0 else (33, 102, 172)
    return f"rgba({r},{g},{b},{abs(v) * 0.85:.3f})"


def display_values(ts: TokenScores, ev, emotion: str, mode: str = "transcript", window: int = 1,
                   zmax: float = 3.0) -> np.ndarray:
    """Values in [-1, 1] for colouring one emotion, in the paper's scale or as z.

    Position 0 is an attention sink whose activations dwarf every other token's and carry no
    meaning about the text: it is shown uncoloured and kept out of the scale and smoothing.
    """
    j = ts.emotions.index(emotion)
    if mode == "z":
        vals = ts.z[:, j] / zmax
    else:
        c = centred(ts)
        vals = c[:, j] / transcript_scale(c)
    vals = vals.copy()
    vals[:SINK_TOKENS] = 0.0
    vals[SINK_TOKENS:] = smooth(vals[SINK_TOKENS:], window)
    return np.clip(vals, -1, 1)


def _tooltip(ts: TokenScores, i: int, j: int) -> str:
    if i < SINK_TOKENS:
        return f"{ts.tokens[0]!r} · first token: an attention sink, not coloured"
    top = ", ".join(f"{e} {v:+.1f}" for e, v in top_emotions(ts.z[i], ts.emotions, 5))
    return (f"{ts.tokens[i]!r} · {ts.emotions[j]}: raw {ts.raw[i, j]:+.2f}, z {ts.z[i, j]:+.2f}"
            f" · top z: {top}")


def highlight_html(ts: TokenScores, emotion: str, values: np.ndarray, font_px: int = 15) -> str:
    """The transcript as escaped, coloured token spans inside labelled turn blocks."""
    j = ts.emotions.index(emotion)
    parts = [f'<div class="el-transcript" style="--el-size:{int(font_px)}px">']
    for span in ts.turns:
        label = html.escape(ROLE_LABELS.get(span.role, span.role))
        if span.role == "system":       # the system prompt: folded away, one click opens it
            parts.append(f'<details class="el-turn system"><summary class="el-role">{label} '
                         f'({span.end - span.start} tokens)</summary>')
        else:
            parts.append(f'<div class="el-turn {span.role}"><span class="el-role">{label}</span>')
        lo, hi = span.words
        for i in range(span.start, span.end):
            cls = "el-tok" if lo <= i < hi else "el-tok el-hdr"      # template markers small and grey
            parts.append(f'<span class="{cls}" data-i="{i}" style="background:{color(values[i])}" '
                         f'title="{html.escape(_tooltip(ts, i, j), quote=True)}">'
                         f'{html.escape(ts.tokens[i])}</span>')
        parts.append("</details>" if span.role == "system" else "</div>")
    parts.append("</div>")
    return "".join(parts)


def legend_html(emotion: str, mode: str, zmax: float = 3.0, plain: bool = False,
                baseline: str = "stories") -> str:
    e = html.escape(emotion)
    if plain:
        text = (f"<b>redder</b> = the model's internal '{e}' signal is stronger than usual here; "
                f"<b>bluer</b> = weaker than usual")
    else:
        text = f"{e}: " + html.escape(MODES[mode].format(zmax=zmax, base=BASE_WORDS[baseline]))
    return (f'<div class="el-legend"><span>−1 (blue)</span><span class="el-bar"></span>'
            f'<span>+1 (red)</span><span>{text}</span></div>')


def caption_html(caption: str) -> str:
    return f'<div class="el-caption">{html.escape(caption)}</div>'


def standalone_html(title: str, caption: str, body: str) -> str:
    """A self-contained page (inline CSS, no scripts, no external resources)."""
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>body{{max-width:900px;margin:24px auto;padding:0 16px}}{CSS}</style></head><body>"
            f"<h2 style='font-family:ui-sans-serif,system-ui,sans-serif'>{html.escape(title)}</h2>"
            f"{caption_html(caption)}{body}</body></html>")


def timeline_figure(ts: TokenScores, emotions: list[str], window: int = 1, caption: str = ""):
    """z of several emotions over token position, with turn boundaries marked."""
    import plotly.graph_objects as go
    fig = go.Figure()
    x = np.arange(SINK_TOKENS, len(ts.tokens))          # the attention sink left out
    for e in emotions:
        fig.add_trace(go.Scatter(x=x, y=smooth(ts.column(e)[SINK_TOKENS:], window), mode="lines", name=html.escape(e),
                                 text=[html.escape(t) for t in ts.tokens[SINK_TOKENS:]],
                                 hovertemplate=f"{html.escape(e)}: %{{y:.2f}}<br>token %{{x}}: %{{text}}<extra></extra>"))
    for span in ts.turns:
        fig.add_vline(x=span.start - 0.5, line_width=1, line_dash="dot", line_color="#999")
        fig.add_annotation(x=span.start, y=1.02, yref="paper", showarrow=False, xanchor="left",
                           text=ROLE_LABELS.get(span.role, span.role), font=dict(size=10, color="#666"))
    fig.add_hline(y=0, line_width=1, line_color="#bbb")
    fig.update_layout(height=360, margin=dict(l=10, r=10, t=80, b=10), xaxis_title="token position",
                      yaxis_title="z vs neutral", title=dict(text=wrap(caption), font=dict(size=12)),
                      legend=dict(orientation="h", y=-0.25))
    return fig


def scores_csv(ts: TokenScores, emotions: list[str]) -> str:
    """Per-token scores as CSV; the attention-sink token is flagged, since its values dwarf the rest."""
    import csv
    import io
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["position", "token", "speaker", "attention_sink"] + [f"{e} raw" for e in emotions]
                    + [f"{e} z" for e in emotions])
    for i, tok in enumerate(ts.tokens):
        writer.writerow([i, tok, ts.speakers[i], int(i < SINK_TOKENS)]
                        + [f"{ts.column(e, 'raw')[i]:.4f}" for e in emotions] + [f"{ts.column(e)[i]:.4f}" for e in emotions])
    return buf.getvalue()


def bars_figure(items: list[tuple[str, float]], title: str, height: int = 260, xlabel: str = "z"):
    import plotly.graph_objects as go
    names = [html.escape(n) for n, _ in items][::-1]
    vals = [v for _, v in items][::-1]
    fig = go.Figure(go.Bar(x=vals, y=names, orientation="h",
                           marker_color=["rgb(178,24,43)" if v >= 0 else "rgb(33,102,172)" for v in vals]))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=36, b=10), title=dict(text=html.escape(title), font=dict(size=12)),
                      xaxis_title=html.escape(xlabel))
    return fig
