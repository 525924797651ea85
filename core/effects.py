"""What steering did to a reply, measured independently.

- the readout's own reading of the steered emotion over the reply's words (closed loop);
- an outside judge: the VADER compound sentiment of the reply's text (the issue's judge), and a
  second one with other blind spots: the mean human-rated valence of its words (Warriner et al.);
- fluency: the reply's perplexity under the *unsteered* model, so broken text shows up.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import torch

from .ratings import word_valence
from .scoring import TokenScores, forward, score_layers, scores_from
from .transcript import Turn, parse_transcript

if TYPE_CHECKING:
    from .models import LoadedModel
    from .vectors import EmotionVectors


def conversation(prompt, reply: str) -> list[Turn]:
    """The prompt's turns with the reply as the Assistant's next turn."""
    turns = prompt if isinstance(prompt, list) and prompt and isinstance(prompt[0], Turn) else parse_transcript(prompt)
    if turns and turns[0].role == "text":  # a bare prompt is the user's message
        turns = [Turn("user", t.content) for t in turns]
    return [*turns, Turn("assistant", reply)]


@lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def vader_compound(text: str) -> float:
    """VADER's compound sentiment of a text, -1 (negative) … +1 (positive)."""
    return float(_vader().polarity_scores(text)["compound"])


def _reading(ts: TokenScores, emotions: list[str]) -> dict[str, float]:
    """Mean z of each emotion over the last turn's words (the reply's)."""
    lo, hi = ts.turns[-1].words
    return {e: float(ts.z[lo:hi, ts.emotions.index(e)].mean()) if hi > lo else float("nan") for e in emotions}


def _perplexity(fw) -> float:
    lo, hi = fw.turns[-1].words
    if hi - lo < 1 or lo < 1:
        return float("nan")
    logp = torch.log_softmax(fw.logits[lo - 1 : hi - 1].float(), -1)
    nll = -logp.gather(1, torch.tensor(fw.input_ids[lo:hi])[:, None]).mean()
    return float(math.exp(float(nll)))


def reply_reading(lm: LoadedModel, ev: EmotionVectors, prompt, reply: str, emotions: list[str]) -> dict[str, float]:
    """Mean z (the default reading) of each emotion over the reply's own words."""
    return _reading(scores_from(forward(lm, conversation(prompt, reply), [ev.reading_layer()]), ev), emotions)


def reply_perplexity(lm: LoadedModel, prompt, reply: str) -> float:
    """exp(mean negative log-likelihood) of the reply's word tokens under the plain model."""
    return _perplexity(forward(lm, conversation(prompt, reply), [0], logits=True))


def _measures(ts: TokenScores, fw, reply: str, emotion: str) -> dict:
    return {
        "reading": _reading(ts, [emotion])[emotion],
        "vader": vader_compound(reply),
        "valence": word_valence(reply),
        "perplexity": _perplexity(fw),
    }


def measure(lm: LoadedModel, ev: EmotionVectors, prompt, reply: str, emotion: str) -> dict:
    """The measures of one reply, for one steered emotion, from one forward pass (the summary
    reading's layer only: the study measures thousands of replies and never shows their tokens)."""
    fw = forward(lm, conversation(prompt, reply), [ev.reading_layer()], logits=True)
    return _measures(scores_from(fw, ev), fw, reply, emotion)


def read_reply(lm: LoadedModel, ev: EmotionVectors, prompt, reply: str, emotion: str) -> tuple[TokenScores, dict]:
    """The conversation with the reply read back (what its highlights show) and the reply's measures,
    from one forward pass: the Steering page shows both for every reply."""
    fw = forward(lm, conversation(prompt, reply), score_layers(ev, ev.reading_layer()), logits=True)
    ts = scores_from(fw, ev)
    return ts, _measures(ts, fw, reply, emotion)


def sweep(
    lm: LoadedModel,
    ev: EmotionVectors,
    prompt,
    emotion: str,
    strengths,
    seed: int | None = 0,
    max_new_tokens: int = 40,
    layer: int | None = None,
    layers: list[int] | None = None,
    positions: str | None = None,
    kind: str | None = None,
    against: float | None = None,
    progress=None,
) -> list[dict]:
    """One reply per strength (the same seed), each measured: where does the text move, and
    where does it break down? Strength 0 is the baseline. Unset choices come from the model's
    steering preset, as in ``steer_generate``."""
    from .steering import steer_generate

    rows = []
    strengths = sorted(set(float(s) for s in strengths) | {0.0})
    for k, s in enumerate(strengths):
        reply = steer_generate(
            lm,
            ev,
            prompt,
            {emotion: s} if s else {},
            layer=layer,
            layers=layers,
            max_new_tokens=max_new_tokens,
            seed=seed,
            positions=positions,
            kind=kind,
            against=against,
        )
        rows.append({"strength": s, "reply": reply, **measure(lm, ev, prompt, reply, emotion)})
        if progress:
            progress(k + 1, len(strengths))
    base = next(r for r in rows if r["strength"] == 0.0)
    for r in rows:
        r["perplexity_ratio"] = r["perplexity"] / base["perplexity"] if base["perplexity"] else np.nan
    return rows
