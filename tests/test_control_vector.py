"""The llama.cpp control-vector export, read back with the gguf package."""

import numpy as np
import pytest

from core import EmotionLensError
from core.control_vector import llama_cpp_arch, write_llama_cpp
from core.steering import steering_direction


def test_export_reads_back_with_names_shapes_values_and_metadata(lm, ev, tmp_path):
    import gguf

    path = write_llama_cpp(tmp_path / "calm.gguf", lm, ev, {"calm": 0.5, "desperate": -0.2}, [ev.default_layer, 4])
    reader = gguf.GGUFReader(str(path))
    field = lambda key: reader.fields[key]
    arch = field("general.architecture")
    assert bytes(arch.parts[arch.data[0]]).decode() == "controlvector"
    hint = field("controlvector.model_hint")
    assert bytes(hint.parts[hint.data[0]]).decode() == llama_cpp_arch(lm) == "llama"
    count = field("controlvector.layer_count")
    assert int(count.parts[count.data[0]][0]) == 2
    tensors = {t.name: np.asarray(t.data) for t in reader.tensors}
    assert sorted(tensors) == sorted([f"direction.{ev.default_layer}", "direction.4"])
    for layer in (4, ev.default_layer):
        got = tensors[f"direction.{layer}"]
        assert got.dtype == np.float32 and got.shape == (ev.d_model,)
        # two layers share the strengths, as steer_generate spreads them
        assert np.allclose(got, steering_direction(lm, ev, {"calm": 0.25, "desperate": -0.1}, layer), atol=1e-6)


def test_export_refuses_what_llama_cpp_cannot_load(lm, ev, tmp_path):
    with pytest.raises(EmotionLensError, match="blocks 1"):
        write_llama_cpp(tmp_path / "x.gguf", lm, ev, {"calm": 0.5}, [0])
    with pytest.raises(EmotionLensError, match="non-zero"):
        write_llama_cpp(tmp_path / "x.gguf", lm, ev, {"calm": 0.0}, [5])
    assert not list(tmp_path.iterdir())  # nothing half-written
