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
    """Per-token scores, as numbers: what the token shows (the token-level reading; empty on chat
    markers and the attention sink, which no reading reads), the summary reading's z and raw
    projection. ``read`` says which tokens a reading reads."""
    read = ts.word_mask()
    cols = {e: (ts.column(e, "token"), ts.column(e), ts.column(e, "raw")) for e in emotions}
    num = lambda v: "" if v != v else round(float(v), 4)
    return rows_csv(
        [
            {
                "position": i,
                "token": tok,
                "speaker": ts.speakers[i],
                "read": int(read[i]),
                **{f"{e} token z": num(c[0][i]) for e, c in cols.items()},
                **{f"{e} summary z": num(c[1][i]) for e, c in cols.items()},
                **{f"{e} raw": num(c[2][i]) for e, c in cols.items()},
            }
            for i, tok in enumerate(ts.tokens)
        ]
    )
