"""Score text token by token: one forward pass, then each layer's residual stream projected onto
the emotion directions (``TokenScores``), read by the summary reading and the token reading."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .activations import capture
from .errors import EmotionLensError

if TYPE_CHECKING:
    import torch

    from .models import LoadedModel
    from .vectors import EmotionVectors
from .alignment import TurnSpan, prepare, tokenize, word_mask


@dataclass
class TokenScores:
    tokens: list[str]
    offsets: list[tuple[int, int]]  # character range of each token in ``text``
    speakers: list[str]
    emotions: list[str]
    raw: np.ndarray  # [T, E] projections onto unit vectors
    z: np.ndarray  # [T, E] against the neutral baseline
    text: str
    turns: list[TurnSpan]
    model: str
    layer: int
    meta: dict = field(default_factory=dict)
    baseline_mean: np.ndarray | None = None  # [E] the projection that reads z = 0
    baseline_std: np.ndarray | None = None  # [E] the projection's spread that reads z = ±1
    # The token-level reading (``core.token_reading``): what colours, hover cards, alerts and
    # per-token exports show. NaN on chat markers and the attention sink, which it never reads.
    # ``z`` stays the summary reading, whose means over a turn are what rankings use.
    token_z: np.ndarray | None = None  # [T, E]

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
        return {
            "model": self.model,
            "layer": self.layer,
            "reading": self.meta.get("method"),
            "kind": self.meta.get("kind"),
            "baseline": self.meta.get("baseline"),
            "token_reading": self.meta.get("token_method"),
            "emotions": names,
            "tokens": self.tokens,
            "speakers": self.speakers,
            "offsets": [list(o) for o in self.offsets],
            "raw": self.raw[:, cols].round(4).tolist(),
            "z": self.z[:, cols].round(4).tolist(),
            "token_z": [[None if np.isnan(v) else float(v) for v in row] for row in shown],
            "mean_z": {e: mean[e] for e in names},
            "last_z": {e: last[e] for e in names},
        }


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
    hidden: dict[int, np.ndarray]  # layer -> [T, d_model]
    input_ids: list[int] = field(default_factory=list)
    logits: torch.Tensor | None = None  # [T, vocab], only when asked for (the full pass)
    dtype: str = "float32"  # the precision the model ran in (vectors are always built in float32)


def forward(lm: LoadedModel, text_or_transcript, layers, open_reply: bool = False, logits: bool = False) -> Forward:
    """Parse, render and tokenise the input, then run the model up to the deepest layer asked
    (or, with ``logits``, all the way, keeping the next-token logits too)."""
    text, segments = prepare(lm, text_or_transcript, open_reply)
    enc, tokens, offsets, speakers, turns = tokenize(lm, text, segments)
    with capture(lm, layers, stop_early=not logits) as cap:
        out = cap.run(**enc)
    hidden = {l: h[0].float().numpy() for l, h in cap.outputs.items()}
    next_logits = out.logits[0].float().cpu() if logits else None
    return Forward(text, tokens, offsets, speakers, turns, lm.name, hidden, enc["input_ids"][0].tolist(), next_logits, lm.placement.dtype)


def forward_batch(lm: LoadedModel, inputs: list, layers) -> list[Forward | EmotionLensError]:
    """``forward`` for many inputs in one padded pass (right padding: each text's tokens read as
    they would alone). An input that cannot be read gets its error in its place, and the rest go on."""
    import torch

    prepared: list = []
    for item in inputs:
        try:
            text, segments = prepare(lm, item)
            prepared.append((text, *tokenize(lm, text, segments)))
        except EmotionLensError as exc:
            prepared.append(exc)
    ok = [i for i, p in enumerate(prepared) if not isinstance(p, EmotionLensError)]
    out: list = list(prepared)
    if not ok:
        return out
    ids = [prepared[i][1]["input_ids"][0] for i in ok]
    width = max(len(x) for x in ids)
    pad = lm.tokenizer.pad_token_id or 0
    input_ids = torch.full((len(ids), width), pad, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, x in enumerate(ids):
        input_ids[row, : len(x)], mask[row, : len(x)] = x, 1
    with capture(lm, layers, stop_early=True) as cap:
        cap.run(input_ids=input_ids, attention_mask=mask)
    for row, i in enumerate(ok):
        text, enc, tokens, offsets, speakers, turns = prepared[i]
        n = len(ids[row])
        hidden = {l: h[row, :n].float().numpy() for l, h in cap.outputs.items()}
        out[i] = Forward(text, tokens, offsets, speakers, turns, lm.name, hidden, ids[row].tolist(), None, lm.placement.dtype)
    return out


READ_POSITIONS = ("words", "last", "header")


POSITION_LABELS = {
    "words": "mean over the user's words",
    "last": "the user's last word token",
    "header": "the Assistant header, just before the reply",
}


def prompt_positions(turns: list[TurnSpan]) -> dict[str, tuple[int, int]]:
    """Token ranges of the reading positions in ``[..., user turn, open Assistant reply]``."""
    lo, hi = turns[-2].words
    end = turns[-1].end
    return {"words": (lo, hi), "last": (hi - 1, hi), "header": (end - 1, end)}


def project(
    hidden: np.ndarray, ev: EmotionVectors, layer: int, kind: str | None = None, baseline: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Raw projections onto one reading's directions and their z-scores, ``[T, E]`` each."""
    return ev.reading(kind, baseline, layer).project(hidden)


def scores_from(
    fw: Forward, ev: EmotionVectors, layer: int | None = None, kind: str | None = None, baseline: str | None = None
) -> TokenScores:
    """Project a captured forward pass. Defaults: the readout, z vs the stories, at the layer
    cross-validation chose for it (files without a readout fall back and say so)."""
    r = ev.reading(kind, baseline, layer)
    if r.layer not in fw.hidden:
        raise EmotionLensError(f"layer {r.layer} was not captured in this forward pass")
    raw, z = r.project(fw.hidden[r.layer])
    ts = TokenScores(
        fw.tokens,
        fw.offsets,
        fw.speakers,
        ev.emotions,
        raw,
        z,
        fw.text,
        fw.turns,
        fw.model,
        r.layer,
        meta={
            "method": r.method + ("" if fw.dtype == "float32" else f" · model run in {fw.dtype}"),
            "kind": r.kind,
            "baseline": r.baseline,
            "note": r.note,
        },
        baseline_mean=r.mean,
        baseline_std=r.std,
    )
    reading = ev.token_reading()
    if reading is not None and reading.layer in fw.hidden:
        ts.token_z = reading.z(fw.hidden[reading.layer], ts.word_mask())
        ts.meta["token_method"] = ev.describe_token_reading()
    else:
        ts.meta["token_method"] = (
            "no token-level reading in this vectors file: tokens show the summary reading (build one with `python -m core build --token`)"
        )
    return ts


def score(
    lm: LoadedModel, ev: EmotionVectors, text_or_transcript, layer: int | None = None, kind: str | None = None, baseline: str | None = None
) -> TokenScores:
    """One forward pass up to the layer read; nothing deeper runs."""
    problem = ev.mismatch(lm)
    if problem:
        raise EmotionLensError(problem)
    layer = ev.layer(ev.reading_layer(kind) if layer is None else layer)
    return scores_from(forward(lm, text_or_transcript, score_layers(ev, layer)), ev, layer, kind, baseline)


def score_layers(ev: EmotionVectors, layer: int) -> list[int]:
    """The layers a forward pass must capture for ``scores_from``: the summary reading's, and the token reading's."""
    reading = ev.token_reading()
    return [layer] + ([reading.layer] if reading is not None else [])
