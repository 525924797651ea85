"""Files users download: the data behind a figure as CSV, the figure as a standalone page."""
from __future__ import annotations

import csv
import io


def rows_csv(rows: list[dict]) -> str:
    """CSV with one column per key, in first-seen order; cells starting with = + - @ are
    prefixed with ' so a spreadsheet never runs them as formulas (emotion and token text is input)."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, keys, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: _safe(r.get(k, "")) for k in keys})
    return buf.getvalue()


def _safe(v):
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


def figure_html(fig) -> str:
    """The figure with plotly.js inlined: opens offline."""
    return fig.to_html(include_plotlyjs=True, full_html=True)


def scores_csv(ts, emotions: list[str]) -> str:
    """Per-token scores; the attention-sink token is flagged, since its values dwarf the rest."""
    from .activations import SINK_TOKENS
    raw = {e: ts.column(e, "raw") for e in emotions}
    z = {e: ts.column(e) for e in emotions}
    return rows_csv([{"position": i, "token": tok, "speaker": ts.speakers[i], "attention_sink": int(i < SINK_TOKENS),
                      **{f"{e} raw": f"{raw[e][i]:.4f}" for e in emotions},
                      **{f"{e} z": f"{z[e][i]:.4f}" for e in emotions}} for i, tok in enumerate(ts.tokens)])
