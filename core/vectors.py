"""``EmotionVectors``: the on-disk format of DESIGN.md and the checks that guard it.

``cached_vectors/<model>/vectors.safetensors`` holds the arrays, ``meta.json`` the
provenance. Only safetensors and JSON are ever read, so a user's file cannot run code.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import EmotionLensError
from .paths import CACHED_VECTORS, atomic_path, write_text_atomic

if TYPE_CHECKING:
    from .models import LoadedModel

FORMAT_VERSION = 3
# A bound on what a vectors file may make us allocate: a 1.5B model's (28 layers x d 1536) is
# 66 MB; a 7B model's (32 x 4096) would be ~200 MB.
MAX_VECTORS_BYTES = 256 * 1024 * 1024
READING_KINDS = ("readout", "concept")
BASELINES = ("stories", "neutral")
KIND_LABELS = {"readout": "readout (probe directions)", "concept": "concept vectors (the paper's)"}
BASELINE_LABELS = {"stories": "z vs typical emotional text (the stories)", "neutral": "z vs neutral chat (the paper's view)"}
# The readout's share in "blend" steering directions, found on the steering study's choosing
# prompts (SmolLM2: 0.25 kept happy's judge and lifted its reading; 0.5 cost sad its judge).
BLEND_READOUT_WEIGHT = 0.25
# Optional per-layer arrays (format 2): readout directions and every calibration.
OPTIONAL = {
    "readout": 3,
    "readout_mean": 2,
    "readout_std": 2,
    "readout_neutral_mean": 2,
    "readout_neutral_std": 2,
    "story_mean": 2,
    "story_std": 2,
}
# The token-level reading (format 3), one layer: directions [E, D], calibration [E], and the
# centre [D] that tokens are normalised around when the reading normalises them.
TOKEN_ARRAYS = {"token_directions": ("E", "D"), "token_mean": ("E",), "token_std": ("E",), "token_centre": ("D",)}


@dataclass(frozen=True)
class Reading:
    """One summary reading, resolved once: which directions (``kind``), z against which baseline, at
    which layer, with the calibration that turns a projection into z and the line that says so."""

    kind: str
    baseline: str
    layer: int
    directions: np.ndarray  # [E, D]
    mean: np.ndarray  # [E]
    std: np.ndarray  # [E]
    method: str
    note: str | None = None  # why the file gave something else than was asked

    def project(self, hidden: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw projections of ``hidden`` ``[T, D]`` and their z-scores, ``[T, E]`` each, float32."""
        raw = hidden @ self.directions.T
        return raw.astype(np.float32), ((raw - self.mean) / self.std).astype(np.float32)


@dataclass
class EmotionVectors:
    vectors: np.ndarray  # [n_layers, n_emotions, d_model], unit rows
    baseline_mean: np.ndarray  # [n_layers, n_emotions]
    baseline_std: np.ndarray  # [n_layers, n_emotions]
    meta: dict
    neutral_pcs: np.ndarray | None = None  # [n_layers, k_max, d_model], zero-padded
    extras: dict = field(default_factory=dict)
    # readout [L, E, D]; readout_mean/std (stories), readout_neutral_mean/std, and the concept
    # vectors' story calibration story_mean/std, all [L, E]; readout_heldout* (one layer, one
    # fold left out) for honest checks. Absent in format-1 files.

    @property
    def has_readout(self) -> bool:
        return "readout" in self.extras and "readout_mean" in self.extras

    @property
    def has_token_reading(self) -> bool:
        return "token_directions" in self.extras and isinstance(self.meta.get("token_reading"), dict)

    def token_reading(self):
        """The token-level reading (``core.token_reading.TokenReading``), or None for files that
        predate it (their colours then fall back to the summary reading, and say so)."""
        if not self.has_token_reading:
            return None
        from .token_reading import TokenReading

        m = self.meta["token_reading"]
        return TokenReading(
            int(m["layer"]),
            self.extras["token_directions"],
            self.extras.get("token_centre"),
            float(m["decay"]),
            self.extras["token_mean"],
            self.extras["token_std"],
        )

    @cached_property
    def families(self):
        """Named families of the 171 (``core.families``), from the concept vectors at the default layer."""
        from .families import build_families
        from .ratings import human_valence

        return build_families(self.at(), self.emotions, human_valence(self.emotions).valence)

    @property
    def readout_meta(self) -> dict:
        return self.meta.get("readout", {}) if self.has_readout else {}

    def resolve(self, kind: str | None = None, baseline: str | None = None) -> tuple[str, str, str | None]:
        """(kind, baseline, note): the reading asked for, or what this file can give and why."""
        kind, baseline = kind or "readout", baseline or "stories"
        if kind not in READING_KINDS or baseline not in BASELINES:
            raise EmotionLensError(
                f"unknown reading {kind}/{baseline}: kind is one of {', '.join(READING_KINDS)}, baseline one of {', '.join(BASELINES)}"
            )
        note = None
        if kind == "readout" and not self.has_readout:
            kind, note = "concept", "this vectors file predates the readout: reading the concept vectors"
        if baseline == "stories" and kind == "concept" and "story_mean" not in self.extras:
            baseline = "neutral"
            note = (note or "this vectors file has no story calibration") + "; z is against neutral chat"
        return kind, baseline, note

    def reading_layer(self, kind: str | None = None) -> int:
        """The default layer of a reading: the readout's was chosen by cross-validation."""
        kind = self.resolve(kind)[0]
        return int(self.readout_meta.get("layer", self.default_layer)) if kind == "readout" else self.default_layer

    @property
    def has_contrast(self) -> bool:
        return "contrast" in self.extras

    def has_directions(self, kind: str) -> bool:
        """Whether this file can give ``kind`` directions (concept, readout, contrast or blend)."""
        return {
            "concept": True,
            "readout": self.has_readout,
            "contrast": self.has_contrast,
            "blend": self.has_readout and self.has_contrast,
        }.get(kind, False)

    def directions(self, kind: str, layer: int) -> np.ndarray:
        """One layer's rows of the concept vectors, the readout's directions, the contrast
        directions (``core.contrast``; for steering, not unit length), or the blend of the last
        two: each contrast row at unit length plus ``BLEND_READOUT_WEIGHT`` × its readout row at
        unit length. Contrast moves what the model says; the small readout share steers it toward
        text the readout itself reads as that emotion (contrast "happy" alone makes replies read
        joyful and cheerful, not happy)."""
        if kind == "blend":
            from .geometry import unit_rows

            contrast, readout = (self.extras[k][layer].astype(np.float32) for k in ("contrast", "readout"))
            return unit_rows(contrast) + BLEND_READOUT_WEIGHT * unit_rows(readout)
        return self.extras[kind][layer] if kind in ("readout", "contrast") else self.vectors[layer]

    def calibration(self, kind: str, baseline: str, layer: int) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std that turn a projection into z for one reading."""
        if kind == "readout":
            prefix = "readout_" if baseline == "stories" else "readout_neutral_"
            return self.extras[prefix + "mean"][layer], self.extras[prefix + "std"][layer]
        if baseline == "stories":
            return self.extras["story_mean"][layer], self.extras["story_std"][layer]
        return self.baseline_mean[layer], self.baseline_std[layer]

    @property
    def emotions(self) -> list[str]:
        return list(self.meta["emotions"])

    @property
    def n_layers(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def d_model(self) -> int:
        return int(self.vectors.shape[2])

    @property
    def default_layer(self) -> int:
        return int(self.meta["default_layer"])

    @property
    def model_name(self) -> str:
        return self.meta["model"]

    def index(self, emotion: str) -> int:
        try:
            return self.emotions.index(emotion.strip().lower())
        except ValueError:
            near = difflib.get_close_matches(emotion.strip().lower(), self.emotions, n=3)
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            raise EmotionLensError(f"unknown emotion '{emotion}'{hint}") from None

    def removed_pcs(self, layer: int) -> np.ndarray:
        """The neutral principal components projected out at ``layer``, ``[k, d_model]`` float64."""
        if self.neutral_pcs is None:
            raise EmotionLensError("these vectors carry no neutral PCs: rebuild them with `python -m core build`")
        return self.neutral_pcs[layer][: self.meta["method"]["neutral_pcs_removed"][layer]].astype(np.float64)

    def layer(self, layer: int | None) -> int:
        from .hooks import check_layers

        return check_layers(self.n_layers, [self.default_layer if layer is None else layer], self.model_name)[0]

    def at(self, layer: int | None = None) -> np.ndarray:
        """The ``[n_emotions, d_model]`` matrix of one layer."""
        return self.vectors[self.layer(layer)]

    def reading(self, kind: str | None = None, baseline: str | None = None, layer: int | None = None) -> Reading:
        """A summary reading resolved once: what was asked for, or what this file can give and why,
        with its directions and calibration at its layer (default: the layer chosen for the kind)."""
        kind, baseline, note = self.resolve(kind, baseline)
        layer = self.layer(self.reading_layer(kind) if layer is None else layer)
        mean, std = self.calibration(kind, baseline, layer)
        return Reading(kind, baseline, layer, self.directions(kind, layer), mean, std, self._describe(kind, baseline, layer, note), note)

    def describe_reading(self, kind: str | None, baseline: str | None, layer: int | None = None) -> str:
        """One line for the viewer and CLI: model, layer, which directions, which z (and any fallback)."""
        return self.reading(kind, baseline, layer).method

    def _describe(self, kind: str, baseline: str, layer: int, note: str | None) -> str:
        what = KIND_LABELS[kind]
        r = self.readout_meta
        if kind == "readout" and r:
            what += (
                f": covariance-corrected mean difference, shrinkage {r['shrinkage']}, chosen with layer "
                f"{r['layer']} by {r.get('folds', 5)}-fold story cross-validation"
            )
        line = f"{self.model_name} · layer {layer}/{self.n_layers - 1} · {what} · {BASELINE_LABELS[baseline]}"
        return line + (f" ({note})" if note else "")

    def describe_token_reading(self) -> str:
        """One line for what tokens show: model, layer, directions, running mean, calibration."""
        m = self.meta.get("token_reading") or {}
        if not self.has_token_reading:
            return f"{self.model_name} · no token-level reading"
        kind = {
            "token": f"token-level probe (shrinkage {m['shrinkage']})",
            "token-concept": "token class means",
            "readout": "story-level readout",
            "concept": "concept-vector recipe",
        }.get(m["directions"], m["directions"])
        run = f"running mean over ~{1 / (1 - m['decay']):.0f} tokens" if m["decay"] > 0 else "each token alone"
        norm = ", tokens normalised" if m.get("norm") == "unit" else ""
        return (
            f"{self.model_name} · layer {m['layer']}/{self.n_layers - 1} · token reading: {kind}{norm}, {run}, "
            f"z per token vs training text · chosen by {m.get('folds', 3)}-fold cross-validation"
        )

    def describe(self, layer: int | None = None) -> str:
        """One line for figure captions: model, layer and method."""
        layer = self.layer(layer)
        m = self.meta.get("method", {})
        removed = m.get("neutral_pcs_removed")
        pcs = f"{removed[layer]} neutral PCs" if isinstance(removed, list) else "neutral PCs"
        share = m.get("neutral_variance")
        share = f" ({share:.0%} of neutral variance)" if isinstance(share, (int, float)) else ""
        n_stories = sum(self.meta.get("stories_per_emotion", {}).values())
        return (
            f"{self.model_name} · layer {layer}/{self.n_layers - 1} · {len(self.emotions)} emotion vectors "
            f"from {n_stories} stories, mean from token {m.get('start_token', '?')}, {pcs}{share} projected out"
        )

    # --- persistence ---------------------------------------------------------------
    def save(self, folder: Path) -> None:
        from safetensors.numpy import save_file

        folder = Path(folder)
        arrays = {
            "vectors": self.vectors.astype(np.float32),
            "baseline_mean": self.baseline_mean.astype(np.float32),
            "baseline_std": self.baseline_std.astype(np.float32),
        }
        if self.neutral_pcs is not None:
            arrays["neutral_pcs"] = self.neutral_pcs.astype(np.float32)
        # contrast directions live in their own file (core.contrast), beside this one
        arrays.update({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in self.extras.items() if k != "contrast"})
        meta = {k: v for k, v in self.meta.items() if k not in ("contrast", "tensors_sha256")} | {"format_version": FORMAT_VERSION}
        # Two files cannot be replaced in one step: meta.json names the tensors it was written with,
        # so a pair split by a crash between the two renames is caught on load, not read as one.
        with atomic_path(folder / "vectors.safetensors") as tmp:
            save_file(arrays, str(tmp))
            meta["tensors_sha256"] = hashlib.sha256(tmp.read_bytes()).hexdigest()
        write_text_atomic(folder / "meta.json", json.dumps(meta, indent=1))

    @classmethod
    def load(cls, folder: Path) -> "EmotionVectors":
        folder = Path(folder)
        tensors, meta = folder / "vectors.safetensors", folder / "meta.json"
        if not tensors.is_file() or not meta.is_file():
            raise EmotionLensError(
                f"no emotion vectors in {folder} (need vectors.safetensors and meta.json): "
                f"build them with `python -m core build --model {folder.name}`"
            )
        data = tensors.read_bytes()
        try:
            ev = cls.from_bytes(data, meta.read_text(encoding="utf-8"))
            sha = ev.meta.get("tensors_sha256")
            if sha and sha != hashlib.sha256(data).hexdigest():
                raise EmotionLensError("vectors.safetensors is not the file meta.json was written with (damaged, or a save was cut short)")
        except EmotionLensError as exc:
            name = folder.name
            raise EmotionLensError(
                f"the emotion vectors in {folder} cannot be used: {exc}. Restore the shipped copy with "
                f"`git checkout -- cached_vectors/{name}` or rebuild them with `python -m core build --model {name}`"
            ) from None
        from .contrast import load_contrast

        contrast = load_contrast(folder, ev.vectors.shape)
        # attached only when made for these emotions on these weights
        if contrast and contrast[1].get("emotions") == ev.emotions and contrast[1].get("weights_sha256") == ev.meta.get("weights_sha256"):
            ev.extras["contrast"], ev.meta["contrast"] = contrast
        return ev

    @classmethod
    def from_bytes(cls, tensors: bytes, meta_json: str) -> "EmotionVectors":
        """Parse an uploaded or stored pair, checking shapes before anything uses them."""
        from safetensors.numpy import load

        if len(tensors) > MAX_VECTORS_BYTES:
            raise EmotionLensError(f"vectors file is {len(tensors) >> 20} MB; the limit is {MAX_VECTORS_BYTES >> 20} MB")
        try:
            arrays = load(tensors)
        except Exception as exc:
            raise EmotionLensError(f"not a valid safetensors file ({' '.join(str(exc).split())[:120]})") from None
        try:
            meta = json.loads(meta_json)
        except ValueError as exc:
            raise EmotionLensError(f"meta.json is not valid JSON ({exc})") from None
        for key in ("vectors", "baseline_mean", "baseline_std"):
            if key not in arrays:
                raise EmotionLensError(f"vectors file lacks the '{key}' tensor")
        v = arrays.pop("vectors")
        if v.ndim != 3 or not isinstance(meta, dict) or len(meta.get("emotions", [])) != v.shape[1]:
            raise EmotionLensError(
                f"vectors have shape {list(v.shape)} but meta.json lists "
                f"{len(meta.get('emotions', [])) if isinstance(meta, dict) else 0} emotions"
            )
        for key in ("baseline_mean", "baseline_std", *OPTIONAL):
            if key in arrays and arrays[key].shape != v.shape[: OPTIONAL.get(key, 2)]:
                raise EmotionLensError(f"{key} has shape {list(arrays[key].shape)}, expected {list(v.shape[: OPTIONAL.get(key, 2)])}")
        sizes = {"E": v.shape[1], "D": v.shape[2]}
        for key, dims in TOKEN_ARRAYS.items():
            if key in arrays and arrays[key].shape != tuple(sizes[d] for d in dims):
                raise EmotionLensError(f"{key} has shape {list(arrays[key].shape)}, expected {[sizes[d] for d in dims]}")
        if "token_directions" in arrays:
            tr = meta.get("token_reading")
            if not isinstance(tr, dict) or not 0 <= int(tr.get("layer", -1)) < v.shape[0] or not 0 <= float(tr.get("decay", -1)) < 1:
                raise EmotionLensError("vectors file has a token reading but meta.json does not describe it")
        if "readout" in arrays and not isinstance(meta.get("readout"), dict):
            raise EmotionLensError("vectors file has readout directions but meta.json does not describe them")
        if "default_layer" not in meta or not 0 <= int(meta["default_layer"]) < v.shape[0]:
            raise EmotionLensError("meta.json has no valid default_layer")
        return cls(v, arrays.pop("baseline_mean"), arrays.pop("baseline_std"), meta, arrays.pop("neutral_pcs", None), extras=arrays)

    # --- model match ---------------------------------------------------------------
    def mismatch(self, lm: LoadedModel) -> str | None:
        """What differs between these vectors and a loaded model, or None if they match."""
        problems = []
        if self.n_layers != lm.n_layers:
            problems.append(f"{self.n_layers} layers vs the model's {lm.n_layers}")
        if self.d_model != lm.d_model:
            problems.append(f"d_model {self.d_model} vs the model's {lm.d_model}")
        sha = self.meta.get("weights_sha256")
        if sha and lm.sha256 and sha != lm.sha256:
            problems.append(f"weights sha256 {sha[:12]}… vs the model's {lm.sha256[:12]}…")
        if not problems:
            return None
        return f"vectors for '{self.model_name}' do not match model '{lm.name}': " + "; ".join(problems)


def vectors_dir(model_name: str) -> Path:
    safe = model_name.strip("/").replace("/", "__")
    return CACHED_VECTORS / safe


def load_vectors(lm: LoadedModel, folder: Path | None = None) -> EmotionVectors:
    """The vectors for ``lm`` (from ``cached_vectors/`` unless a folder is given), checked against it."""
    ev = EmotionVectors.load(folder or vectors_dir(lm.name))
    problem = ev.mismatch(lm)
    if problem:
        raise EmotionLensError(problem)
    return ev


def new_meta(lm: LoadedModel, emotions: list[str], **fields) -> dict:
    return {
        "model": lm.name,
        "source": lm.source,
        "weights_sha256": lm.sha256,
        "n_layers": lm.n_layers,
        "d_model": lm.d_model,
        "emotions": list(emotions),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **fields,
    }
