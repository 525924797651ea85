"""Forward hooks on decoder blocks: the one place that checks layers, registers hooks, unpacks a
block's output and removes the hooks again.

Reading the residual stream (``core.activations.capture``) and adding to it (``core.steering.
steering_hooks``) are both a function of one block's hidden output. Hooks live only inside
``block_hooks``, which holds the model's lock (hooks sit on shared modules: one request at a
time) and removes them in ``finally``, whatever happens inside. Hooks stacked on one block run in
the order they were registered, each seeing what the previous one returned, so steering
registered before a capture is what the capture reads.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

import torch

from .errors import EmotionLensError

if TYPE_CHECKING:
    from .models import LoadedModel

# fn(hidden [batch, tokens, d_model]) -> a replacement for the block's hidden output, or None to keep it
BlockHook = Callable[[torch.Tensor], torch.Tensor | None]


def check_layers(n_layers: int, layers: Iterable[int], name: str) -> list[int]:
    """The layers, sorted and unique, or one clear message for the first one out of range."""
    layers = sorted(set(int(l) for l in layers))
    bad = [l for l in layers if not 0 <= l < n_layers]
    if bad:
        raise EmotionLensError(f"layer {bad[0]} is out of range: {name} has layers 0..{n_layers - 1}")
    return layers


def _wrap(fn: BlockHook):
    def hook(module, args, output):
        hidden = output[0] if isinstance(output, tuple) else output
        new = fn(hidden)
        if new is None:
            return output
        return (new, *output[1:]) if isinstance(output, tuple) else new

    return hook


@contextmanager
def block_hooks(lm: LoadedModel, hooks: dict[int, BlockHook]) -> Iterator[None]:
    """Run ``hooks[layer]`` on the output of block ``layer`` during every forward pass inside."""
    layers = check_layers(lm.n_layers, hooks, lm.name)
    blocks, handles = lm.blocks, []
    with lm.lock:
        try:
            for layer in layers:
                handles.append(blocks[layer].register_forward_hook(_wrap(hooks[layer])))
            yield
        finally:
            for handle in handles:
                handle.remove()
