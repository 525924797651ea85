"""Plotly figures for the geometry pages; every label is escaped, every title names its source."""
from __future__ import annotations

import html
import textwrap

import numpy as np

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
           "#e6550d", "#31a354", "#756bb1", "#636363"]


def _e(items):
    return [html.escape(str(x)) for x in items]


def wrap(text: str, width: int = 120) -> str:
    """Escape and wrap a caption so plotly shows all of it (titles do not wrap by themselves)."""
    return "<br>".join(html.escape(line) for line in textwrap.wrap(text, width))


def _title(fig, title: str, caption: str, height: int):
    lines = wrap(caption)
    fig.update_layout(title=dict(text=f"{html.escape(title)}<br><sup>{lines.replace('<br>', '</sup><br><sup>')}</sup>",
                                 font=dict(size=14)),
                      height=height, margin=dict(l=10, r=10, t=60 + 14 * lines.count("<br>") + 14, b=10))
    return fig


def scatter(x, y, labels, groups, group_names, title, caption, xlab, ylab, height=620, show_text=True):
    import plotly.graph_objects as go
    fig = go.Figure()
    for c in sorted(set(groups.tolist())):
        idx = np.flatnonzero(groups == c)
        fig.add_trace(go.Scatter(
            x=x[idx], y=y[idx], mode="markers+text" if show_text else "markers", name=html.escape(group_names[c]),
            text=_e(labels[i] for i in idx), textposition="top center", textfont=dict(size=9),
            marker=dict(size=8, color=PALETTE[c % len(PALETTE)]),
            hovertemplate="%{text}<br>" + f"{html.escape(xlab)}: %{{x:.3f}}<br>{html.escape(ylab)}: %{{y:.3f}}<extra></extra>"))
    fig.update_xaxes(title=html.escape(xlab))
    fig.update_yaxes(title=html.escape(ylab))
    fig.update_layout(legend=dict(font=dict(size=10)))
    return _title(fig, title, caption, height)


def ordering(values, labels, title, caption):
    """All emotions as horizontal bars, sorted by value."""
    import plotly.graph_objects as go
    order = np.argsort(values)
    fig = go.Figure(go.Bar(x=np.asarray(values)[order], y=_e(labels[i] for i in order), orientation="h",
                           marker_color=["rgb(178,24,43)" if values[i] >= 0 else "rgb(33,102,172)" for i in order]))
    fig.update_yaxes(tickfont=dict(size=8))
    return _title(fig, title, caption, max(400, 11 * len(values)))


def variance(explained, title, caption):
    import plotly.graph_objects as go
    fig = go.Figure(go.Bar(x=[f"PC{i + 1}" for i in range(len(explained))], y=np.asarray(explained) * 100))
    fig.update_yaxes(title="% of variance")
    return _title(fig, title, caption, 300)


def heatmap(matrix, xlabels, ylabels, title, caption, zmin=-1, zmax=1, height=800, colorscale="RdBu_r",
            bands=None):
    """A heatmap; ``bands`` (cluster id per row) adds a coloured strip naming each row's cluster."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
    if bands is None:
        fig = go.Figure()
        col = None
    else:
        fig = make_subplots(rows=1, cols=2, column_widths=[0.03, 0.97], shared_yaxes=True, horizontal_spacing=0.005)
        fig.add_trace(go.Heatmap(z=np.asarray(bands)[:, None], y=_e(ylabels), x=["cluster"], showscale=False,
                                 colorscale=[[i / 19, PALETTE[i]] for i in range(20)], zmin=0, zmax=19,
                                 hovertemplate="%{y}: cluster %{z}<extra></extra>"), row=1, col=1)
        col = 2
    trace = go.Heatmap(z=matrix, x=_e(xlabels), y=_e(ylabels), zmin=zmin, zmax=zmax, colorscale=colorscale,
                       hovertemplate="%{y} · %{x}: %{z:.3f}<extra></extra>")
    if col:
        fig.add_trace(trace, row=1, col=col)
    else:
        fig.add_trace(trace)
    fig.update_yaxes(autorange="reversed", tickfont=dict(size=7))
    fig.update_xaxes(tickfont=dict(size=7))
    return _title(fig, title, caption, height)


def line(x, series: dict, title, caption, xlab, ylab):
    import plotly.graph_objects as go
    fig = go.Figure()
    for name, y in series.items():
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=html.escape(name)))
    fig.update_xaxes(title=html.escape(xlab))
    fig.update_yaxes(title=html.escape(ylab))
    return _title(fig, title, caption, 360)


def token_bars(items, title, caption, color):
    import plotly.graph_objects as go
    fig = go.Figure(go.Bar(x=[v for _, v in items][::-1], y=_e(repr(t) for t, _ in items)[::-1],
                           orientation="h", marker_color=color))
    return _title(fig, title, caption, 420)
