"""Emotion Lens core library: models, activations, emotion vectors, scoring, geometry, steering.

No Streamlit here: the app and the CLI are thin layers over these names.
"""

from .errors import EmotionLensError
from .models import DEFAULT_MODEL, PRESETS, LoadedModel, load_model
from .monitor import monitor
from .scoring import TokenScores, score
from .steering import steer_generate
from .vectors import EmotionVectors, load_vectors

__all__ = [
    "EmotionLensError",
    "DEFAULT_MODEL",
    "PRESETS",
    "LoadedModel",
    "load_model",
    "EmotionVectors",
    "load_vectors",
    "TokenScores",
    "score",
    "steer_generate",
    "monitor",
]
