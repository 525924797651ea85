"""Read the residual stream at chosen layers in one forward pass.

Hooks live only inside the ``capture`` context manager and are removed in ``finally``,
so an exception in a forward pass (or in the caller's block) never leaves a hook behind,
and they hold the model's lock, so concurrent requests never see each other's hooks.
A hook either keeps a layer's hidden states or hands them to a reducer that folds them
into a small summary right away (the build step averages millions of tokens and must not
hold them all). With ``stop_early`` the pass ends after the deepest requested block,
which makes reading a middle layer cheaper than a full forward pass.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterable

import torch

from .devices import to_cpu
from .hooks import block_hooks, check_layers

if TYPE_CHECKING:
    from .models import LoadedModel

Reducer = Callable[[int, torch.Tensor], Any]
# Position 0 is an attention sink: its residual stream dwarfs every other token's and says
# nothing about the text, so baselines, scales and summaries start after it.
SINK_TOKENS = 1


class _StopForward(Exception):
    """Raised by the deepest hook to skip the blocks nobody asked for."""


class ResidualCapture:
    def __init__(self, lm: LoadedModel, layers: Iterable[int], reduce: Reducer | None, stop_early: bool):
        self.lm = lm
        self.layers = check_layers(lm.n_layers, layers, lm.name)
        self.reduce = reduce
        self.stop_early = stop_early
        self.outputs: dict[int, Any] = {}

    def hook(self, layer: int):
        last = self.layers[-1]

        def fn(hidden: torch.Tensor) -> None:
            hidden = to_cpu(hidden)
            self.outputs[layer] = self.reduce(layer, hidden) if self.reduce else hidden
            if self.stop_early and layer == last:
                raise _StopForward

        return fn

    def run(self, **inputs):
        """One forward pass; fills ``outputs`` and returns the model output (None if stopped early)."""
        self.outputs = {}
        with torch.inference_mode():
            try:
                return self.lm.model(**on_device(self.lm, inputs), use_cache=False)
            except _StopForward:
                return None


@contextmanager
def capture(lm: LoadedModel, layers: Iterable[int], reduce: Reducer | None = None, stop_early: bool = False):
    """Context manager yielding a ``ResidualCapture`` whose hooks are removed on exit (``core.hooks``)."""
    cap = ResidualCapture(lm, layers, reduce, stop_early)
    with block_hooks(lm, {layer: cap.hook(layer) for layer in cap.layers}):
        yield cap


def on_device(lm: LoadedModel, inputs) -> dict:
    """The model's inputs on its (first) device; a no-op on the CPU."""
    return {k: v.to(lm.device) if isinstance(v, torch.Tensor) else v for k, v in dict(inputs).items()}


def encode_batch(lm: LoadedModel, texts: list[str], max_tokens: int | None = None) -> dict:
    """Tokenise with right padding (positions of real tokens match the unbatched run)."""
    tok = lm.tokenizer
    side = tok.padding_side
    tok.padding_side = "right"
    try:
        return tok(texts, return_tensors="pt", padding=True, truncation=max_tokens is not None, max_length=max_tokens)
    finally:
        tok.padding_side = side


def last_token(attention_mask: torch.Tensor) -> Reducer:
    """Reducer: each sequence's hidden state at its last real token (right padding), float64
    ``[batch, d_model]``: where a prompt that ends in the reply header decides how to answer."""
    last = attention_mask.sum(1) - 1

    def fn(layer: int, hidden: torch.Tensor):
        return hidden[torch.arange(hidden.shape[0]), last].double()

    return fn


def per_text(
    lm: LoadedModel, texts: list[str], layers: Iterable[int], reducer: Callable[[torch.Tensor], Reducer], max_tokens: int | None = None
) -> torch.Tensor:
    """One batched pass summarising each text at each layer, ``[len(texts), len(layers), d_model]``:
    ``reducer(attention_mask)`` makes the reducer, which gives ``[batch, d_model]`` per layer."""
    layers = sorted(set(layers))
    batch = encode_batch(lm, texts, max_tokens)
    with capture(lm, layers, reduce=reducer(batch["attention_mask"]), stop_early=True) as cap:
        cap.run(**batch)
    return torch.stack([cap.outputs[l] for l in layers], 1)


def layer_last(lm: LoadedModel, texts: list[str], layers: Iterable[int]) -> torch.Tensor:
    """Residual stream at each text's last token per layer, ``[len(texts), len(layers), d_model]`` float64."""
    return per_text(lm, texts, layers, last_token)


def mean_from(starts: tuple[int, ...], attention_mask: torch.Tensor) -> Reducer:
    """Reducer: per start and sequence, the mean hidden state over real tokens at positions >= start.

    A sequence no longer than a start falls back to its tokens from position 1 (0 if it has
    only one), so no text is silently dropped. Output: ``[len(starts), batch, d_model]`` float64.
    """
    mask = attention_mask.bool()
    n_real = mask.sum(1, keepdim=True)
    pos = torch.arange(mask.shape[1]).unsqueeze(0)
    fallback = (n_real > 1).long()
    keeps = [mask & (pos >= torch.where(n_real > s, torch.full_like(n_real, s), torch.clamp(fallback, max=s))) for s in starts]

    def fn(layer: int, hidden: torch.Tensor):
        h = hidden.double()
        return torch.stack([(h * k.unsqueeze(-1)).sum(1) / k.sum(1, keepdim=True) for k in keeps])

    return fn


def layer_means(lm: LoadedModel, texts: list[str], layers: Iterable[int], start: int = 0, max_tokens: int | None = None) -> torch.Tensor:
    """Mean residual stream per text and layer, ``[len(texts), len(layers), d_model]`` float64."""

    def one_start(mask: torch.Tensor) -> Reducer:
        mean = mean_from((start,), mask)
        return lambda layer, hidden: mean(layer, hidden)[0]

    return per_text(lm, texts, layers, one_start, max_tokens)
