"""Emotion Lens core library: models, activations, emotion vectors, scoring, geometry."""
from .errors import EmotionLensError
from .models import DEFAULT_MODEL, PRESETS, LoadedModel, load_model

__all__ = ["EmotionLensError", "DEFAULT_MODEL", "PRESETS", "LoadedModel", "load_model"]
