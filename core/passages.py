"""Passages for the token-level reading: an emotional part set among neutral sentences.

A token-level reading must light up where the emotion is and stay quiet around it, so it
is fitted, chosen and validated on passages whose emotional span is known: a training
story (or chat message, or dialogue) embedded in neutral sentences from the neutral corpus,
in plain and chat form. Every token then has a label: the emotion, neutral, or a chat
marker (template tokens and the attention sink, which no reading colours).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from . import corpus
from .activations import SINK_TOKENS
from .transcript import Turn

if TYPE_CHECKING:
    from .models import LoadedModel

NEUTRAL, MARKER = -1, -2  # token labels besides an emotion's index


@dataclass(frozen=True)
class Passage:
    """Turns (or one plain-text turn) and the emotional piece inside them (empty: none)."""

    turns: tuple[Turn, ...]
    emotional: str
    label: int  # emotion index, or NEUTRAL for an all-neutral passage
    form: str  # "plain", "chat", "dialogue" or "neutral"
    key: str  # stable id (held-out folds and checkpoints use it)


@lru_cache(maxsize=1)
def neutral_sentences() -> tuple[str, ...]:
    """Plain prose sentences from the neutral dialogues (no code, lists or markup)."""
    out = []
    for messages in corpus.load_neutral():
        for m in messages:
            for line in m["content"].split("\n"):
                if not line.strip() or re.search(r"[`|#*_<>{}\[\]=]|^\s*[-\d]", line):
                    continue
                for s in re.split(r"(?<=[.?])\s+", line.strip()):
                    if 6 <= len(s.split()) <= 30 and s[-1] in ".?" and s[0].isupper():
                        out.append(s)
    return tuple(dict.fromkeys(out))


def _rng(key: str) -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha1(key.encode()).digest()[:8], "little"))


def _neutral(rng: np.random.Generator, n: int) -> str:
    pool = neutral_sentences()
    return " ".join(pool[i] for i in rng.choice(len(pool), n, replace=False))


def embed(text: str, label: int, form: str, key: str) -> Passage:
    """``text`` between neutral sentences (2 before, 2 after, drawn by ``key``). ``form`` "chat"
    sends the whole passage as one user message; anything else is plain text."""
    rng = _rng(key)
    body = f"{_neutral(rng, 2)} {text} {_neutral(rng, 2)}"
    role = "user" if form == "chat" else "text"
    return Passage((Turn(role, body),), text, label, form, key)


def after_exchange(text: str, label: int, key: str) -> Passage:
    """A chat message as the user's second turn, after a neutral question and answer."""
    rng = _rng(key)
    turns = (Turn("user", _neutral(rng, 1)), Turn("assistant", _neutral(rng, 2)), Turn("user", text))
    return Passage(turns, text, label, "chat", key)


STORY_STRIDE = 3  # every third story of each emotion (8 of 24): the token pass's budget


def every_nth_story(stories, n: int = STORY_STRIDE):
    seen: dict[str, int] = {}
    out = []
    for s in stories:
        seen[s.emotion] = seen.get(s.emotion, -1) + 1
        if seen[s.emotion] % n == 0:
            out.append(s)
    return out


def training_passages(emotions: list[str], stories=None, formats=None) -> list[Passage]:
    """Every third training story of each emotion embedded (alternately plain and as a chat
    message), every chat message after a neutral exchange, every dialogue embedded in plain
    text, and the neutral dialogues as they are (all neutral)."""
    stories = every_nth_story(corpus.load_stories()) if stories is None else stories
    formats = corpus.load_formats() if formats is None else formats
    idx = {e: i for i, e in enumerate(emotions)}
    out = []
    for k, s in enumerate(stories):
        out.append(embed(s.text, idx[s.emotion], ("plain", "chat")[k % 2], "story:" + s.text))
    for f in formats:
        key = f"{f.format}:" + f.text
        out.append(after_exchange(f.text, idx[f.emotion], key) if f.format == "chat" else embed(f.text, idx[f.emotion], "dialogue", key))
    for messages in corpus.load_neutral():
        turns = tuple(Turn(m["role"], m["content"]) for m in messages)
        out.append(Passage(turns, "", NEUTRAL, "neutral", "neutral:" + "|".join(t.content for t in turns)))
    return out


def token_labels(passage: Passage, text: str, offsets, turns) -> np.ndarray:
    """Per token: the passage's label inside its emotional piece, NEUTRAL in other words,
    MARKER on template tokens and the attention sink."""
    labels = np.full(len(offsets), MARKER, np.int32)
    for span in turns:
        if span.role != "system":  # a template's own system prompt is not the passage
            lo, hi = span.words
            labels[lo:hi] = NEUTRAL
    labels[:SINK_TOKENS] = MARKER
    if passage.emotional:
        a = text.rfind(passage.emotional)
        if a < 0:
            raise ValueError(f"emotional piece not found in rendered passage {passage.key[:40]!r}")
        b = a + len(passage.emotional)
        for i, (s, e) in enumerate(offsets):
            if labels[i] == NEUTRAL and e > a and s < b:
                labels[i] = passage.label
    return labels


@dataclass
class TokenSet:
    """Token activations of many passages at a few layers, with every token's label."""

    hidden: dict[int, np.ndarray]  # layer -> [n_tokens, d_model] float32 (Gemma's overflow float16)
    labels: np.ndarray  # [n_tokens] emotion index, NEUTRAL or MARKER
    passage: np.ndarray  # [n_tokens] index of the passage each token belongs to

    def starts(self) -> np.ndarray:
        """Index of each passage's first token (passages are stored in order)."""
        return np.searchsorted(self.passage, np.arange(int(self.passage.max()) + 1))


CHUNK = 128


def _subset(arrays: dict, load: list[int]) -> dict:
    return {k: v for k, v in arrays.items() if not k.startswith("h") or int(k[1:]) in load}


def token_activations(lm: LoadedModel, passages: list[Passage], layers, work, batch_size: int = 8, progress=None, load=None) -> TokenSet:
    """Hidden states of every token of every passage at ``layers``, in chunks checkpointed under
    ``work`` (keyed by the passages, layers and weights), so an interrupted run resumes. Only the
    layers in ``load`` (default: all) are returned: a 1.5B model's tokens take ~4 GB a layer."""
    from safetensors.numpy import load_file, save_file

    from .activations import capture, encode_batch
    from .alignment import prepare, tokenize
    from .paths import atomic_path, sweep_stale_temporaries

    progress = progress or (lambda stage, done, total: None)
    layers = sorted(set(int(l) for l in layers))
    load = layers if load is None else sorted(set(int(l) for l in load))
    if not set(load) <= set(layers):
        raise ValueError(f"layers {load} are not all in the token pass's {layers}")
    folder = work / f"tokens-{lm.sha256[:12] if lm.sha256 else 'nosha'}-L{'-'.join(map(str, layers))}"
    folder.mkdir(parents=True, exist_ok=True)
    sweep_stale_temporaries(folder)
    parts = []
    n_chunks = (len(passages) + CHUNK - 1) // CHUNK
    for c in range(n_chunks):
        chunk = passages[c * CHUNK : (c + 1) * CHUNK]
        path = folder / (hashlib.sha1("|".join(p.key for p in chunk).encode()).hexdigest()[:20] + ".safetensors")
        try:
            parts.append(_subset(load_file(str(path)), load))
            progress("tokens", c + 1, n_chunks)
            continue
        except Exception:
            pass  # missing or damaged: (re)compute
        rendered = []
        for p in chunk:
            text, segments = prepare(lm, list(p.turns))
            enc, _, offsets, _, turns = tokenize(lm, text, segments)
            rendered.append((text, token_labels(p, text, offsets, turns)))
        order = sorted(range(len(chunk)), key=lambda i: len(rendered[i][1]))
        hidden: dict[int, list[Any]] = {l: [None] * len(chunk) for l in layers}
        for b in range(0, len(order), batch_size):
            idx = order[b : b + batch_size]
            batch = encode_batch(lm, [rendered[i][0] for i in idx])
            with capture(lm, layers, stop_early=True) as cap:
                cap.run(**batch)
            for l in layers:
                h = cap.outputs[l].float().numpy()
                for row, i in enumerate(idx):
                    hidden[l][i] = h[row, : len(rendered[i][1])]
        arrays = {f"h{l}": np.concatenate(hidden[l]) for l in layers}
        arrays["labels"] = np.concatenate([r[1] for r in rendered])
        arrays["passage"] = np.concatenate([np.full(len(r[1]), i, np.int32) for i, r in enumerate(rendered)])
        with atomic_path(path) as tmp:
            save_file(arrays, str(tmp))
        parts.append(_subset(arrays, load))
        progress("tokens", c + 1, n_chunks)
    loaded = {}
    for l in load:  # one layer at a time, dropping the chunks' copies as it goes
        loaded[l] = np.concatenate([part[f"h{l}"] for part in parts])
        for part in parts:
            del part[f"h{l}"]
    return TokenSet(
        loaded,
        np.concatenate([p["labels"] for p in parts]),
        np.concatenate([p["passage"] + c * CHUNK for c, p in enumerate(parts)]),
    )
