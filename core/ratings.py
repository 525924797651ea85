"""Human ratings of emotion words, for checking that PC1/PC2 track valence/arousal.

Shipped: VADER's lexicon (Hutto & Gilbert, 2014, "VADER: A Parsimonious Rule-based Model
for Sentiment Analysis of Social Media Text", ICWSM; MIT licence), in which ten people
rated each word's valence from -4 to +4. It has no arousal ratings, so arousal needs a
user lexicon in NRC-VAD's tab-separated format (term, valence, arousal, dominance).
Words a lexicon lacks stay missing: nothing is imputed.
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass

import numpy as np

from .errors import EmotionLensError
from .transcript import decode_text_file

MAX_LEXICON_BYTES = 20 * 1024 * 1024
VADER_CITATION = ("VADER lexicon (Hutto & Gilbert, ICWSM 2014; MIT licence): mean of 10 human "
                  "valence ratings per word, -4..+4")


@dataclass
class Ratings:
    name: str
    citation: str
    valence: np.ndarray      # per emotion, NaN where the lexicon lacks the word
    arousal: np.ndarray | None

    def coverage(self) -> int:
        return int((~np.isnan(self.valence)).sum())


def vader_valence(emotions: list[str]) -> Ratings:
    import vaderSentiment
    path = os.path.join(os.path.dirname(vaderSentiment.__file__), "vader_lexicon.txt")
    lex = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2:
                try:
                    lex[parts[0]] = float(parts[1])
                except ValueError:
                    continue
    vals = np.array([lex.get(e, np.nan) for e in emotions], dtype=np.float64)
    return Ratings("VADER valence", VADER_CITATION, vals, None)


def parse_vad_lexicon(data: bytes, emotions: list[str], name: str = "uploaded lexicon") -> Ratings:
    """Parse an NRC-VAD-style TSV (term, valence, arousal, dominance; header optional)."""
    text = decode_text_file(data, name, MAX_LEXICON_BYTES)
    val, aro = {}, {}
    for n, line in enumerate(io.StringIO(text), 1):
        parts = line.rstrip("\r\n").split("\t")
        if len(parts) < 3 or not parts[0].strip():
            continue
        try:
            v, a = float(parts[1]), float(parts[2])
        except ValueError:
            if n == 1:
                continue       # header line
            raise EmotionLensError(f"lexicon line {n}: valence and arousal must be numbers") from None
        term = parts[0].strip().lower()
        val[term], aro[term] = v, a
    if not val:
        raise EmotionLensError("lexicon has no rows of the form: term<TAB>valence<TAB>arousal<TAB>dominance")
    pick = lambda d: np.array([d.get(e, np.nan) for e in emotions], dtype=np.float64)
    ratings = Ratings(name, f"{name} (uploaded by the user)", pick(val), pick(aro))
    if ratings.coverage() == 0:
        raise EmotionLensError("lexicon rates none of the 171 emotion words")
    return ratings
