"""Files users download: the data behind a figure as CSV, the figure as a standalone page."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re


def rows_csv(rows: list[dict]) -> str:
    """CSV with one column per key, in first-seen order; cells starting with = + - @ are
    prefixed with ' so a spreadsheet never runs them as formulas (emotion and token text is input)."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, keys, lineterminator="\r\n")  # RFC 4180; and a lone \r in a cell gets quoted
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
    return with_csp(fig.to_html(include_plotlyjs=True, full_html=True))


_SCRIPT = re.compile(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.S)


def with_csp(doc: str) -> str:
    """The page with a Content-Security-Policy that runs only its own inline scripts (by hash)
    and fetches nothing: text that slipped into the page as markup still could not run or call out."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(m['body'].encode()).digest()).decode()}'"
        for m in _SCRIPT.finditer(doc)
        if "application/json" not in m["attrs"]
    )
    policy = (
        f"default-src 'none'; script-src {hashes}; style-src 'unsafe-inline'; img-src data: blob:; "
        "font-src data:; base-uri 'none'; form-action 'none'"
    )
    return doc.replace("<head>", f'<head><meta http-equiv="Content-Security-Policy" content="{policy}">', 1)


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
