"""Steering: add emotion concept vectors to the residual stream while the model writes.

Strengths are in units of the layer's mean residual norm (``LoadedModel.residual_norms``), as
in the paper: 0.5 at a layer adds half a typical residual vector's length along the emotion.
Hooks live only inside ``steering_hooks`` and hold the model's lock, so one request's steering
never reaches another's, and they are removed in ``finally`` whatever happens inside.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch

from .activations import on_device
from .alignment import prepare
from .errors import EmotionLensError
from .hooks import block_hooks
from .steering_preset import SteeringPreset, load_preset

if TYPE_CHECKING:
    from .models import LoadedModel
    from .vectors import EmotionVectors

MAX_NEW_TOKENS = 400
MAX_SECONDS = 120.0  # the longest one reply may run, whatever the machine (others queue behind it)
MAX_BATCH = 32  # prompts one batched generation takes
STEER_POSITIONS = ("all", "generated")


STEER_KINDS = ("concept", "readout", "contrast", "blend")
# A reply that starts another turn: a base model (Gemma) keeps writing the dialogue past its own reply.
NEW_TURN = re.compile(r"\n\s*(?:User|Assistant|System)\s*:")


def turn_end(text: str) -> int | None:
    """Where ``text`` (a reply being written) starts another speaker's turn, or None."""
    m = NEW_TURN.search(text)
    return m.start() if m else None


def steering_direction(lm: LoadedModel, ev: EmotionVectors, strengths: dict[str, float], layer: int, kind: str = "concept") -> np.ndarray:
    """Σ strength_e · mean residual norm(layer) · unit direction_e, as one ``[d_model]`` array.

    ``kind`` "concept" uses the paper's concept vectors; "readout" the readout's probe
    directions, which tell emotions apart rather than describe them; "contrast" what the model
    itself does when asked to answer in that emotion (``core.contrast``); "blend" contrast with a
    little readout mixed in (``EmotionVectors.directions``). All at unit length.
    """
    if kind not in STEER_KINDS:
        raise EmotionLensError(f"steering directions are one of {', '.join(STEER_KINDS)}")
    if not ev.has_directions(kind):
        raise EmotionLensError(
            {
                "readout": "readout directions need format-2 vectors (`python -m core build`)",
                "contrast": "no contrast directions beside these vectors: build them with `python -m core build --contrast`",
                "blend": "blend directions need the readout and the contrast directions (`python -m core build --contrast`)",
            }[kind]
        )
    rows = ev.directions(kind, layer)
    total = np.zeros(ev.d_model, np.float64)
    for emotion, strength in strengths.items():
        if not np.isfinite(strength):
            raise EmotionLensError(f"strength of '{emotion}' must be a finite number")
        row = rows[ev.index(emotion)].astype(np.float64)
        total += float(strength) * row / np.linalg.norm(row)
    return (total * float(lm.residual_norms[layer])).astype(np.float32)


def steering_additions(
    lm: LoadedModel, ev: EmotionVectors, strengths: dict[str, float], layers: list[int], kind: str = "concept"
) -> dict[int, np.ndarray]:
    """{layer: addition} with the strengths split evenly over ``layers``: each of n layers adds
    1/n of each strength in its own layer's units, so a strength means the same total push
    whether it goes in at one layer or is spread thin over many."""
    layers = sorted(set(layers))
    if not layers or not any(strengths.values()):
        return {}
    share = {e: float(s) / len(layers) for e, s in strengths.items()}
    return {layer: steering_direction(lm, ev, share, layer, kind) for layer in layers}


def resolve_steer_layers(
    ev: EmotionVectors, layer: int | None, layers: list[int] | None, preset: SteeringPreset | None = None
) -> list[int]:
    """The layers a request steers at: ``layers`` when given (empty counts as not given), else
    the one ``layer``, else the model's steering preset's (``preset``, when already loaded)."""
    if layers:
        return [ev.layer(l) for l in layers]
    return [ev.layer(layer)] if layer is not None else list((preset or load_preset(ev)).layers)


@dataclass(frozen=True)
class SteeringRequest:
    """What one steering request adds, every choice resolved: what was not given comes from the
    model's steering preset (``core.steering_preset``), the set-up its steering study chose."""

    strengths: dict[str, float]
    kind: str
    layers: list[int]
    positions: str


def resolve_request(
    ev: EmotionVectors,
    strengths: dict[str, float],
    kind: str | None = None,
    layer: int | None = None,
    layers: list[int] | None = None,
    positions: str | None = None,
    against: float | None = None,
) -> SteeringRequest:
    """``against`` (None: the preset's) pushes each emotion's opposite (the preset's map) the other
    way at that share of its strength, as the study steered; 0 steers only what is named."""
    preset = load_preset(ev)
    positions = positions or preset.positions
    if positions not in STEER_POSITIONS:
        raise EmotionLensError(f"positions must be one of {', '.join(STEER_POSITIONS)}")
    share = preset.against if against is None else float(against)
    pushed = replace(preset, against=share).expand(strengths) if share else dict(strengths)
    return SteeringRequest(pushed, kind or preset.kind, resolve_steer_layers(ev, layer, layers, preset), positions)


def steering_hooks(lm: LoadedModel, additions: dict[int, np.ndarray], start: int = 0):
    """Add ``additions[layer]`` to the output of block ``layer`` at every position ``>= start``
    (``core.hooks``: removed on exit, whatever happens inside).

    Positions count across a whole generation (the prompt first, then one token per step), so
    ``start = len(prompt)`` steers only what the model writes.
    """
    seen = {layer: 0 for layer in additions}

    def add(layer: int, vec: torch.Tensor):
        def fn(hidden: torch.Tensor) -> torch.Tensor | None:
            n = hidden.shape[1]
            first = max(0, start - seen[layer])
            seen[layer] += n
            if first >= n:
                return None
            hidden = hidden.clone()
            hidden[:, first:] += vec.to(hidden.device, hidden.dtype)
            return hidden

        return fn

    return block_hooks(lm, {layer: add(layer, torch.as_tensor(vec)) for layer, vec in additions.items()})


def reply_prompt(lm: LoadedModel, ev: EmotionVectors, prompt, max_new_tokens: int) -> dict:
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
        raise EmotionLensError(f"prompt is {n_prompt:,} tokens; with the reply that exceeds the {lm.max_tokens:,} tokens {lm.name} reads")
    return enc


class _ReplyWatch:
    """A generation streamer and stopping criterion in one: it decodes the reply as it grows,
    tells ``on_text`` (the reply so far, one call per token) and ends generation at a turn boundary."""

    def __init__(self, lm: LoadedModel, n_prompt: int, on_text: Callable[[str], None] | None):
        self.lm, self.n_prompt, self.on_text, self.prompt_seen = lm, n_prompt, on_text, False
        self.ids: list[int] = []

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:  # generate sends the prompt first
            self.prompt_seen = True
            return
        self.ids += value.reshape(-1).tolist()
        if self.on_text:
            self.on_text(self.text())

    def end(self) -> None:
        pass

    def text(self) -> str:
        return decode_reply(self.lm, self.ids)

    def __call__(self, input_ids, scores, **kwargs) -> torch.Tensor:
        # each reply as generate has it now (it may stop before or after streaming the newest token)
        done = [turn_end(decode_reply(self.lm, row[self.n_prompt :].tolist(), trim=False)) is not None for row in input_ids]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


def steer_generate(
    lm: LoadedModel,
    ev: EmotionVectors,
    prompt,
    strengths: dict[str, float],
    layer: int | None = None,
    max_new_tokens: int = 60,
    seed: int | None = 0,
    layers: list[int] | None = None,
    positions: str | None = None,
    kind: str | None = None,
    against: float | None = None,
    on_text: Callable[[str], None] | None = None,
) -> str:
    """The model's reply to ``prompt`` with emotion vectors added; the same seed gives comparable
    runs, and all strengths 0 give exactly the plain reply. The reply ends where the model ends
    it or starts another turn ("User:"), for every model.

    What is not given comes from the model's steering preset, the set-up its steering study
    chose (``resolve_request``): ``steer_generate(lm, ev, prompt, {"happy": 0.5})`` steers as the
    study did, its opposite included. ``layers`` spreads the strengths over several layers
    (``steering_additions``); ``seed=None`` decodes greedily; ``on_text`` hears the reply so far
    after every token (streaming).
    """
    req = resolve_request(ev, strengths, kind, layer, layers, positions, against)
    return _generate(lm, ev, [prompt], req, max_new_tokens, seed, on_text, MAX_SECONDS)[0]


def steer_generate_batch(
    lm: LoadedModel,
    ev: EmotionVectors,
    prompts: list,
    strengths: dict[str, float],
    layer: int | None = None,
    max_new_tokens: int = 60,
    seed: int | None = 0,
    layers: list[int] | None = None,
    positions: str | None = None,
    kind: str | None = None,
    against: float | None = None,
) -> list[str]:
    """``steer_generate`` for several prompts under one steering, in one batched generation (for
    studies: on this 2-core machine, under load, Qwen 1.5B wrote 8 replies in 3.7× one reply's
    time). Rows draw from one generator, so a reply is comparable with its unsteered twin from a
    batch of the same prompts and seed, not with ``steer_generate``'s for its prompt alone."""
    if not 1 <= len(prompts) <= MAX_BATCH:
        raise EmotionLensError(f"a batch holds 1 to {MAX_BATCH} prompts")
    req = resolve_request(ev, strengths, kind, layer, layers, positions, against)
    return _generate(lm, ev, list(prompts), req, max_new_tokens, seed, None, MAX_SECONDS * len(prompts))


def _generate(lm, ev, prompts: list, req: SteeringRequest, max_new_tokens: int, seed: int | None, on_text, max_time: float) -> list[str]:
    from transformers import StoppingCriteriaList

    encs = [reply_prompt(lm, ev, p, max_new_tokens)["input_ids"][0] for p in prompts]
    n_prompt = max(len(e) for e in encs)
    pad = lm.tokenizer.eos_token_id
    # left padding: every prompt ends where the reply starts, so "generated" positions are one index
    ids = torch.full((len(encs), n_prompt), pad, dtype=torch.long)
    mask = torch.zeros((len(encs), n_prompt), dtype=torch.long)
    for i, e in enumerate(encs):
        ids[i, n_prompt - len(e) :], mask[i, n_prompt - len(e) :] = e, 1
    additions = steering_additions(lm, ev, req.strengths, req.layers, req.kind)
    sampling = {"do_sample": False} if seed is None else {"do_sample": True, "temperature": 0.8, "top_p": 0.95}
    watch = _ReplyWatch(lm, n_prompt, on_text)
    with steering_hooks(lm, additions, start=n_prompt if req.positions == "generated" else 0):
        if seed is not None:
            torch.manual_seed(int(seed))
        with torch.inference_mode():
            out = lm.model.generate(
                **on_device(lm, {"input_ids": ids, "attention_mask": mask}),
                max_new_tokens=int(max_new_tokens),
                pad_token_id=pad,
                streamer=watch if len(encs) == 1 else None,
                stopping_criteria=StoppingCriteriaList([watch]),
                max_time=max_time,  # a job holds the model (its lock) for a bounded time
                **sampling,
            )
    return [decode_reply(lm, row[n_prompt:].tolist()) for row in out]


def decode_reply(lm: LoadedModel, ids: list[int], trim: bool = True) -> str:
    """The reply's text, ended where another turn would start, and without the half character a
    length limit can leave: a character split over byte-level tokens and cut off decodes as U+FFFD,
    which is not what the model wrote."""
    text = lm.tokenizer.decode(ids, skip_special_tokens=True)
    if trim:
        end = turn_end(text)
        text = text if end is None else text[:end]
    return text.rstrip("\ufffd").strip()
