"""Build the token-level reading into a model's vectors file (``python -m core build --token``).

The set-up (layer, direction kind, shrinkage, normalisation, running-mean decay) is the one
the token study chose by cross-validation on the training passages
(``cached_vectors/<model>/token-study.json``, written by ``study/token_study.py``); this stage
only fits it on all of them and calibrates it. The token pass is checkpointed in the user
cache, so an interrupted build resumes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import corpus
from .errors import EmotionLensError
from .passages import MARKER, STORY_STRIDE, token_activations, training_passages
from .paths import cache_dir
from .token_reading import DIRECTION_KINDS, calibrate, fit_directions, normalise, row_mean, running_by_passage
from .vectors import EmotionVectors, vectors_dir

if TYPE_CHECKING:
    from .models import LoadedModel
    from .vectors import EmotionVectors

STUDY_FILE = "token-study.json"


def load_study(folder: Path) -> dict:
    path = Path(folder) / STUDY_FILE
    try:
        study = json.loads(path.read_text(encoding="utf-8"))
        chosen = study["chosen"]
        chosen["layer"], chosen["decay"], chosen["directions"], chosen["norm"]
    except FileNotFoundError:
        raise EmotionLensError(
            f"no token study in {folder}: run `python -m study.token_study --model NAME "
            "--layers L1,L2,…` first, which chooses the set-up this stage fits"
        ) from None
    except (ValueError, KeyError, TypeError):
        raise EmotionLensError(f"{path} is not a token study (it needs a 'chosen' set-up)") from None
    return study


def formats_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(corpus.CORPUS.glob("formats*.jsonl")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def build_token_reading(lm: LoadedModel, ev: EmotionVectors, study: dict, progress=None, passages=None) -> EmotionVectors:
    """Fit the study's chosen set-up on every training passage (or the ``passages`` given) and
    add it to ``ev``."""
    c = study["chosen"]
    layer, decay = int(c["layer"]), float(c["decay"])
    kind, _, shrink = c["directions"].partition(" λ=")
    shrink = float(shrink) if shrink else float(ev.readout_meta.get("shrinkage", 0.5))
    if kind not in DIRECTION_KINDS:
        raise EmotionLensError(f"token study chose unknown directions {c['directions']!r}")
    passages = training_passages(ev.emotions) if passages is None else passages
    # the study's layers, so that its checkpointed token pass is reused when there is one
    layers = sorted(set(study.get("layers", [])) | {layer})
    ts = token_activations(lm, passages, layers, cache_dir() / "study" / lm.name, progress=progress, load=[layer])
    keep = ts.labels != MARKER
    raw = np.asarray(ts.hidden[layer], np.float32)
    centre = row_mean(raw, keep).astype(np.float32) if c["norm"] == "unit" else None
    x = normalise(raw, centre)
    E = len(ev.emotions)
    pcs = ev.removed_pcs(layer)
    w = fit_directions(x, ts.labels, ts.passage, len(passages), kind, shrink, pcs, E)
    mean, std = calibrate(running_by_passage(x @ w.T, ts.passage, keep, decay)[keep])
    ev.extras.update(token_directions=w, token_mean=mean.astype(np.float32), token_std=std.astype(np.float32))
    if centre is not None:
        ev.extras["token_centre"] = centre.astype(np.float32)
    else:
        ev.extras.pop("token_centre", None)
    counts = {f: sum(p.form == f for p in passages) for f in ("plain", "chat", "dialogue", "neutral")}
    ev.meta["token_reading"] = {
        "layer": layer,
        "decay": decay,
        "directions": kind,
        "shrinkage": shrink if kind in ("token", "readout") else 1.0,
        "norm": c["norm"],
        "method": DIRECTION_KINDS[kind],
        "calibration": "mean and std of the running projection over every training token (emotional and "
        "neutral, chat markers and the attention sink left out)",
        "selection": study.get("rule"),
        "folds": study.get("folds"),
        "cv": {k: c[k] for k in c if k not in ("layer", "norm", "directions", "decay")},
        "passages": counts,
        "stories_per_emotion": f"every {STORY_STRIDE}rd story (8 of 24)",
        "tokens": int(keep.sum()),
        "formats_hash": formats_hash(),
        "corpus_hash": corpus.corpus_hash(),
    }
    return ev


def save_token_reading(lm: LoadedModel, out: str | None = None, progress=None) -> Path:
    folder = Path(out or vectors_dir(lm.name))
    ev = EmotionVectors.load(folder)
    problem = ev.mismatch(lm)
    if problem:
        raise EmotionLensError(problem)
    build_token_reading(lm, ev, load_study(folder), progress)
    ev.save(folder)
    return folder
