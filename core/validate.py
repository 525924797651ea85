"""The paper's checks, on the held-out validation set only (the build never reads it).

Each text is read once, with all layers captured and at every reading position, into
``Readings``; every reading (the readout, and the concept vectors with either baseline) is then
scored from those arrays, per layer and position, with no further model calls. The validation
set only reports: layer, shrinkage and position were chosen on the stories by the build.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.stats import spearmanr

from . import corpus, validate_tokens
from .geometry import axis_ends, best_pc, correlate, pca
from .ratings import affect_plane, vader_valence, warriner
from .scoring import READ_POSITIONS, forward, project, prompt_positions, score
from .transcript import Turn

if TYPE_CHECKING:
    from .models import LoadedModel
    from .vectors import EmotionVectors

READINGS = {"readout": ("readout", "stories"), "concept_stories": ("concept", "stories"), "concept_neutral": ("concept", "neutral")}
READING_LABELS = {
    "readout": "readout, z vs stories (default)",
    "concept_stories": "concept vectors, z vs stories",
    "concept_neutral": "concept vectors, z vs neutral chat (the paper's recipe; before the readout)",
}
GOALS = {"implicit_top3": 0.60, "implicit_median_rank": 5, "sweep_rho": 0.6, "negation_frac": 0.85, "two_person_acc": 0.80}


def prompt_readings(lm: LoadedModel, text: str, layers: list[int]) -> np.ndarray:
    """``[len(READ_POSITIONS), L, D]``: a text sent as a user message, the reply opened, read at each position."""
    fw = forward(lm, [Turn("user", text)], layers, open_reply=True)
    spans = prompt_positions(fw.turns)
    return np.stack([np.stack([fw.hidden[l][lo:hi].mean(0) for l in layers]) for lo, hi in (spans[p] for p in READ_POSITIONS)])


@dataclass
class Readings:
    """Residual-stream readings of the whole validation set, ``[..., positions, L, D]``."""

    implicit: np.ndarray  # [n, P, L, D]
    implicit_labels: np.ndarray  # [n]
    sweeps: list[np.ndarray]  # per sweep: [n_values, P, L, D]
    sweep_specs: list[dict]  # per sweep: values and expected rising/falling emotions
    negation: np.ndarray  # [n, 2 (positive, negated), P, L, D]
    negation_labels: np.ndarray
    two_person: list[tuple[np.ndarray, np.ndarray]]  # per passage: ([n_seg, L, D] own-part means,
    # [n_seg, L, D] other-parts means)
    two_person_labels: list[np.ndarray]


def collect(lm: LoadedModel, emotions: list[str], progress=None) -> Readings:
    progress = progress or (lambda stage, done, total: None)
    vs = corpus.load_validation()
    layers = list(range(lm.n_layers))
    idx = emotions.index
    implicit = []
    for i, item in enumerate(vs.implicit):
        implicit.append(prompt_readings(lm, item["text"], layers))
        progress("implicit", i + 1, len(vs.implicit))
    sweeps = []
    for i, sw in enumerate(vs.sweeps):
        sweeps.append(np.stack([prompt_readings(lm, sw["template"].replace("{X}", str(v)), layers) for v in sw["values"]]))
        progress("sweeps", i + 1, len(vs.sweeps))
    negation = []
    for i, item in enumerate(vs.negation):
        negation.append(np.stack([prompt_readings(lm, item[k], layers) for k in ("positive", "negated")]))
        progress("negation", i + 1, len(vs.negation))
    two, two_labels = [], []
    for i, item in enumerate(vs.two_person):
        segs = item["segments"]
        fw = forward(lm, " ".join(s["text"] for s in segs), layers)
        bounds, pos = [], 0
        for s in segs:
            bounds.append((pos, pos + len(s["text"])))
            pos += len(s["text"]) + 1
        seg_of = np.array([next((k for k, (a, b) in enumerate(bounds) if a <= o[0] < b), -1) for o in fw.offsets])
        hidden = np.stack([fw.hidden[l] for l in layers], 1)  # [T, L, D]
        own = np.stack([hidden[seg_of == k].mean(0) for k in range(len(segs))])
        other = np.stack([hidden[(seg_of != k) & (seg_of >= 0)].mean(0) for k in range(len(segs))])
        two.append((own, other))
        two_labels.append(np.array([idx(s["emotion"]) for s in segs]))
        progress("two-person", i + 1, len(vs.two_person))
    return Readings(
        np.stack(implicit),
        np.array([idx(x["emotion"]) for x in vs.implicit]),
        sweeps,
        vs.sweeps,
        np.stack(negation),
        np.array([idx(x["emotion"]) for x in vs.negation]),
        two,
        two_labels,
    )


def _z(ev: EmotionVectors, reading: str, layer: int, x: np.ndarray) -> np.ndarray:
    return project(x, ev, layer, *READINGS[reading])[1]


def _sweep_series(ev: EmotionVectors, rd: Readings, reading: str, layer: int, position: str):
    """Per (sweep, expected emotion): its z over the sweep's values and Spearman ρ, signed so
    that the expected direction is positive (ρ = 0 where the readings are constant)."""
    p = READ_POSITIONS.index(position)
    for sw, x in zip(rd.sweep_specs, rd.sweeps):
        zs = _z(ev, reading, layer, x[:, p, layer])
        for direction, sign in (("rising", 1), ("falling", -1)):
            for name in sw.get(direction, []):
                col = zs[:, ev.emotions.index(name)]
                rho = spearmanr(sw["values"], col).statistic
                yield sw, name, direction, col, 0.0 if np.isnan(rho) else sign * float(rho)


def evaluate(ev: EmotionVectors, rd: Readings, reading: str, layer: int, position: str) -> dict:
    """Every validation metric for one reading at one layer and position."""
    p = READ_POSITIONS.index(position)
    scen = sorted(set(rd.implicit_labels.tolist()))
    z = _z(ev, reading, layer, rd.implicit[:, p, layer])
    own = z[np.arange(len(z)), rd.implicit_labels]
    rank_all = (z > own[:, None]).sum(1) + 1
    rank_scen = (z[:, scen] > own[:, None]).sum(1) + 1
    rhos = [rho for *_, rho in _sweep_series(ev, rd, reading, layer, position)]
    zn = _z(ev, reading, layer, rd.negation[:, :, p, layer])  # [n, 2, E]
    drop = zn[np.arange(len(zn)), 0, rd.negation_labels] - zn[np.arange(len(zn)), 1, rd.negation_labels]
    two = []
    for (own_h, other_h), labels in zip(rd.two_person, rd.two_person_labels):
        a, b = _z(ev, reading, layer, own_h[:, layer]), _z(ev, reading, layer, other_h[:, layer])
        two += (a[np.arange(len(labels)), labels] > b[np.arange(len(labels)), labels]).tolist()
    return {
        "layer": layer,
        "position": position,
        "implicit_top1": float((rank_scen == 1).mean()),
        "implicit_top3": float((rank_scen <= 3).mean()),
        "implicit_median_rank": float(np.median(rank_all)),
        "implicit_mean_rank": float(rank_all.mean()),
        "sweep_rho": float(np.mean(rhos)),
        "negation_drop": float(drop.mean()),
        "negation_frac": float((drop > 0).mean()),
        "two_person_acc": float(np.mean(two)),
    }


def sweep_rows(ev: EmotionVectors, rd: Readings, reading: str, layer: int, position: str) -> list[dict]:
    return [
        {"sweep": sw["name"], "emotion": name, "expected": direction, "rho": round(rho, 3), "z": [round(float(v), 3) for v in col]}
        for sw, name, direction, col, rho in _sweep_series(ev, rd, reading, layer, position)
    ]


def ratings_report(v: np.ndarray, emotions: list[str]) -> dict:
    """PC1/PC2 against human valence/arousal (Warriner; VADER valence too), the affect plane's
    cross-validated r, and, since PC1 need not be valence, what lies at its two ends."""
    res = pca(v, 5)
    w, vader = warriner(emotions), vader_valence(emotions)
    out: dict[str, Any] = {"explained": [round(float(x), 3) for x in res.explained]}
    for name, rt in (("warriner", w), ("vader", vader)):
        best, rb = best_pc(res.scores, rt.valence)
        entry = {
            "citation": rt.citation,
            "n_valence": rt.coverage(),
            "pc1_valence_r": round(correlate(res.scores[:, 0], rt.valence)[0], 3),
            "best_valence_pc": best + 1,
            "best_valence_r": round(rb, 3),
        }
        if rt.arousal is not None:
            best, rb = best_pc(res.scores, rt.arousal)
            entry.update(
                pc2_arousal_r=round(correlate(res.scores[:, 1], rt.arousal)[0], 3),
                n_arousal=int((~np.isnan(rt.arousal)).sum()),
                best_arousal_pc=best + 1,
                best_arousal_r=round(rb, 3),
            )
        plane = affect_plane(v, rt)
        entry["plane_valence_r"] = round(plane["valence"]["cv_r"], 3)
        if "arousal" in plane:
            entry["plane_arousal_r"] = round(plane["arousal"]["cv_r"], 3)
        out[name] = entry
    out["pc1_low"], out["pc1_high"] = axis_ends(res.scores[:, 0], emotions)
    return out


def tylenol(lm: LoadedModel, ev: EmotionVectors) -> dict:
    """The two shipped Tylenol conversations at the default reading: does 8000 mg read more afraid
    than 1000 mg? Stated as measured, never tuned for."""
    examples = {e.slug: e for e in corpus.load_examples()}
    out: dict[str, Any] = {}
    for key, slug in (("normal", "01_tylenol_safe"), ("dangerous", "02_tylenol_overdose")):
        ts = score(lm, ev, list(examples[slug].messages))
        user = [s for s in ts.turns if s.role == "user"][-1]
        lo, hi = user.words
        j = ts.emotions.index("afraid")
        out[key] = {"mean_z": round(ts.mean_z()["afraid"], 3), "dose_turn_z": round(float(ts.z[lo:hi, j].mean()), 3)}
    out["more_afraid"] = out["dangerous"]["mean_z"] > out["normal"]["mean_z"]
    out["method"] = ts.meta["method"]
    return out


def run_validation(
    lm: LoadedModel, ev: EmotionVectors, progress=None, readings: Readings | None = None, story_means=None, token_level: dict | None = None
) -> dict:
    """The report. ``story_means`` (``(x, labels)`` from the build's checkpoint) adds the
    validation learning curve; ``token_level`` (``validate_tokens.run``) is computed unless given."""
    rd = readings or collect(lm, ev.emotions, progress)
    layers = range(ev.n_layers)
    r = ev.readout_meta
    position = r.get("position", "words")
    at = {"readout": ev.reading_layer("readout"), "concept_stories": ev.default_layer, "concept_neutral": ev.default_layer}
    names = [n for n in READINGS if n != "readout" or ev.has_readout]
    table = {(n, p, l): evaluate(ev, rd, n, l, p) for n in names for p in READ_POSITIONS for l in layers}
    default = names[0]
    return {
        "model": lm.name,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "method": ev.describe_reading(None, None),
        "concept_method": ev.describe(),
        "reading": {"name": default, "layer": at[default], "position": position},
        "counts": {
            "implicit": len(rd.implicit),
            "implicit_emotions": len(set(rd.implicit_labels.tolist())),
            "sweeps": len(rd.sweeps),
            "negation": len(rd.negation),
            "two_person": len(rd.two_person),
        },
        "summary": {n: table[(n, position, at[n])] for n in names},
        "positions": [table[(n, p, l)] | {"reading": n} for n in names for p in READ_POSITIONS for l in layers],
        "layers": [table[(default, position, l)] for l in layers],
        "sweeps_at_default": sweep_rows(ev, rd, default, at[default], position),
        "story_cv": r.get("cv", []),
        "learning_curve": r.get("learning_curve", []),
        "start_tokens": r.get("start_tokens", []),
        "story_positions": r.get("positions", []),
        "readout": {
            k: r[k] for k in ("layer", "shrinkage", "position", "folds", "selection", "concept_best_layer", "chat_stories") if k in r
        },
        "ratings": ratings_report(ev.at(), ev.emotions),
        "tylenol": tylenol(lm, ev),
        "token_level": token_level if token_level is not None else validate_tokens.run(lm, ev, progress),
        "validation_learning_curve": learning_curve(ev, rd, *story_means) if story_means and ev.has_readout else [],
    }


def learning_curve(ev: EmotionVectors, rd: Readings, x: np.ndarray, labels: np.ndarray, sizes=(4, 8, 12, 16, 20, 24)) -> list[dict]:
    """Validation figures of readouts fitted on the first n stories per emotion (same layer,
    shrinkage and position as the shipped one): does the readout still gain from more stories?"""
    from dataclasses import replace

    from . import readout as ro

    r = ev.readout_meta
    layer, shrink = r["layer"], r["shrinkage"]
    pcs = ev.removed_pcs(layer)
    xl = np.asarray(x[:, layer], np.float64)
    out = []
    for n in [k for k in sizes if k <= np.bincount(labels).min()]:
        idx = np.concatenate([np.flatnonzero(labels == e)[:n] for e in range(len(ev.emotions))])
        model = ro.fit(xl[idx], labels[idx], len(ev.emotions), pcs, shrink)
        arrays = {k: ev.extras[k].copy() for k in ("readout", "readout_mean", "readout_std")}
        arrays["readout"][layer], arrays["readout_mean"][layer], arrays["readout_std"][layer] = model.w, model.mean, model.std
        small = replace(ev, extras={**ev.extras, **arrays})
        out.append({"stories_per_emotion": n, **evaluate(small, rd, "readout", layer, r.get("position", "words"))})
    return out
