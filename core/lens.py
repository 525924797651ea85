"""Logit lens: which tokens an emotion direction pushes the model towards, and away from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .models import LoadedModel


@dataclass
class LensToken:
    token_id: int
    label: str  # what to show: the decoded text, or the raw token when it is a partial character
    logit: float


def token_label(tokenizer, token_id: int) -> str:
    """A readable, unambiguous label: decoded text in quotes, or the raw byte token
    (``<0xE2>``, ``âĢ``) when the token is only part of a character and decodes to '�'."""
    text = tokenizer.decode([token_id])
    if "\ufffd" in text or not text:
        return f"{tokenizer.convert_ids_to_tokens(token_id)} (part of a character)"
    return repr(text)


def logit_lens(lm: LoadedModel, direction: np.ndarray, k: int = 15) -> tuple[list[LensToken], list[LensToken]]:
    """The ``k`` tokens a direction most promotes and most suppresses, through the final norm
    and unembedding. The direction is scaled to a typical final-layer norm first, since RMSNorm
    is (nearly) scale-free but its epsilon is not."""
    import torch

    model = lm.model
    norm = getattr(getattr(model, "model", model), "norm", None)
    head = model.get_output_embeddings()
    with torch.inference_mode():
        x = torch.tensor(direction, dtype=torch.float32) * float(lm.residual_norms[-1])
        x = x.to(lm.device, head.weight.dtype)
        if norm is not None:
            x = norm(x.unsqueeze(0))[0]
        logits = head(x).float().cpu()
        logits = logits - logits.mean()
    pick = lambda ids: [LensToken(i, token_label(lm.tokenizer, i), float(logits[i])) for i in ids]
    return pick(torch.topk(logits, k).indices.tolist()), pick(torch.topk(-logits, k).indices.tolist())
