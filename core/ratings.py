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
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from .errors import EmotionLensError
from .transcript import decode_text_file

MAX_LEXICON_BYTES = 20 * 1024 * 1024
VADER_CITATION = "VADER lexicon (Hutto & Gilbert, ICWSM 2014; MIT licence): mean of 10 human valence ratings per word, -4..+4"


@dataclass
class Ratings:
    name: str
    citation: str
    valence: np.ndarray  # per emotion, NaN where the lexicon lacks the word
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
                continue  # header line
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


WARRINER_FILE = "Ratings_Warriner_et_al.csv"
WARRINER_CITATION = (
    "Warriner, Kuperman & Brysbaert (2013), Norms of valence, arousal, and dominance for "
    "13,915 English lemmas, Behavior Research Methods 45; CC BY-NC-ND 3.0: mean human "
    "ratings, 1..9"
)


@lru_cache(maxsize=1)
def warriner_norms() -> dict[str, tuple[float, float]]:
    """Word → (valence, arousal) from the shipped Warriner et al. norms, read once."""
    import csv

    from .paths import ASSETS

    with open(ASSETS / "ratings" / WARRINER_FILE, encoding="utf-8", newline="") as fh:
        return {row["Word"]: (float(row["V.Mean.Sum"]), float(row["A.Mean.Sum"])) for row in csv.DictReader(fh)}


def warriner(emotions: list[str]) -> Ratings:
    """Valence and arousal from the shipped Warriner et al. norms (exact lemma matches only)."""
    norms = warriner_norms()
    pick = lambda i: np.array([norms[e][i] if e in norms else np.nan for e in emotions], dtype=np.float64)
    return Ratings("Warriner valence/arousal", WARRINER_CITATION, pick(0), pick(1))


WORD = re.compile(r"[a-z]+(?:['’][a-z]+)*")


def word_valence(text: str) -> float:
    """Mean human-rated valence (1 unpleasant … 9 pleasant) of the text's words that Warriner et al.
    rate; NaN if none. A second outside judge of a reply beside VADER, with other blind spots: it
    ignores negation ("not happy" reads as happy), where VADER is swayed by a few strong words
    (sad similes with "like" and "heart" read as positive)."""
    norms = warriner_norms()
    rated = [norms[w][0] for w in WORD.findall(text.lower()) if w in norms]
    return float(np.mean(rated)) if rated else float("nan")


def human_valence(emotions: list[str]) -> Ratings:
    """One valence per word from both shipped sources: VADER where it rates the word, else
    Warriner et al. moved onto VADER's scale (5 → 0, 1..9 → -4..+4). More words get a sign."""
    v, w = vader_valence(emotions).valence, warriner(emotions).valence - 5.0
    return Ratings("human valence", f"{VADER_CITATION}; else {WARRINER_CITATION}, minus 5", np.where(np.isnan(v), w, v), None)


def ridge_cv(x: np.ndarray, y: np.ndarray, folds: int = 10) -> tuple[float, np.ndarray, int]:
    """How well a linear read-out of the vectors predicts a rating: cross-validated Pearson r,
    the direction fitted on all rated emotions (unit norm), and n."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold, cross_val_predict

    mask = ~np.isnan(y)
    model = RidgeCV(alphas=np.logspace(-3, 3, 13))
    pred = cross_val_predict(model, x[mask], y[mask], cv=KFold(folds, shuffle=True, random_state=0))
    w = model.fit(x[mask], y[mask]).coef_
    return float(np.corrcoef(pred, y[mask])[0, 1]), w / np.linalg.norm(w), int(mask.sum())


def affect_plane(v: np.ndarray, ratings: Ratings) -> dict:
    """The directions in emotion space that best predict valence and arousal (ridge, 10-fold CV),
    and every emotion's coordinates along them: a plane fitted to human ratings, not found."""
    v = np.asarray(v, np.float64)
    centred = v - v.mean(0, keepdims=True)
    out: dict[str, Any] = {"ratings": ratings.name, "citation": ratings.citation}
    for axis, y in (("valence", ratings.valence), ("arousal", ratings.arousal)):
        if y is None:
            continue
        r, w, n = ridge_cv(centred, y)
        out[axis] = {"cv_r": r, "n": n, "coords": centred @ w}
    return out
