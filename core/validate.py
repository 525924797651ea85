"""The paper's checks, on the held-out validation set only (the build never reads it).

Every text is read once with all layers captured, so one run gives each metric per layer
and the layer that does best.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from . import corpus
from .geometry import correlate, pca
from .paths import write_text_atomic
from .ratings import VADER_CITATION, vader_valence
from .probe import forward, project
from .transcript import Turn


def _content_z(lm, ev, turns_or_text, layers) -> dict[int, np.ndarray]:
    """Per layer, the mean z over the words of the last turn (its template header left out)."""
    fw = forward(lm, turns_or_text, layers)
    span = fw.turns[-1]
    lo, hi = span.reply_start, span.end
    return {l: project(fw.hidden[l][lo:hi], ev, l)[1].mean(0) for l in layers}


def _pc_valence(v: np.ndarray, valence: np.ndarray, k: int = 0) -> tuple[float, int]:
    return correlate(pca(v, k + 1).scores[:, k], valence)


def valence_structure(v: np.ndarray, valence: np.ndarray) -> dict:
    """How valence sits in emotion space: along PC1, along the best of the first 5 PCs, and
    how well any direction predicts it (ridge regression, 10-fold cross-validated)."""
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import cross_val_predict
    res = pca(v, 5)
    rs = [correlate(res.scores[:, k], valence)[0] for k in range(5)]
    mask = ~np.isnan(valence)
    pred = cross_val_predict(RidgeCV(alphas=np.logspace(-3, 3, 13)), v[mask], valence[mask], cv=10)
    best = int(np.argmax(np.abs(rs)))
    return {"ratings": VADER_CITATION, "n": int(mask.sum()), "pc1_r": round(abs(rs[0]), 3),
            "best_pc": best + 1, "best_pc_r": round(abs(rs[best]), 3),
            "explained": [round(float(x), 3) for x in res.explained],
            "ridge_cv_r": round(float(np.corrcoef(pred, valence[mask])[0, 1]), 3)}


def _user(text: str):
    return [Turn("user", text)]


@dataclass
class LayerReport:
    layer: int
    implicit_top1: float
    implicit_top3: float
    implicit_rank171: float
    sweep_rho: float
    negation_drop: float
    negation_frac: float
    two_person_acc: float
    pc1_valence_r: float

    @property
    def combined(self) -> float:
        return (self.implicit_top3 + self.sweep_rho + self.two_person_acc) / 3


def run_validation(lm, ev, layers=None, progress=None) -> dict:
    layers = list(range(ev.n_layers)) if layers is None else list(layers)
    progress = progress or (lambda stage, done, total: None)
    vs = corpus.load_validation()
    emo = ev.emotions
    scen_emotions = sorted({s["emotion"] for s in vs.implicit})
    scen_idx = [emo.index(e) for e in scen_emotions]

    implicit = {l: [] for l in layers}          # (rank among 171, rank among scenario emotions)
    for i, item in enumerate(vs.implicit):
        zs = _content_z(lm, ev, _user(item["text"]), layers)
        j = emo.index(item["emotion"])
        for l in layers:
            z = zs[l]
            rank_all = int((z > z[j]).sum()) + 1
            rank_scen = int((z[scen_idx] > z[j]).sum()) + 1
            implicit[l].append((rank_all, rank_scen))
        progress("implicit", i + 1, len(vs.implicit))

    sweeps = {l: [] for l in layers}             # (sweep, emotion, direction, rho)
    sweep_rows = []
    for i, sw in enumerate(vs.sweeps):
        per_value = [_content_z(lm, ev, _user(sw["template"].replace("{X}", str(v))), layers)
                     for v in sw["values"]]
        for direction, names in (("rising", sw.get("rising", [])), ("falling", sw.get("falling", []))):
            for name in names:
                j = emo.index(name)
                for l in layers:
                    series = [pv[l][j] for pv in per_value]
                    rho = spearmanr(sw["values"], series).statistic
                    rho = 0.0 if np.isnan(rho) else float(rho) * (1 if direction == "rising" else -1)
                    sweeps[l].append(rho)
                    if l == ev.default_layer:
                        sweep_rows.append({"sweep": sw["name"], "emotion": name, "expected": direction,
                                           "rho": round(rho, 3),
                                           "z": [round(float(s), 3) for s in series]})
        progress("sweeps", i + 1, len(vs.sweeps))

    negation = {l: [] for l in layers}
    for i, item in enumerate(vs.negation):
        j = emo.index(item["emotion"])
        pos = _content_z(lm, ev, _user(item["positive"]), layers)
        neg = _content_z(lm, ev, _user(item["negated"]), layers)
        for l in layers:
            negation[l].append(float(pos[l][j] - neg[l][j]))
        progress("negation", i + 1, len(vs.negation))

    two = {l: [] for l in layers}
    for i, item in enumerate(vs.two_person):
        segs = item["segments"]
        text = " ".join(s["text"] for s in segs)
        fw = forward(lm, text, layers)
        bounds, pos = [], 0
        for s in segs:
            bounds.append((pos, pos + len(s["text"])))
            pos += len(s["text"]) + 1
        tok_seg = np.array([next((k for k, (a, b) in enumerate(bounds) if a <= o[0] < b), -1)
                            for o in fw.offsets])
        for l in layers:
            z = project(fw.hidden[l], ev, l)[1]
            for k, s in enumerate(segs):
                j = emo.index(s["emotion"])
                own = z[tok_seg == k, j].mean()
                other = z[(tok_seg != k) & (tok_seg >= 0), j].mean()
                two[l].append(float(own > other))
        progress("two-person", i + 1, len(vs.two_person))

    valence = vader_valence(emo).valence
    reports = []
    for l in layers:
        ranks = np.array(implicit[l])
        reports.append(LayerReport(
            l, float((ranks[:, 1] == 1).mean()), float((ranks[:, 1] <= 3).mean()), float(ranks[:, 0].mean()),
            float(np.mean(sweeps[l])), float(np.mean(negation[l])), float((np.array(negation[l]) > 0).mean()),
            float(np.mean(two[l])), abs(_pc_valence(ev.vectors[l], valence)[0])))
    best = max(reports, key=lambda r: r.combined)
    default = next(r for r in reports if r.layer == ev.default_layer) if ev.default_layer in layers else best
    return {"model": lm.name, "default_layer": ev.default_layer, "best_layer": best.layer,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "method": ev.describe(),
            "counts": {"implicit": len(vs.implicit), "implicit_emotions": len(scen_emotions),
                       "sweeps": len(vs.sweeps), "negation": len(vs.negation), "two_person": len(vs.two_person)},
            "default": vars(default), "best": vars(best),
            "valence": valence_structure(ev.at(), valence),
            "layers": [vars(r) for r in reports], "sweeps_at_default": sweep_rows}


def to_markdown(report: dict) -> str:
    d, b, c, v = report["default"], report["best"], report["counts"], report["valence"]
    lines = [f"# Validation: {report['model']}", "",
             f"{report['method']}. Held-out validation set: {c['implicit']} implicit scenarios over "
             f"{c['implicit_emotions']} emotions, {c['sweeps']} numeric sweeps, {c['negation']} negation pairs, "
             f"{c['two_person']} two-person passages. Scores are mean z over the user's words.", "",
             "| metric | default layer %d | best layer %d | goal |" % (d["layer"], b["layer"]),
             "|---|---|---|---|",
             f"| implicit top-1 (within scenario emotions) | {d['implicit_top1']:.0%} | {b['implicit_top1']:.0%} | |",
             f"| implicit top-3 (within scenario emotions) | {d['implicit_top3']:.0%} | {b['implicit_top3']:.0%} | ≥ 60% |",
             f"| implicit mean rank among 171 | {d['implicit_rank171']:.1f} | {b['implicit_rank171']:.1f} | |",
             f"| sweeps: mean Spearman ρ, expected direction | {d['sweep_rho']:.2f} | {b['sweep_rho']:.2f} | ≥ 0.6 |",
             f"| negation: mean z drop when negated | {d['negation_drop']:.2f} | {b['negation_drop']:.2f} | > 0 |",
             f"| negation: share of pairs that drop | {d['negation_frac']:.0%} | {b['negation_frac']:.0%} | |",
             f"| two-person: own emotion higher in own part | {d['two_person_acc']:.0%} | {b['two_person_acc']:.0%} | |",
             f"| \\|r\\| of PC1 with human valence (VADER) | {d['pc1_valence_r']:.2f} | {b['pc1_valence_r']:.2f} | ≥ 0.81 |",
             "", f"Valence at the default layer (n = {v['n']} rated emotions, {v['ratings']}): PC1 |r| = "
             f"{v['pc1_r']:.2f}; the PC that tracks it best is PC{v['best_pc']} (|r| = {v['best_pc_r']:.2f}); "
             f"a ridge regression on the vectors predicts it with cross-validated r = {v['ridge_cv_r']:.2f}. "
             f"Variance of PCs 1-5: {', '.join(f'{x:.0%}' for x in v['explained'])}.",
             "", "## By layer", "", "| layer | top-1 | top-3 | rank/171 | sweep ρ | negation drop | two-person | PC1–valence |r| |",
             "|---|---|---|---|---|---|---|---|"]
    for r in report["layers"]:
        lines.append(f"| {r['layer']} | {r['implicit_top1']:.0%} | {r['implicit_top3']:.0%} | "
                     f"{r['implicit_rank171']:.1f} | {r['sweep_rho']:.2f} | {r['negation_drop']:.2f} | "
                     f"{r['two_person_acc']:.0%} | {r['pc1_valence_r']:.2f} |")
    lines += ["", "## Sweeps at the default layer", "", "| sweep | emotion | expected | ρ |", "|---|---|---|---|"]
    for s in report["sweeps_at_default"]:
        lines.append(f"| {s['sweep']} | {s['emotion']} | {s['expected']} | {s['rho']:.2f} |")
    return "\n".join(lines) + "\n"


def write_report(report: dict, folder: Path) -> tuple[Path, Path]:
    md, js = Path(folder) / "validation.md", Path(folder) / "validation.json"
    write_text_atomic(md, to_markdown(report))
    write_text_atomic(js, json.dumps(report, indent=1))
    return md, js
