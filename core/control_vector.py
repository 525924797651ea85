"""Export steering as a llama.cpp control vector, so the same model can be steered there.

llama.cpp adds tensor ``direction.N`` to the output of its block N (counted from 0, as here;
block 0 cannot carry one), after every token, as ``steering_hooks`` does with positions
"all". The tensors are already scaled to the strengths, so no extra scale is needed.
"""

from __future__ import annotations

import errno
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import EmotionLensError
from .paths import atomic_path
from .steering import steering_additions

if TYPE_CHECKING:
    from .models import LoadedModel
    from .vectors import EmotionVectors


def llama_cpp_arch(lm: LoadedModel) -> str:
    """llama.cpp's name for the architecture (its ``controlvector.model_hint``)."""
    kind = getattr(lm.model.config, "model_type", "") or "unknown"
    return kind.removesuffix("_text")


def control_vector(
    lm: LoadedModel, ev: EmotionVectors, strengths: dict[str, float], layers: list[int], kind: str = "concept"
) -> dict[int, np.ndarray]:
    """{llama.cpp block index: float32 ``[d_model]`` addition} for the steering asked for (the
    strengths split over the layers, as ``steer_generate`` does)."""
    if not strengths or not any(strengths.values()):
        raise EmotionLensError("give at least one emotion with a non-zero strength")
    for layer in layers:
        if not 1 <= layer < lm.n_layers:
            raise EmotionLensError(f"llama.cpp control vectors cover blocks 1..{lm.n_layers - 1}; got {layer}")
    return {layer: vec.astype(np.float32) for layer, vec in steering_additions(lm, ev, strengths, layers, kind).items()}


def write_llama_cpp(
    path, lm: LoadedModel, ev: EmotionVectors, strengths: dict[str, float], layers: list[int], kind: str = "concept"
) -> Path:
    """Write a control-vector GGUF (atomically): tensors ``direction.N`` and the metadata
    llama.cpp checks (architecture ``controlvector``, model hint, layer count)."""
    import gguf

    vectors = control_vector(lm, ev, strengths, layers, kind)
    path = Path(path)
    with atomic_path(path) as tmp:
        writer = gguf.GGUFWriter(str(tmp), "controlvector")
        writer.add_string("controlvector.model_hint", llama_cpp_arch(lm))
        writer.add_uint32("controlvector.layer_count", len(vectors))
        for layer, vec in vectors.items():
            writer.add_tensor(f"direction.{layer}", vec)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        _check_written(tmp, vectors, path)
    return path


def _check_written(tmp: Path, vectors: dict[int, np.ndarray], path: Path) -> None:
    """Read the file back before it replaces anything: the GGUF writer does not notice a write cut
    short by a full disk, and would otherwise leave a truncated control vector in place."""
    import gguf

    try:
        back = {t.name: np.asarray(t.data) for t in gguf.GGUFReader(str(tmp)).tensors}
        whole = all(np.array_equal(back[f"direction.{l}"].reshape(-1), v) for l, v in vectors.items())
    except Exception:
        whole = False
    if not whole:
        raise OSError(errno.EIO, "the file did not read back whole (is the disk full?)", str(path))
