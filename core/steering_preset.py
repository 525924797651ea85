"""The steering preset: the set-up a model's steering study chose, resolved to what steering takes.

The study (``study/``) writes ``cached_vectors/<model>/steering-preset.json``: the kind of
direction, the layers, a starting strength, and which emotion is pushed the other way against
each (``opposite``, at ``against`` × the strength), with the held-out verdicts that judged it.
Steering, the CLI and the pages read it here, so the simplest call gets the study's best set-up.
Without a preset: the paper's concept vectors at the default layer, nothing pushed against.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .vectors import EmotionVectors

PRESET_FILE = "steering-preset.json"
DEFAULT_STRENGTH = 0.3


@dataclass(frozen=True)
class SteeringPreset:
    kind: str
    layers: tuple[int, ...]
    strength: float = DEFAULT_STRENGTH
    against: float = 0.0  # the opposite's share, pushed the other way
    opposite: dict[str, str] = field(default_factory=dict)
    positions: str = "all"
    name: str | None = None  # the study's name for the set-up; None: no study
    verdicts: tuple[dict, ...] = ()  # held-out verdicts (``core.verdicts``)

    def strengths(self, emotion: str, strength: float) -> dict[str, float]:
        """What the preset steers for one emotion at one strength: the emotion, and its opposite
        pushed the other way where the preset steers against it."""
        if self.against and emotion in self.opposite and strength:
            return {emotion: strength, self.opposite[emotion]: -self.against * strength}
        return {emotion: strength}

    def expand(self, strengths: dict[str, float]) -> dict[str, float]:
        """Every emotion's ``strengths`` merged; a strength asked for by name wins over a push against."""
        out: dict[str, float] = {}
        for e, s in strengths.items():
            for k, v in self.strengths(e, s).items():
                out[k] = out.get(k, 0.0) + v if k not in strengths else strengths[k]
        return out


def fallback(ev: EmotionVectors) -> SteeringPreset:
    return SteeringPreset(kind="concept", layers=(ev.default_layer,))


def load_preset(ev: EmotionVectors) -> SteeringPreset:
    """The preset beside the model's vectors, or the fallback when there is none, it cannot be read,
    or its directions are not in these vectors."""
    from .vectors import vectors_dir

    try:
        raw = json.loads((vectors_dir(ev.model_name) / PRESET_FILE).read_text(encoding="utf-8"))
        preset = SteeringPreset(
            kind=raw["kind"],
            layers=tuple(raw["layers"]),
            strength=float(raw["strength"]),
            against=float(raw.get("against", 0.0)),
            opposite=dict(raw.get("opposite", {})),
            positions=raw.get("positions", "all"),
            name=raw.get("name"),
            verdicts=tuple(raw.get("verdicts", [])),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return fallback(ev)
    if not ev.has_directions(preset.kind) or max(preset.layers) >= ev.n_layers:
        return fallback(ev)
    return preset


def layers_label(layers) -> str:
    """ "layer 12" or "layers 4–20 (strength split evenly)", for captions and method lines."""
    layers = list(layers)
    return f"layer {layers[0]}" if len(layers) == 1 else f"layers {layers[0]}–{layers[-1]} (strength split evenly)"
