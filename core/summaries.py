"""What the viewer and the CLI summarise from token scores: turn means and tables, the
per-transcript scale, smoothing, and the emotions furthest above and below baseline."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .activations import SINK_TOKENS

if TYPE_CHECKING:
    pass
from .alignment import TurnSpan
from .scoring import TokenScores


def transcript_scale(values: np.ndarray) -> float:
    """The paper's per-transcript unit: the 99th percentile |value| across all probes (tokens a
    reading does not read, NaN, and the attention sink left out)."""
    body = values[SINK_TOKENS:] if len(values) > SINK_TOKENS else values
    body = np.abs(body[~np.isnan(body)])
    return float(np.percentile(body, 99)) if body.size and np.percentile(body, 99) > 0 else 1.0


def smooth(x: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over ``window`` tokens (1 = none); edges use what exists."""
    if window <= 1 or len(x) == 0:
        return x
    kernel = np.ones(window)
    pad = window // 2
    num = np.convolve(np.pad(x, (pad, window - 1 - pad)), kernel, mode="valid")
    den = np.convolve(np.pad(np.ones_like(x), (pad, window - 1 - pad)), kernel, mode="valid")
    return num / den


def turn_means(ts: TokenScores) -> list[tuple[TurnSpan, np.ndarray]]:
    """Mean z over each turn's own words (its template header left out)."""
    out = []
    for span in ts.turns:
        lo, hi = span.words
        lo = max(lo, SINK_TOKENS) if hi > SINK_TOKENS else lo
        out.append((span, ts.z[lo:hi].mean(0)))
    return out


def named(emotion: str, emotions: list[str], families=None) -> str:
    """ "afraid family · scared": an emotion with its family, when there are families."""
    if families is None or emotion not in emotions:
        return emotion
    return f"{families.names[families.of[emotions.index(emotion)]]} family · {emotion}"


def turn_table(ts: TokenScores, n: int = 4, families=None) -> list[dict]:
    """One row per turn: its strongest and weakest emotions (summary reading, mean over its
    words), each with its family. (The paper's "Assistant colon", the header token before a
    reply, is a chat marker, which no list ranks: in these models it carries almost no emotion
    signal, docs/method.md, "Reading position".)"""
    fmt = lambda items: ", ".join(f"{named(e, ts.emotions, families)} {v:+.1f}" for e, v in items)
    rows = []
    for k, (span, means) in enumerate(turn_means(ts)):
        low = [(ts.emotions[j], float(means[j])) for j in np.argsort(means)[:n]]
        row = {
            "turn": f"{k + 1}. {span.role.title()} (tokens {span.start}–{span.end - 1})",
            "highest (mean z)": fmt(top_emotions(means, ts.emotions, n)),
            "lowest (mean z)": fmt(low),
        }
        rows.append(row)
    return rows


def mean_z_difference(left: TokenScores, right: TokenScores) -> np.ndarray:
    """Per emotion, mean z of the right text minus the left (both read the same way)."""
    a, b = left.mean_z(), right.mean_z()
    return np.array([b[e] - a[e] for e in left.emotions])


def extremes(values: np.ndarray, emotions: list[str], n_high: int = 8, n_low: int = 4) -> list[tuple[str, float]]:
    """The highest and the lowest values with their signs kept, highest first (e.g. a difference)."""
    order = np.argsort(-values)
    picked = list(order[:n_high]) + [j for j in order[::-1][:n_low][::-1] if j not in order[:n_high]]
    return [(emotions[j], float(values[j])) for j in picked]


def top_emotions(values: np.ndarray, emotions: list[str], n: int = 5) -> list[tuple[str, float]]:
    order = np.argsort(-values)[:n]
    return [(emotions[j], float(values[j])) for j in order]
