"""The paper's checks, on the held-out validation set only (the build never reads it).

Each text is read once, with all layers captured and at every reading position, into
``Readings``; every reading (the readout, and the concept vectors with either baseline) is then
scored from those arrays, per layer and position, with no further model calls. The validation
set only reports: layer, shrinkage and position were chosen on the stories by the build.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.stats import spearmanr

from . import corpus, validate_tokens
from .geometry import axis_ends, best_pc, correlate, pca
from .paths import write_text_atomic
from .probe import POSITION_LABELS, READ_POSITIONS, forward, project, prompt_positions, score
from .ratings import affect_plane, vader_valence, warriner
from .transcript import Turn

if TYPE_CHECKING:
    from .models import LoadedModel
    from .vectors import EmotionVectors

READINGS = {"readout": ("readout", "stories"), "concept_stories": ("concept", "stories"),
            "concept_neutral": ("concept", "neutral")}
READING_LABELS = {"readout": "readout, z vs stories (default)",
                  "concept_stories": "concept vectors, z vs stories",
                  "concept_neutral": "concept vectors, z vs neutral chat (the paper's recipe; before the readout)"}
GOALS = {"implicit_top3": 0.60, "implicit_median_rank": 5, "sweep_rho": 0.6, "negation_frac": 0.85,
         "two_person_acc": 0.80}


def prompt_readings(lm: LoadedModel, text: str, layers: list[int]) -> np.ndarray:
    """``[len(READ_POSITIONS), L, D]``: a text sent as a user message, the reply opened, read at each position."""
    fw = forward(lm, [Turn("user", text)], layers, open_reply=True)
    spans = prompt_positions(fw.turns)
    return np.stack([np.stack([fw.hidden[l][lo:hi].mean(0) for l in layers]) for lo, hi in
                     (spans[p] for p in READ_POSITIONS)])


@dataclass
class Readings:
    """Residual-stream readings of the whole validation set, ``[..., positions, L, D]``."""
    implicit: np.ndarray            # [n, P, L, D]
    implicit_labels: np.ndarray     # [n]
    sweeps: list[np.ndarray]        # per sweep: [n_values, P, L, D]
    sweep_specs: list[dict]         # per sweep: values and expected rising/falling emotions
    negation: np.ndarray            # [n, 2 (positive, negated), P, L, D]
    negation_labels: np.ndarray
    two_person: list[tuple[np.ndarray, np.ndarray]]   # per passage: ([n_seg, L, D] own-part means,
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
        sweeps.append(np.stack([prompt_readings(lm, sw["template"].replace("{X}", str(v)), layers)
                                for v in sw["values"]]))
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
        hidden = np.stack([fw.hidden[l] for l in layers], 1)          # [T, L, D]
        own = np.stack([hidden[seg_of == k].mean(0) for k in range(len(segs))])
        other = np.stack([hidden[(seg_of != k) & (seg_of >= 0)].mean(0) for k in range(len(segs))])
        two.append((own, other))
        two_labels.append(np.array([idx(s["emotion"]) for s in segs]))
        progress("two-person", i + 1, len(vs.two_person))
    return Readings(np.stack(implicit), np.array([idx(x["emotion"]) for x in vs.implicit]), sweeps, vs.sweeps,
                    np.stack(negation), np.array([idx(x["emotion"]) for x in vs.negation]), two, two_labels)


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
    zn = _z(ev, reading, layer, rd.negation[:, :, p, layer])                  # [n, 2, E]
    drop = zn[np.arange(len(zn)), 0, rd.negation_labels] - zn[np.arange(len(zn)), 1, rd.negation_labels]
    two = []
    for (own_h, other_h), labels in zip(rd.two_person, rd.two_person_labels):
        a, b = _z(ev, reading, layer, own_h[:, layer]), _z(ev, reading, layer, other_h[:, layer])
        two += (a[np.arange(len(labels)), labels] > b[np.arange(len(labels)), labels]).tolist()
    return {"layer": layer, "position": position,
            "implicit_top1": float((rank_scen == 1).mean()), "implicit_top3": float((rank_scen <= 3).mean()),
            "implicit_median_rank": float(np.median(rank_all)), "implicit_mean_rank": float(rank_all.mean()),
            "sweep_rho": float(np.mean(rhos)), "negation_drop": float(drop.mean()),
            "negation_frac": float((drop > 0).mean()), "two_person_acc": float(np.mean(two))}


def sweep_rows(ev: EmotionVectors, rd: Readings, reading: str, layer: int, position: str) -> list[dict]:
    return [{"sweep": sw["name"], "emotion": name, "expected": direction, "rho": round(rho, 3),
             "z": [round(float(v), 3) for v in col]}
            for sw, name, direction, col, rho in _sweep_series(ev, rd, reading, layer, position)]


def ratings_report(v: np.ndarray, emotions: list[str]) -> dict:
    """PC1/PC2 against human valence/arousal (Warriner; VADER valence too), the affect plane's
    cross-validated r, and, since PC1 need not be valence, what lies at its two ends."""
    res = pca(v, 5)
    w, vader = warriner(emotions), vader_valence(emotions)
    out: dict[str, Any] = {"explained": [round(float(x), 3) for x in res.explained]}
    for name, rt in (("warriner", w), ("vader", vader)):
        best, rb = best_pc(res.scores, rt.valence)
        entry = {"citation": rt.citation, "n_valence": rt.coverage(),
                 "pc1_valence_r": round(correlate(res.scores[:, 0], rt.valence)[0], 3),
                 "best_valence_pc": best + 1, "best_valence_r": round(rb, 3)}
        if rt.arousal is not None:
            best, rb = best_pc(res.scores, rt.arousal)
            entry.update(pc2_arousal_r=round(correlate(res.scores[:, 1], rt.arousal)[0], 3),
                         n_arousal=int((~np.isnan(rt.arousal)).sum()), best_arousal_pc=best + 1,
                         best_arousal_r=round(rb, 3))
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


def run_validation(lm: LoadedModel, ev: EmotionVectors, progress=None, readings: Readings | None = None, story_means=None,
                   token_level: dict | None = None) -> dict:
    """The report. ``story_means`` (``(x, labels)`` from the build's checkpoint) adds the
    validation learning curve; ``token_level`` (``validate_tokens.run``) is computed unless given."""
    rd = readings or collect(lm, ev.emotions, progress)
    layers = range(ev.n_layers)
    r = ev.readout_meta
    position = r.get("position", "words")
    at = {"readout": ev.reading_layer("readout"), "concept_stories": ev.default_layer,
          "concept_neutral": ev.default_layer}
    names = [n for n in READINGS if n != "readout" or ev.has_readout]
    table = {(n, p, l): evaluate(ev, rd, n, l, p) for n in names for p in READ_POSITIONS for l in layers}
    default = names[0]
    return {"model": lm.name, "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "method": ev.describe_reading(None, None), "concept_method": ev.describe(),
            "reading": {"name": default, "layer": at[default], "position": position},
            "counts": {"implicit": len(rd.implicit), "implicit_emotions": len(set(rd.implicit_labels.tolist())),
                       "sweeps": len(rd.sweeps), "negation": len(rd.negation), "two_person": len(rd.two_person)},
            "summary": {n: table[(n, position, at[n])] for n in names},
            "positions": [table[(n, p, l)] | {"reading": n} for n in names for p in READ_POSITIONS for l in layers],
            "layers": [table[(default, position, l)] for l in layers],
            "sweeps_at_default": sweep_rows(ev, rd, default, at[default], position),
            "story_cv": r.get("cv", []), "learning_curve": r.get("learning_curve", []),
            "start_tokens": r.get("start_tokens", []), "story_positions": r.get("positions", []),
            "readout": {k: r[k] for k in ("layer", "shrinkage", "position", "folds", "selection",
                                          "concept_best_layer", "chat_stories") if k in r},
            "ratings": ratings_report(ev.at(), ev.emotions),
            "tylenol": tylenol(lm, ev),
            "token_level": token_level if token_level is not None else validate_tokens.run(lm, ev, progress),
            "validation_learning_curve": learning_curve(ev, rd, *story_means) if story_means and ev.has_readout else []}


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
        arrays["readout"][layer], arrays["readout_mean"][layer], arrays["readout_std"][layer] = \
            model.w, model.mean, model.std
        small = replace(ev, extras={**ev.extras, **arrays})
        out.append({"stories_per_emotion": n, **evaluate(small, rd, "readout", layer, r.get("position", "words"))})
    return out


def _pct(x: float) -> str:
    return f"{x:.0%}"


def load_report(folder: Path) -> dict | None:
    """The validation report written by ``python -m core validate``, if there is one."""
    path = Path(folder) / "validation.json"
    return json.loads(path.read_text()) if path.exists() else None


def reading_summary(report: dict | None) -> str:
    """Why the readout is the default reading, with the held-out figures that say so."""
    if not report or "summary" not in report:
        return "The readout reads emotions; the concept vectors are the paper's directions."
    s = report["summary"]
    fig = lambda n: (f"implicit top-3 {_pct(s[n]['implicit_top3'])}, median rank {s[n]['implicit_median_rank']:.0f} "
                     "of 171" if n in s else "not measured")
    return (f"Readout: probe directions chosen to tell emotions apart (held-out validation: {fig('readout')}). "
            f"Concept vectors: the paper's directions, used for geometry and steering ({fig('concept_neutral')} "
            "against neutral chat).")


def layer_series(report: dict | None, n_layers: int) -> dict[str, list[float]]:
    """Per-layer figures of the report, for the Layers page: validation scores of the readout and,
    at the chosen shrinkage, its story cross-validation. Empty without a report."""
    if not report:
        return {}
    rows = {r["layer"]: r for r in report["layers"]}
    layers = range(n_layers)
    out = {"implicit top-3 (readout)": [rows[l]["implicit_top3"] for l in layers],
           "sweep ρ (readout)": [rows[l]["sweep_rho"] for l in layers],
           "two-person accuracy (readout)": [rows[l]["two_person_acc"] for l in layers]}
    shrink = report.get("readout", {}).get("shrinkage")
    cv = {r["layer"]: r for r in report.get("story_cv", []) if r["shrinkage"] == shrink}
    if cv:
        out["story CV top-5 (readout)"] = [cv[l]["top5"] for l in layers]
    return out


def summary_markdown(report: dict) -> str:
    """Two sentences for the Home page: what the default reading achieves, beside the paper's recipe."""
    s = report["summary"]
    if "readout" not in s:
        return f"**Validation**: implicit top-3 **{_pct(s['concept_neutral']['implicit_top3'])}** (goal ≥ 60%)."
    r, c = s["readout"], s["concept_neutral"]
    return (f"**How well it reads, on text it never saw** (python -m core validate). Given short scenarios that "
            f"never name the emotion, the readout (layer {r['layer']}) ranks the intended emotion among its 3 "
            f"strongest of 56 candidates in **{_pct(r['implicit_top3'])}** of them (goal: 60%; the paper's own "
            f"recipe here: {_pct(c['implicit_top3'])}); among all 171 emotions the intended one ranks "
            f"**{r['implicit_median_rank']:.0f}**th in the middle case (goal: 5th or better). When a number in the text "
            f"grows more alarming, readings follow it with correlation {r['sweep_rho']:.2f} (goal: 0.6); a negated "
            f"sentence reads lower than the plain one in {_pct(r['negation_frac'])} of pairs; in a passage about two "
            f"people, each one's emotion reads higher in their own part {_pct(r['two_person_acc'])} of the time "
            f"(chance: 50%)."
            + validate_tokens.summary_sentence(report.get("token_level")))


def _row(label: str, m: dict) -> str:
    return (f"| {label} | {m['layer']} | {_pct(m['implicit_top1'])} | {_pct(m['implicit_top3'])} | "
            f"{m['implicit_median_rank']:.0f} | {m['sweep_rho']:.2f} | {_pct(m['negation_frac'])} | "
            f"{_pct(m['two_person_acc'])} |")


def to_markdown(report: dict) -> str:
    c, s, rt = report["counts"], report["summary"], report["ratings"]
    pos = report["reading"]["position"]
    lines = [f"# Validation: {report['model']}", "",
             f"Default reading: {report['method']}.", "",
             f"Held-out validation set (never read by the build): {c['implicit']} implicit scenarios over "
             f"{c['implicit_emotions']} emotions, {c['sweeps']} numeric sweeps, {c['negation']} negation pairs, "
             f"{c['two_person']} two-person passages. Each text is sent as a user message and read at "
             f"{POSITION_LABELS[pos]} (the position chosen on the stories); two-person passages are read as plain "
             "text, each person's part against the others'.", "",
             "| reading | layer | implicit top-1 (of 56) | implicit top-3 (of 56) | median rank (of 171) | "
             "sweep ρ | negation drops | two-person |", "|---|---|---|---|---|---|---|---|"]
    lines += [_row(READING_LABELS[n], m) for n, m in s.items()]
    lines += [f"| goal | | | ≥ {_pct(GOALS['implicit_top3'])} | ≤ {GOALS['implicit_median_rank']} | "
              f"≥ {GOALS['sweep_rho']} | ≥ {_pct(GOALS['negation_frac'])} | ≥ {_pct(GOALS['two_person_acc'])} |"]
    ro = report.get("readout", {})
    if ro:
        lines += ["", f"Readout chosen on the stories ({ro['selection']}): layer {ro['layer']}, shrinkage "
                  f"{ro['shrinkage']}, summaries read at {POSITION_LABELS[ro['position']]}. The concept vectors' "
                  f"best story-CV layer is {ro['concept_best_layer']}; they are shown at the paper's default layer."]
    cv = [r for r in report["story_cv"] if r["shrinkage"] in (ro.get("shrinkage"), 1.0)]
    if cv:
        lines += ["", "## Story cross-validation (171-way, held out by story; chance 0.6% / 2.9%)", "",
                  "| layer | readout top-1 | readout top-5 | concept top-1 | concept top-5 |", "|---|---|---|---|---|"]
        by = {(r["layer"], r["shrinkage"]): r for r in cv}
        for l in sorted({r["layer"] for r in cv}):
            a, b = by[(l, ro["shrinkage"])], by[(l, 1.0)]
            lines.append(f"| {l} | {_pct(a['top1'])} | {_pct(a['top5'])} | {_pct(b['top1'])} | {_pct(b['top5'])} |")
    if report["learning_curve"]:
        lines += ["", f"## Learning curve (story CV at layer {ro.get('layer')})", "",
                  "| training stories per emotion | readout top-1 | readout top-5 | concept top-1 | concept top-5 |",
                  "|---|---|---|---|---|"]
        for r in report["learning_curve"]:
            lines.append(f"| {r['train_per_emotion']} | {_pct(r['readout']['top1'])} | {_pct(r['readout']['top5'])} | "
                         f"{_pct(r['concept']['top1'])} | {_pct(r['concept']['top5'])} |")
    if report["start_tokens"]:
        lines += ["", "Story CV by the token the story mean starts from: " + ", ".join(
            f"{r['start_token']}: top-1 {_pct(r['top1'])}, top-5 {_pct(r['top5'])}" for r in report["start_tokens"]) + "."]
    sp = [r for r in report["story_positions"] if r["kind"] == "readout" and r["layer"] == ro.get("layer")]
    if sp:
        lines += ["", f"Held-out stories sent as a user message ({ro['chat_stories']} stories, readout fitted without "
                  f"them, layer {ro['layer']}): " + ", ".join(
                      f"{r['position']} top-1 {_pct(r['top1'])} / top-5 {_pct(r['top5'])}" for r in sp) + "."]
    lines += ["", "## Numeric sweeps by reading position and layer (mean Spearman ρ, expected direction)", "",
              "| reading | position | " + " | ".join(str(r["layer"]) for r in report["layers"]) + " |",
              "|---|---|" + "---|" * len(report["layers"])]
    for n in s:
        for p in READ_POSITIONS:
            vals = [r["sweep_rho"] for r in report["positions"] if r["reading"] == n and r["position"] == p]
            lines.append(f"| {n} | {p} | " + " | ".join(f"{v:.2f}" for v in vals) + " |")
    lines += ["", f"## {READING_LABELS[report['reading']['name']]}, by layer (position: {pos})", "",
              "| layer | top-1 | top-3 | median rank | sweep ρ | negation drops | two-person |", "|---|---|---|---|---|---|---|"]
    for r in report["layers"]:
        lines.append(f"| {r['layer']} | {_pct(r['implicit_top1'])} | {_pct(r['implicit_top3'])} | "
                     f"{r['implicit_median_rank']:.0f} | {r['sweep_rho']:.2f} | {_pct(r['negation_frac'])} | "
                     f"{_pct(r['two_person_acc'])} |")
    w, v = rt["warriner"], rt["vader"]
    lines += ["", "## Valence and arousal (concept vectors, default layer)", "",
              "| ratings | n | PC1–valence r | best PC for valence | PC2–arousal r | best PC for arousal | "
              "affect plane: valence r | affect plane: arousal r |", "|---|---|---|---|---|---|---|---|",
              f"| Warriner et al. 2013 | {w['n_valence']} | {w['pc1_valence_r']:+.2f} | PC{w['best_valence_pc']} "
              f"({w['best_valence_r']:+.2f}) | {w['pc2_arousal_r']:+.2f} | PC{w['best_arousal_pc']} ({w['best_arousal_r']:+.2f}) | "
              f"{w['plane_valence_r']:.2f} | {w['plane_arousal_r']:.2f} |",
              f"| VADER | {v['n_valence']} | {v['pc1_valence_r']:+.2f} | PC{v['best_valence_pc']} ({v['best_valence_r']:+.2f}) "
              f"| | | {v['plane_valence_r']:.2f} | |",
              "| paper (Claude Sonnet 4.5) | | 0.81 | PC1 | 0.66 | PC2 | | |", "",
              f"PC signs are arbitrary. Variance of PCs 1-5: {', '.join(_pct(x) for x in rt['explained'])}. "
              f"PC1 runs from {', '.join(rt['pc1_low'])} to {', '.join(rt['pc1_high'])}. The affect plane is the "
              "pair of directions a ridge regression fits to the ratings (10-fold cross-validated r): fitted, not found."]
    if report.get("validation_learning_curve"):
        lines += ["", "## Learning curve on the validation set (readout fitted on the first n stories per emotion)", "",
                  "| stories per emotion | implicit top-3 | median rank | sweep ρ | negation drops | two-person |",
                  "|---|---|---|---|---|---|"]
        for r in report["validation_learning_curve"]:
            lines.append(f"| {r['stories_per_emotion']} | {_pct(r['implicit_top3'])} | {r['implicit_median_rank']:.0f} | "
                         f"{r['sweep_rho']:.2f} | {_pct(r['negation_frac'])} | {_pct(r['two_person_acc'])} |")
    t = report["tylenol"]
    lines += ["", "## The Tylenol conversations at the default reading", "",
              f"Mean 'afraid' z over the whole conversation: 8000 mg **{t['dangerous']['mean_z']:+.2f}**, 1000 mg "
              f"**{t['normal']['mean_z']:+.2f}**; over the user's dose question: {t['dangerous']['dose_turn_z']:+.2f} vs "
              f"{t['normal']['dose_turn_z']:+.2f}. The dangerous dose reads "
              f"{'more' if t['more_afraid'] else 'not more'} afraid ({t['method']})."]
    if report.get("token_level"):
        lines += [""] + validate_tokens.markdown(report["token_level"])
    lines += ["", "## Sweeps at the default reading", "", "| sweep | emotion | expected | ρ |", "|---|---|---|---|"]
    for r in report["sweeps_at_default"]:
        lines.append(f"| {r['sweep']} | {r['emotion']} | {r['expected']} | {r['rho']:.2f} |")
    return "\n".join(lines) + "\n"


def write_report(report: dict, folder: Path) -> tuple[Path, Path]:
    md, js = Path(folder) / "validation.md", Path(folder) / "validation.json"
    write_text_atomic(md, to_markdown(report))
    write_text_atomic(js, json.dumps(report, indent=1))
    return md, js
