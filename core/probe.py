"""Score text token by token: project one layer's residual stream onto the emotion vectors."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .activations import SINK_TOKENS, capture
from .errors import EmotionLensError
from .transcript import Segment, Turn, parse_transcript, render

if TYPE_CHECKING:
    from .models import LoadedModel
    from .vectors import EmotionVectors

if TYPE_CHECKING:
    import torch


@dataclass
class TurnSpan:
    role: str
    start: int          # first token of the turn (template header included)
    end: int            # one past its last token
    reply_start: int    # first token of the turn's own words
    words_end: int = -1  # one past their last token (closing template tokens excluded)

    # The token just before the words: for an Assistant turn, the paper's
    # "Assistant colon" position, where the model prepares its reply.
    @property
    def header_token(self) -> int:
        return max(self.start, self.reply_start - 1)

    @property
    def words(self) -> tuple[int, int]:
        """Token range of the turn's own words; the whole turn when it has none."""
        lo, hi = self.reply_start, self.end if self.words_end < 0 else self.words_end
        return (lo, hi) if hi > lo else (self.start, self.end)


def word_mask(turns: list[TurnSpan], n_tokens: int) -> np.ndarray:
    """Tokens of some turn's own words, the attention sink left out: what a reading reads
    (template headers, closing markers and an opened reply's header are not words)."""
    keep = np.zeros(n_tokens, bool)
    for span in turns:
        hi = span.end if span.words_end < 0 else span.words_end
        keep[span.reply_start:hi] = True
    keep[:SINK_TOKENS] = False
    return keep


@dataclass
class TokenScores:
    tokens: list[str]
    offsets: list[tuple[int, int]]      # character range of each token in ``text``
    speakers: list[str]
    emotions: list[str]
    raw: np.ndarray                     # [T, E] projections onto unit vectors
    z: np.ndarray                       # [T, E] against the neutral baseline
    text: str
    turns: list[TurnSpan]
    model: str
    layer: int
    meta: dict = field(default_factory=dict)
    baseline_mean: np.ndarray | None = None   # [E] the projection that reads z = 0
    baseline_std: np.ndarray | None = None    # [E] the projection's spread that reads z = ±1
    # The token-level reading (``core.token_reading``): what colours, hover cards, alerts and
    # per-token exports show. NaN on chat markers and the attention sink, which it never reads.
    # ``z`` stays the summary reading, whose means over a turn are what rankings use.
    token_z: np.ndarray | None = None         # [T, E]

    @property
    def shown(self) -> np.ndarray:
        """What a token shows: the token-level reading, or (files without one) the summary
        reading with markers blanked, so a marker never colours or ranks."""
        return self.token_z if self.token_z is not None else self.summary_per_token()

    def per_token(self, source: str = "token") -> np.ndarray:
        """``shown`` ("token"), or the summary reading per token ("summary")."""
        return self.shown if source == "token" else self.summary_per_token()

    def summary_per_token(self) -> np.ndarray:
        """The summary reading token by token (what tokens showed before the token reading),
        markers blanked: for researchers comparing readings and layers."""
        z = self.z.copy()
        z[~self.word_mask()] = np.nan
        return z

    def word_mask(self) -> np.ndarray:
        return word_mask(self.turns, len(self.tokens))

    def column(self, emotion: str, kind: str = "z") -> np.ndarray:
        """One emotion's values: ``z`` (summary reading), ``token`` (what a token shows) or ``raw``."""
        try:
            j = self.emotions.index(emotion)
        except ValueError:
            raise EmotionLensError(f"unknown emotion '{emotion}'") from None
        values = self.shown if kind == "token" else self.raw if kind == "raw" else self.z
        return values[:, j]

    def mean_z(self) -> dict[str, float]:
        """Mean summary z over the text's words: chat markers and the attention sink, whose
        values can dwarf the words', are left out, as in every turn mean and top list."""
        keep = self.word_mask()
        vals = self.z[keep] if keep.any() else self.z
        return dict(zip(self.emotions, vals.mean(0).round(4).tolist()))

    def last_z(self) -> dict[str, float]:
        return dict(zip(self.emotions, self.z[-1].round(4).tolist()))

    def to_json(self, emotions: list[str] | None = None) -> dict:
        cols = [self.emotions.index(e) for e in emotions] if emotions else list(range(len(self.emotions)))
        names = [self.emotions[j] for j in cols]
        mean, last = self.mean_z(), self.last_z()
        shown = self.shown[:, cols].round(4)
        return {"model": self.model, "layer": self.layer, "reading": self.meta.get("method"),
                "kind": self.meta.get("kind"), "baseline": self.meta.get("baseline"),
                "token_reading": self.meta.get("token_method"),
                "emotions": names, "tokens": self.tokens,
                "speakers": self.speakers, "offsets": [list(o) for o in self.offsets],
                "raw": self.raw[:, cols].round(4).tolist(), "z": self.z[:, cols].round(4).tolist(),
                "token_z": [[None if np.isnan(v) else float(v) for v in row] for row in shown],
                "mean_z": {e: mean[e] for e in names}, "last_z": {e: last[e] for e in names}}


def prepare(lm: LoadedModel, text_or_transcript, open_reply: bool = False) -> tuple[str, list[Segment]]:
    turns = text_or_transcript if isinstance(text_or_transcript, list) and text_or_transcript \
        and isinstance(text_or_transcript[0], Turn) else parse_transcript(text_or_transcript)
    return render(turns, lm.chat_template, lm.tokenizer, open_reply=open_reply)


def tokenize(lm: LoadedModel, text: str, segments: list[Segment]):
    enc = lm.tokenizer(text, return_offsets_mapping=True, return_tensors="pt")
    offsets = [(int(o[0]), int(o[1])) for o in enc.pop("offset_mapping")[0]]
    n = len(offsets)
    if n > lm.max_tokens:
        raise EmotionLensError(f"input is {n:,} tokens; {lm.name} reads at most {lm.max_tokens:,} "
                               "at once: shorten it or split it into parts")
    ids = enc["input_ids"][0].tolist()
    tokens, clipped, shown = [], [], 0
    for (a, b), tid in zip(offsets, ids):
        if b > a:
            # Byte-level tokens of one character (CJK, emoji, "Ä") all point at that whole
            # character: it is shown once, with the first of them, and the rest show nothing.
            a = min(max(a, shown), b)
            tokens.append(text[a:b])
            shown = max(shown, b)
        else:
            tokens.append(lm.tokenizer.convert_ids_to_tokens(tid))
        clipped.append((a, b))
    offsets = clipped
    starts = np.array([s.start for s in segments])
    seg_of = [segments[max(0, int(np.searchsorted(starts, a, side="right")) - 1)] for a, _ in offsets]
    turns = []
    for seg in segments:
        idx = [i for i, s in enumerate(seg_of) if s is seg]
        if idx:
            # the first token that reaches into the words (" Hi" after "User:" carries its space)
            reply = next((i for i in idx if offsets[i][1] > seg.content_start), idx[-1] + 1)
            words_end = next((i for i in idx if i >= reply and offsets[i][0] >= seg.words_end), idx[-1] + 1)
            turns.append(TurnSpan(seg.role, idx[0], idx[-1] + 1, reply, words_end))
    return enc, tokens, offsets, [s.role for s in seg_of], turns


@dataclass
class Forward:
    """One forward pass over a prepared input: the residual stream at the layers asked for.

    The app keeps this per text, so switching emotion or layer re-projects without the model.
    """
    text: str
    tokens: list[str]
    offsets: list[tuple[int, int]]
    speakers: list[str]
    turns: list[TurnSpan]
    model: str
    hidden: dict[int, np.ndarray]       # layer -> [T, d_model]
    input_ids: list[int] = field(default_factory=list)
    logits: torch.Tensor | None = None   # [T, vocab], only when asked for (the full pass)


def forward(lm: LoadedModel, text_or_transcript, layers, open_reply: bool = False, logits: bool = False) -> Forward:
    """Parse, render and tokenise the input, then run the model up to the deepest layer asked
    (or, with ``logits``, all the way, keeping the next-token logits too)."""
    text, segments = prepare(lm, text_or_transcript, open_reply)
    enc, tokens, offsets, speakers, turns = tokenize(lm, text, segments)
    with capture(lm, layers, stop_early=not logits) as cap:
        out = cap.run(**enc)
    hidden = {l: h[0].float().numpy() for l, h in cap.outputs.items()}
    return Forward(text, tokens, offsets, speakers, turns, lm.name, hidden, enc["input_ids"][0].tolist(),
                   out.logits[0] if logits else None)


READ_POSITIONS = ("words", "last", "header")
POSITION_LABELS = {"words": "mean over the user's words", "last": "the user's last word token",
                   "header": "the Assistant header, just before the reply"}


def prompt_positions(turns: list[TurnSpan]) -> dict[str, tuple[int, int]]:
    """Token ranges of the reading positions in ``[..., user turn, open Assistant reply]``."""
    lo, hi = turns[-2].words
    end = turns[-1].end
    return {"words": (lo, hi), "last": (hi - 1, hi), "header": (end - 1, end)}


def project(hidden: np.ndarray, ev: EmotionVectors, layer: int, kind: str | None = None,
            baseline: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Raw projections onto one reading's directions and their z-scores, ``[T, E]`` each."""
    return ev.reading(kind, baseline, layer).project(hidden)


def scores_from(fw: Forward, ev: EmotionVectors, layer: int | None = None, kind: str | None = None,
                baseline: str | None = None) -> TokenScores:
    """Project a captured forward pass. Defaults: the readout, z vs the stories, at the layer
    cross-validation chose for it (files without a readout fall back and say so)."""
    r = ev.reading(kind, baseline, layer)
    if r.layer not in fw.hidden:
        raise EmotionLensError(f"layer {r.layer} was not captured in this forward pass")
    raw, z = r.project(fw.hidden[r.layer])
    ts = TokenScores(fw.tokens, fw.offsets, fw.speakers, ev.emotions, raw, z, fw.text, fw.turns,
                     fw.model, r.layer, meta={"method": r.method, "kind": r.kind, "baseline": r.baseline,
                                              "note": r.note},
                     baseline_mean=r.mean, baseline_std=r.std)
    reading = ev.token_reading()
    if reading is not None and reading.layer in fw.hidden:
        ts.token_z = reading.z(fw.hidden[reading.layer], ts.word_mask())
        ts.meta["token_method"] = ev.describe_token_reading()
    else:
        ts.meta["token_method"] = ("no token-level reading in this vectors file: tokens show the summary "
                                   "reading (build one with `python -m core build --token`)")
    return ts


def score(lm: LoadedModel, ev: EmotionVectors, text_or_transcript, layer: int | None = None, kind: str | None = None,
          baseline: str | None = None) -> TokenScores:
    """One forward pass up to the layer read; nothing deeper runs."""
    problem = ev.mismatch(lm)
    if problem:
        raise EmotionLensError(problem)
    layer = ev.layer(ev.reading_layer(kind) if layer is None else layer)
    reading = ev.token_reading()
    layers = [layer] + ([reading.layer] if reading is not None else [])
    return scores_from(forward(lm, text_or_transcript, layers), ev, layer, kind, baseline)


# --- summaries the viewer shows -----------------------------------------------------------

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
    """"afraid family · scared": an emotion with its family, when there are families."""
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
        row = {"turn": f"{k + 1}. {span.role.title()} (tokens {span.start}–{span.end - 1})",
               "highest (mean z)": fmt(top_emotions(means, ts.emotions, n)), "lowest (mean z)": fmt(low)}
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
