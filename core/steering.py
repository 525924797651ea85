"""Steering: add emotion concept vectors to the residual stream while the model writes.

Strengths are in units of the layer's mean residual norm (``LoadedModel.residual_norms``), as
in the paper: 0.5 at a layer adds half a typical residual vector's length along the emotion.
Hooks live only inside ``steering_hooks`` and hold the model's lock, so one request's steering
never reaches another's, and they are removed in ``finally`` whatever happens inside.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Callable

import numpy as np
import torch

from .errors import EmotionLensError
from .probe import prepare

MAX_NEW_TOKENS = 400
POSITIONS = ("all", "generated")


KINDS = ("concept", "readout", "contrast", "blend")
# A reply that starts another turn: a base model (Gemma) keeps writing the dialogue past its own reply.
NEW_TURN = re.compile(r"\n\s*(?:User|Assistant|System)\s*:")


def turn_end(text: str) -> int | None:
    """Where ``text`` (a reply being written) starts another speaker's turn, or None."""
    m = NEW_TURN.search(text)
    return m.start() if m else None


def steering_direction(lm, ev, strengths: dict[str, float], layer: int, kind: str = "concept") -> np.ndarray:
    """Σ strength_e · mean residual norm(layer) · unit direction_e, as one ``[d_model]`` array.

    ``kind`` "concept" uses the paper's concept vectors; "readout" the readout's probe
    directions, which tell emotions apart rather than describe them; "contrast" what the model
    itself does when asked to answer in that emotion (``core.contrast``); "blend" contrast with a
    little readout mixed in (``EmotionVectors.directions``). All at unit length.
    """
    if kind not in KINDS:
        raise EmotionLensError(f"steering directions are one of {', '.join(KINDS)}")
    if not ev.has_directions(kind):
        raise EmotionLensError({"readout": "readout directions need format-2 vectors (`python -m core build`)",
                                "contrast": "no contrast directions beside these vectors: build them with "
                                            "`python -m core build --contrast`",
                                "blend": "blend directions need the readout and the contrast directions "
                                         "(`python -m core build --contrast`)"}[kind])
    rows = ev.directions(kind, layer)
    total = np.zeros(ev.d_model, np.float64)
    for emotion, strength in strengths.items():
        if not np.isfinite(strength):
            raise EmotionLensError(f"strength of '{emotion}' must be a finite number")
        row = rows[ev.index(emotion)].astype(np.float64)
        total += float(strength) * row / np.linalg.norm(row)
    return (total * float(lm.residual_norms[layer])).astype(np.float32)


def steering_additions(lm, ev, strengths: dict[str, float], layers: list[int], kind: str = "concept") -> dict[int, np.ndarray]:
    """{layer: addition} with the strengths split evenly over ``layers``: each of n layers adds
    1/n of each strength in its own layer's units, so a strength means the same total push
    whether it goes in at one layer or is spread thin over many."""
    layers = sorted(set(layers))
    if not layers or not any(strengths.values()):
        return {}
    share = {e: float(s) / len(layers) for e, s in strengths.items()}
    return {layer: steering_direction(lm, ev, share, layer, kind) for layer in layers}


def resolve_steer_layers(ev, layer: int | None, layers: list[int] | None) -> list[int]:
    """The layers a request steers at: ``layers`` when given (empty counts as not given), else
    the one ``layer`` (None: the vectors' default)."""
    return [ev.layer(l) for l in layers] if layers else [ev.layer(layer)]


@contextmanager
def steering_hooks(lm, additions: dict[int, np.ndarray], start: int = 0):
    """Add ``additions[layer]`` to the output of block ``layer`` at every position ``>= start``.

    Positions count across a whole generation (the prompt first, then one token per step), so
    ``start = len(prompt)`` steers only what the model writes.
    """
    blocks, handles = lm.blocks, []
    seen = {layer: 0 for layer in additions}

    def hook(layer: int, vec: torch.Tensor):
        def fn(module, args, output):
            hidden = output[0] if isinstance(output, tuple) else output
            n = hidden.shape[1]
            first = max(0, start - seen[layer])
            seen[layer] += n
            if first < n:
                hidden = hidden.clone()
                hidden[:, first:] += vec.to(hidden.dtype)
                return (hidden, *output[1:]) if isinstance(output, tuple) else hidden
            return output
        return fn

    with lm.lock:
        try:
            for layer, vec in additions.items():
                if not 0 <= layer < lm.n_layers:
                    raise EmotionLensError(f"layer {layer} is out of range: {lm.name} has layers 0..{lm.n_layers - 1}")
                handles.append(blocks[layer].register_forward_hook(hook(layer, torch.as_tensor(vec))))
            yield
        finally:
            for handle in handles:
                handle.remove()


def reply_prompt(lm, ev, prompt, max_new_tokens: int) -> dict:
    """The chat so far, rendered with the Assistant's reply opened and tokenised, after the checks
    every generation shares: a sane length, vectors that fit the model, room for the reply."""
    if not 1 <= int(max_new_tokens) <= MAX_NEW_TOKENS:
        raise EmotionLensError(f"max_new_tokens must be between 1 and {MAX_NEW_TOKENS}")
    problem = ev.mismatch(lm)
    if problem:
        raise EmotionLensError(problem)
    text, _ = prepare(lm, prompt, open_reply=True)
    enc = lm.tokenizer(text, return_tensors="pt")
    n_prompt = enc["input_ids"].shape[1]
    if n_prompt + max_new_tokens > lm.max_tokens:
        raise EmotionLensError(f"prompt is {n_prompt:,} tokens; with the reply that exceeds the "
                               f"{lm.max_tokens:,} tokens {lm.name} reads")
    return enc


class _ReplyWatch:
    """A generation streamer and stopping criterion in one: it decodes the reply as it grows,
    tells ``on_text`` (the reply so far, one call per token) and ends generation at a turn boundary."""

    def __init__(self, lm, on_text: Callable[[str], None] | None):
        self.lm, self.on_text, self.ids, self.prompt_seen = lm, on_text, [], False

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:          # generate sends the prompt first
            self.prompt_seen = True
            return
        self.ids += value.reshape(-1).tolist()
        if self.on_text:
            self.on_text(self.text())

    def end(self) -> None:
        pass

    def text(self) -> str:
        return decode_reply(self.lm, self.ids)

    def __call__(self, input_ids, scores, **kwargs) -> torch.BoolTensor:
        done = turn_end(decode_reply(self.lm, self.ids, trim=False)) is not None
        return torch.full((input_ids.shape[0],), done, dtype=torch.bool)


def steer_generate(lm, ev, prompt, strengths: dict[str, float], layer: int | None = None,
                   max_new_tokens: int = 60, seed: int | None = 0, layers: list[int] | None = None,
                   positions: str = "all", kind: str = "concept",
                   on_text: Callable[[str], None] | None = None) -> str:
    """The model's reply to ``prompt`` with emotion vectors added; the same seed gives comparable
    runs, and all strengths 0 give exactly the plain reply. The reply ends where the model ends
    it or starts another turn ("User:"), for every model.

    ``layers`` spreads the strengths over several layers (``steering_additions``; empty: the one ``layer``);
    ``seed=None`` decodes greedily; ``on_text`` hears the reply so far after every token (streaming).
    """
    from transformers import StoppingCriteriaList
    if positions not in POSITIONS:
        raise EmotionLensError(f"positions must be one of {', '.join(POSITIONS)}")
    enc = reply_prompt(lm, ev, prompt, max_new_tokens)
    n_prompt = enc["input_ids"].shape[1]
    additions = steering_additions(lm, ev, strengths, resolve_steer_layers(ev, layer, layers), kind)
    sampling = {"do_sample": False} if seed is None else {"do_sample": True, "temperature": 0.8, "top_p": 0.95}
    watch = _ReplyWatch(lm, on_text)
    with steering_hooks(lm, additions, start=n_prompt if positions == "generated" else 0):
        if seed is not None:
            torch.manual_seed(int(seed))
        with torch.inference_mode():
            out = lm.model.generate(**enc, max_new_tokens=int(max_new_tokens), pad_token_id=lm.tokenizer.eos_token_id,
                                    streamer=watch, stopping_criteria=StoppingCriteriaList([watch]), **sampling)
    return decode_reply(lm, out[0, n_prompt:].tolist())


def decode_reply(lm, ids: list[int], trim: bool = True) -> str:
    """The reply's text, ended where another turn would start, and without the half character a
    length limit can leave: a character split over byte-level tokens and cut off decodes as U+FFFD,
    which is not what the model wrote."""
    text = lm.tokenizer.decode(ids, skip_special_tokens=True)
    if trim:
        end = turn_end(text)
        text = text if end is None else text[:end]
    return text.rstrip("\ufffd").strip()
