"""Text to model tokens: render turns with the chat template, tokenise, and keep each token's
characters, speaker and turn, with the words a reading reads (chat markers and the sink left out)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .activations import SINK_TOKENS
from .errors import EmotionLensError
from .transcript import Segment, Turn, parse_transcript, render

if TYPE_CHECKING:
    from .models import LoadedModel


@dataclass
class TurnSpan:
    role: str
    start: int  # first token of the turn (template header included)
    end: int  # one past its last token
    reply_start: int  # first token of the turn's own words
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
        keep[span.reply_start : hi] = True
    keep[:SINK_TOKENS] = False
    return keep


def prepare(lm: LoadedModel, text_or_transcript, open_reply: bool = False) -> tuple[str, list[Segment]]:
    turns = (
        text_or_transcript
        if isinstance(text_or_transcript, list) and text_or_transcript and isinstance(text_or_transcript[0], Turn)
        else parse_transcript(text_or_transcript)
    )
    return render(turns, lm.chat_template, lm.tokenizer, open_reply=open_reply)


def tokenize(lm: LoadedModel, text: str, segments: list[Segment]):
    enc = lm.tokenizer(text, return_offsets_mapping=True, return_tensors="pt")
    offsets = [(int(o[0]), int(o[1])) for o in enc.pop("offset_mapping")[0]]
    n = len(offsets)
    if n > lm.max_tokens:
        raise EmotionLensError(
            f"input is {n:,} tokens; {lm.name} reads at most {lm.max_tokens:,} at once: shorten it or split it into parts"
        )
    ids = enc["input_ids"][0].tolist()
    tokens, clipped, at, shown = [], [], [], 0
    for (a, b), tid in zip(offsets, ids):
        if b > a:
            # Byte-level tokens of one character (CJK, emoji, "Ä") all point at that whole
            # character: it is shown once, with the first of them, and the rest show nothing.
            # Characters the tokenizer drops (some control characters) are shown with the token
            # after them, so every character of the text is shown exactly once.
            at.append(min(max(a, shown), b))
            a = min(shown, b)
            tokens.append(text[a:b])
            shown = max(shown, b)
        else:
            at.append(a)
            tokens.append(lm.tokenizer.convert_ids_to_tokens(tid))
        clipped.append((a, b))
    last = max((i for i, (a, b) in enumerate(clipped) if b > a), default=None)
    if last is None:
        raise EmotionLensError("the input has no characters the model reads (only control characters?)")
    if shown < len(text):  # dropped characters at the very end go with the last token
        tokens[last] += text[shown:]
        clipped[last] = (clipped[last][0], len(text))
    offsets = clipped
    starts = np.array([s.start for s in segments])
    seg_of = [segments[max(0, int(np.searchsorted(starts, a, side="right")) - 1)] for a in at]
    turns = []
    for seg in segments:
        idx = [i for i, s in enumerate(seg_of) if s is seg]
        if idx:
            # the first token that reaches into the words (" Hi" after "User:" carries its space)
            reply = next((i for i in idx if offsets[i][1] > seg.content_start), idx[-1] + 1)
            words_end = next((i for i in idx if i >= reply and at[i] >= seg.words_end), idx[-1] + 1)
            turns.append(TurnSpan(seg.role, idx[0], idx[-1] + 1, reply, words_end))
    return enc, tokens, offsets, [s.role for s in seg_of], turns
