"""Plotly figures for the geometry pages; every label is escaped, every title names its source."""

from __future__ import annotations

import html
import textwrap

import numpy as np

PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
    "#7b4173",
    "#3182bd",
    "#e6550d",
    "#31a354",
    "#756bb1",
    "#636363",
]


def text(x) -> str:
    """Escape text for plotly, which reads a little HTML in labels but never decodes quotes:
    '<', '>' and '&' are escaped, quotes are left as they are (else users see &quot;)."""
    return html.escape(str(x), quote=False)


def _e(items):
    return [text(x) for x in items]


def wrap(caption: str, width: int = 120) -> str:
    """Escape and wrap a caption so plotly shows all of it (titles do not wrap by themselves)."""
    return "<br>".join(text(line) for line in textwrap.wrap(caption, width))


def _title(fig, title: str, caption: str, height: int, width: int = 120):
    """Title plus a small-print caption (model, layer, method), wrapped to ``width`` characters:
    about 120 for a full-width figure, 60 for one in half a page."""
    lines = wrap(caption, width)
    fig.update_layout(
        title=dict(
            text=f"{text(title)}<br><sup>{lines.replace('<br>', '</sup><br><sup>')}</sup>",
            font=dict(size=14),
            yref="container",
            y=1,
            yanchor="top",
            pad=dict(t=10),
        ),
        height=height,
        margin=dict(l=10, r=10, t=56 + 18 * (lines.count("<br>") + 1), b=10),
    )
    return fig


def cluster_colour(c: int) -> str:
    """One colour per cluster number, the same on every page."""
    return PALETTE[c % len(PALETTE)]


def scatter(x, y, labels, groups, group_names, title, caption, xlab, ylab, height=620, show_text=True, width=120):
    """Points coloured by cluster number; labels only where they do not overlap (hover shows all).

    ``width`` 60 marks a half-page figure: the legend goes underneath instead of eating its width."""
    import plotly.graph_objects as go

    from .geometry import label_mask

    x, y = np.asarray(x), np.asarray(y)
    shown = label_mask(x, y) if show_text else np.zeros(len(x), bool)
    fig = go.Figure()
    for c in sorted(set(np.asarray(groups).tolist())):
        idx = np.flatnonzero(np.asarray(groups) == c)
        fig.add_trace(
            go.Scatter(
                x=x[idx],
                y=y[idx],
                mode="markers+text" if show_text else "markers",
                name=text(group_names[c]),
                text=[text(labels[i]) if shown[i] else "" for i in idx],
                customdata=_e(labels[i] for i in idx),
                textposition="top center",
                textfont=dict(size=10, color="#333"),
                marker=dict(size=8, color=cluster_colour(c)),
                hovertemplate="%{customdata}<br>" + f"{text(xlab)}: %{{x:.3f}}<br>{text(ylab)}: %{{y:.3f}}<extra></extra>",
            )
        )
    fig.update_xaxes(title=text(xlab))
    fig.update_yaxes(title=text(ylab))
    fig.update_layout(legend=dict(font=dict(size=11)) if width > 60 else dict(font=dict(size=10), orientation="h", y=-0.15, yanchor="top"))
    return _title(fig, title, caption, height, width)


def ordering(values, labels, title, caption):
    """All emotions as horizontal bars, sorted by value."""
    import plotly.graph_objects as go

    order = np.argsort(values)
    fig = go.Figure(
        go.Bar(
            x=np.asarray(values)[order],
            y=_e(labels[i] for i in order),
            orientation="h",
            marker_color=["rgb(178,24,43)" if values[i] >= 0 else "rgb(33,102,172)" for i in order],
        )
    )
    fig.update_yaxes(tickfont=dict(size=10, color="#222"))
    return _title(fig, title, caption, max(400, 14 * len(values)), 60)


def variance(explained, title, caption):
    import plotly.graph_objects as go

    fig = go.Figure(go.Bar(x=[f"PC{i + 1}" for i in range(len(explained))], y=np.asarray(explained) * 100))
    fig.update_yaxes(title="% of variance")
    return _title(fig, title, caption, 320)


def heatmap(matrix, xlabels, ylabels, title, caption, zmin=-1, zmax=1, height=800, colorscale="RdBu_r", bands=None):
    """A heatmap; ``bands`` (cluster id per row) adds a coloured strip naming each row's cluster."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if bands is None:
        fig = go.Figure()
        col = None
    else:
        fig = make_subplots(rows=1, cols=2, column_widths=[0.03, 0.97], shared_yaxes=True, horizontal_spacing=0.005)
        fig.add_trace(
            go.Heatmap(
                z=np.asarray(bands)[:, None],
                y=_e(ylabels),
                x=["cluster"],
                showscale=False,
                colorscale=[[i / 19, cluster_colour(i)] for i in range(20)],
                zmin=0,
                zmax=19,
                hovertemplate="%{y}: cluster %{z}<extra></extra>",
            ),
            row=1,
            col=1,
        )
        col = 2
    trace = go.Heatmap(
        z=matrix,
        x=_e(xlabels),
        y=_e(ylabels),
        zmin=zmin,
        zmax=zmax,
        colorscale=colorscale,
        hovertemplate="%{y} · %{x}: %{z:.3f}<extra></extra>",
    )
    if col:
        fig.add_trace(trace, row=1, col=col)
    else:
        fig.add_trace(trace)
    # Readable ticks: one row per label at 10 px needs ~12 px a row, so the figure grows with them.
    fig.update_yaxes(autorange="reversed", tickfont=dict(size=10, color="#222"))
    fig.update_xaxes(tickfont=dict(size=10, color="#222"), tickangle=-60 if any(isinstance(x, str) for x in xlabels) else 0)
    return _title(fig, title, caption, max(height, 12 * len(ylabels) + 200))


def line(x, series: dict, title, caption, xlab, ylab):
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, y in series.items():
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=text(name)))
    fig.update_xaxes(title=text(xlab))
    fig.update_yaxes(title=text(ylab))
    fig.update_layout(legend=dict(orientation="h", y=-0.2))
    return _title(fig, title, caption, 420)


def token_bars(items, title, caption, color):
    """Logit-lens tokens as bars, one per token id, in rank order: tokens that look alike
    (several byte tokens) stay separate bars instead of being merged by their label."""
    import plotly.graph_objects as go

    n = len(items)
    fig = go.Figure(
        go.Bar(
            x=[t.logit for t in items],
            y=list(range(n)),
            orientation="h",
            marker_color=color,
            customdata=_e(t.label for t in items),
            hovertemplate="%{customdata}: %{x:.2f}<extra></extra>",
        )
    )
    fig.update_yaxes(
        tickvals=list(range(n)), ticktext=_e(t.label for t in items), autorange="reversed", tickfont=dict(size=11, color="#222")
    )
    fig.update_xaxes(title="logit (centred)")
    return _title(fig, title, caption, max(420, 22 * n + 160), 60)


def density(x, y, labels, title, caption, xlab, ylab, n_marked: int = 12):
    """Thousands of points as a density map, with the ``n_marked`` farthest from the diagonal named."""
    import plotly.graph_objects as go

    x, y = np.asarray(x), np.asarray(y)
    fig = go.Figure(
        go.Histogram2d(
            x=x,
            y=y,
            nbinsx=60,
            nbinsy=60,
            colorscale="Greys",
            showscale=True,
            colorbar=dict(title="pairs"),
            hovertemplate="%{z} pairs<extra></extra>",
        )
    )
    far = np.argsort(-np.abs(x - y))[:n_marked]
    fig.add_trace(
        go.Scatter(
            x=x[far],
            y=y[far],
            mode="markers+text",
            text=_e(labels[i] for i in far),
            textposition="top center",
            textfont=dict(size=10, color="#333"),
            marker=dict(size=7, color="#e6ab02", line=dict(width=1, color="#333")),
            name="most different",
            hovertemplate="%{text}: %{x:.2f} vs %{y:.2f}<extra></extra>",
        )
    )
    lo, hi = float(min(x.min(), y.min())), float(max(x.max(), y.max()))
    fig.add_shape(type="line", x0=lo, y0=lo, x1=hi, y1=hi, line=dict(dash="dot", color="#888"))
    fig.update_xaxes(title=text(xlab))
    fig.update_yaxes(title=text(ylab))
    fig.update_layout(showlegend=False)
    return _title(fig, title, caption, 600)


def sweep_figure(rows: list[dict], emotion: str, caption: str):
    """A steering sweep against strength: the readout's reading, two outside judges, fluency."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    x = [r["strength"] for r in rows]
    panels = [
        ("reading", f"readout: '{emotion}' (mean z)", "#7570b3"),
        ("vader", "judge: VADER compound", "#1b9e77"),
        ("valence", "judge: word valence (human norms, 1–9)", "#66a61e"),
        ("perplexity_ratio", "perplexity ÷ baseline", "#d95f02"),
    ]
    fig = make_subplots(rows=2, cols=2, subplot_titles=[text(t) for _, t, _ in panels], horizontal_spacing=0.1, vertical_spacing=0.2)
    for k, (key, label, colour) in enumerate(panels):
        at = dict(row=k // 2 + 1, col=k % 2 + 1)
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[r[key] for r in rows],
                mode="lines+markers",
                name=text(label),
                line=dict(color=colour),
                customdata=_e(r["reply"][:80] for r in rows),
                hovertemplate="strength %{x}: %{y:.2f}<br>%{customdata}<extra></extra>",
            ),
            **at,
        )
        fig.add_vline(x=0, line_dash="dot", line_color="#999", **at)
        fig.update_xaxes(title="strength (× mean residual norm)", **at)
    fig.add_hline(y=2, line_dash="dash", line_color="#d95f02", row=2, col=2, annotation_text="2× baseline", annotation_position="top left")
    fig.update_layout(showlegend=False)
    return _title(fig, f"Steering '{emotion}': what moves, and where the text breaks", caption, 720)


def histogram(values, title, caption, xlab, marked: float | None = None):
    """How one value spreads over a corpus, with the chosen transcript's value marked."""
    import plotly.graph_objects as go

    fig = go.Figure(go.Histogram(x=list(values), nbinsx=40, marker_color="#b2182b", hovertemplate="%{x}: %{y} transcripts<extra></extra>"))
    if marked is not None:
        fig.add_vline(x=float(marked), line_dash="dash", line_color="#222", annotation_text="chosen", annotation_position="top")
    fig.update_xaxes(title=text(xlab))
    fig.update_yaxes(title="transcripts")
    return _title(fig, title, caption, 380)
