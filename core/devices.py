"""Where a model runs and in what precision: the names users type, resolved once at load.

float32 on the CPU is the default and all the tests need. Everything read back from the model
(hidden states, logits) is turned into CPU float32 at the hook, so the maths downstream is the
same whatever the device; inputs are moved to the model's first device before each pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .errors import EmotionLensError

DEVICES = ("cpu", "cuda", "mps", "auto")
DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class Placement:
    device: str  # "cpu", "cuda", "mps", or "auto" (accelerate spreads the model over what there is)
    dtype: str

    @property
    def torch_dtype(self) -> torch.dtype:
        return getattr(torch, self.dtype)

    def load_kwargs(self) -> dict:
        """``from_pretrained`` arguments: ``device_map="auto"`` only when accelerate should place it."""
        kw: dict = {"dtype": self.dtype}
        if self.device == "auto":
            kw["device_map"] = "auto"
        return kw


def placement(device: str = "cpu", dtype: str = "float32") -> Placement:
    """Check what the user asked for against this machine; ``auto`` means every GPU there is
    (accelerate's ``device_map="auto"``, for models larger than one), else Apple's GPU, else the CPU."""
    device, dtype = (device or "cpu").strip().lower(), (dtype or "float32").strip().lower()
    if device not in DEVICES:
        raise EmotionLensError(f"unknown device '{device}': choose one of {', '.join(DEVICES)}")
    if dtype not in DTYPES:
        raise EmotionLensError(f"unknown dtype '{dtype}': choose one of {', '.join(DTYPES)}")
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if device == "auto":
        device = "auto" if torch.cuda.is_available() else "mps" if mps else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise EmotionLensError("--device cuda: this machine has no CUDA GPU that torch can use (use cpu or auto)")
    if device == "mps" and not mps:
        raise EmotionLensError("--device mps: this machine has no Apple GPU that torch can use (use cpu or auto)")
    return Placement(device, dtype)


def to_cpu(hidden: torch.Tensor) -> torch.Tensor:
    """A hidden state as CPU float32 (free when it already is): what every reader downstream expects."""
    return hidden.detach().to("cpu", torch.float32)


def free_bytes(device: torch.device) -> int:
    """Memory a new batch may use: free GPU memory, or the RAM the OS says is available."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    import psutil

    return int(psutil.virtual_memory().available)


def batch_size_for(lm, max_tokens: int) -> int:
    """Texts per forward pass so that one pass's activations take at most a quarter of the free
    memory: per text, a block's working set (about 16 × d_model per token, the MLP's expansion
    included) and its attention scores. At most 8 on a CPU, where bigger batches are no faster,
    and 64 on a GPU."""
    width = torch.finfo(lm.placement.torch_dtype).bits // 8
    heads = getattr(lm.model.config, "num_attention_heads", 16)
    per_text = max_tokens * (16 * lm.d_model + heads * max_tokens) * width
    cap = 8 if lm.device.type == "cpu" else 64
    return max(1, min(cap, free_bytes(lm.device) // 4 // per_text))
