"""Does a bigger model earn its place? The pilot of issue 34, by the rule in the README.

    .venv/bin/python -m study.model_pilot --models smollm2-135m-instruct,gemma3-270m,qwen2.5-coder-1.5b-instruct

Every model reads the same stories: the first ``--stories`` (6) of each emotion in corpus order.
Story means start at token 10 (the build's default) and the neutral PCs explaining half the
neutral dialogues' variance are projected out, as the build does. At every second layer:

- story CV: folds hold out one story per emotion (6 folds); each held-out story's own emotion is
  ranked among all 171 by readouts fitted on the other folds, at every shrinkage of
  ``core.readout.SHRINKAGES`` (1.0: the paper's concept vectors). Reported: top-1/top-5 per
  layer, for the concept vectors and for the best shrinkage (the same grid for every model);
- geometry of the concept vectors fitted on all the pilot stories: PC1 and the strongest of the
  first 5 PCs against Warriner valence, PC2 and the strongest against arousal.

Report only (the validation set never decides): at the layer with the best story-CV top-5, the
implicit scenarios' top-3 and the numeric sweeps' mean signed Spearman rho, read over the user's
words, by the readout at its best shrinkage, calibrated on the pilot stories.

Decision (README, written before this ran): each model at its best layer for each criterion,
Qwen goes on to a full build only if it beats Gemma by >= 5 points of story-CV top-5 or by
>= 0.10 in the strongest |r| of the first 5 PCs with Warriner valence.

Activations are checkpointed in the user cache (apart from the full build's), so a killed run
resumes. Writes docs/model-pilot.json and prints the table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from core import corpus, load_model
from core import readout as ro
from core.build import emotion_directions, neutral_pcs
from core.collect import STARTS, neutral_moments, story_means, work_dir
from core.geometry import best_pc, correlate, pca
from core.ratings import warriner
from core.validate import prompt_readings

START = 10
NEUTRAL_VARIANCE = 0.5
OUT = Path("docs/model-pilot.json")


def pilot_stories(per_emotion: int) -> tuple[list[corpus.Story], np.ndarray, np.ndarray, list[str]]:
    """The first ``per_emotion`` stories of each emotion, their labels and folds (index within emotion)."""
    emotions = list(corpus.emotions())
    seen: dict[str, int] = {}
    chosen, fold = [], []
    for s in corpus.load_stories():
        k = seen.get(s.emotion, 0)
        if k < per_emotion:
            chosen.append(s)
            fold.append(k)
            seen[s.emotion] = k + 1
    labels = np.array([emotions.index(s.emotion) for s in chosen])
    return chosen, labels, np.array(fold), emotions


def geometry(v: np.ndarray, emotions: list[str]) -> dict:
    res = pca(v, 5)
    rt = warriner(emotions)
    best_v, rv = best_pc(res.scores, rt.valence)
    best_a, ra = best_pc(res.scores, rt.arousal)
    return {
        "pc1_valence_r": round(correlate(res.scores[:, 0], rt.valence)[0], 3),
        "best_valence_pc": best_v + 1,
        "best_valence_r": round(abs(rv), 3),
        "pc2_arousal_r": round(correlate(res.scores[:, 1], rt.arousal)[0], 3),
        "best_arousal_pc": best_a + 1,
        "best_arousal_r": round(abs(ra), 3),
    }


def validation_at(lm, x: np.ndarray, labels: np.ndarray, pcs: np.ndarray, shrinkage: float, layer: int, emotions: list[str]) -> dict:
    """Implicit scenarios and numeric sweeps at one layer, read over the user's words (report only)."""
    vs = corpus.load_validation()
    model = ro.fit(x, labels, len(emotions), pcs, shrinkage)

    def read(text):
        return model.z(prompt_readings(lm, text, [layer])[0, 0][None])[0]  # position "words"

    scen = sorted({emotions.index(i["emotion"]) for i in vs.implicit})
    top3 = []
    for item in vs.implicit:
        z, own = read(item["text"]), emotions.index(item["emotion"])
        top3.append(int((z[scen] > z[own]).sum() + 1 <= 3))
    rhos = []
    for sw in vs.sweeps:
        zs = np.stack([read(sw["template"].replace("{X}", str(v))) for v in sw["values"]])
        for direction, sign in (("rising", 1), ("falling", -1)):
            for name in sw.get(direction, []):
                rho = spearmanr(sw["values"], zs[:, emotions.index(name)]).statistic
                rhos.append(0.0 if np.isnan(rho) else sign * float(rho))
    top3_rate, rho = round(float(np.mean(top3)), 3), round(float(np.mean(rhos)), 3)
    return {"layer": layer, "shrinkage": shrinkage, "implicit_top3": top3_rate, "sweep_rho": rho}


def run_model(name: str, per_emotion: int) -> dict:
    t0 = time.time()
    lm = load_model(name)
    stories, labels, fold_of, emotions = pilot_stories(per_emotion)
    work = work_dir(lm) / f"pilot-{per_emotion}"
    work.mkdir(parents=True, exist_ok=True)

    def progress(stage, done, total):
        print(f"\r{name} {stage} {done}/{total} ({time.time() - t0:.0f} s)", end="", file=sys.stderr, flush=True)

    means = story_means(lm, stories, work, 8, progress)[STARTS.index(START)]  # [n, L, D]
    mean, cov = neutral_moments(lm, corpus.load_neutral(), work, progress)
    print(file=sys.stderr)
    rows = []
    for layer in range(0, lm.n_layers, 2):
        pcs, _ = neutral_pcs(cov[layer], NEUTRAL_VARIANCE)
        x = means[:, layer].astype(np.float64)
        cv = {s: ro.accuracy(r) for s, r in ro.cross_validate(x, labels, len(emotions), pcs, fold_of=fold_of).items()}
        best_s = max(cv, key=lambda s: (cv[s]["top5"], cv[s]["top1"]))
        v = emotion_directions(x, labels, len(emotions), pcs)
        rows.append(
            {
                "layer": layer,
                "concept_top1": round(cv[1.0]["top1"], 3),
                "concept_top5": round(cv[1.0]["top5"], 3),
                "best_shrinkage": best_s,
                "top1": round(cv[best_s]["top1"], 3),
                "top5": round(cv[best_s]["top5"], 3),
                **geometry(v, emotions),
            }
        )
        print(f"{name} layer {layer}: {rows[-1]}", file=sys.stderr, flush=True)
    best = max(rows, key=lambda r: (r["top5"], r["top1"]))
    pcs, _ = neutral_pcs(cov[best["layer"]], NEUTRAL_VARIANCE)
    val = validation_at(lm, means[:, best["layer"]].astype(np.float64), labels, pcs, best["best_shrinkage"], best["layer"], emotions)
    return {
        "model": name,
        "n_layers": lm.n_layers,
        "d_model": lm.d_model,
        "stories": len(stories),
        "layers": rows,
        "best_cv_layer": best["layer"],
        "best_top5": max(r["top5"] for r in rows),
        "best_top1": max(r["top1"] for r in rows),
        "best_valence_r": max(r["best_valence_r"] for r in rows),
        "best_arousal_r": max(r["best_arousal_r"] for r in rows),
        "validation_at_best_cv_layer": val,
        "seconds": round(time.time() - t0),
    }


def decide(results: dict) -> dict:
    qwen, gemma = results.get("qwen2.5-coder-1.5b-instruct"), results.get("gemma3-270m")
    if not (qwen and gemma):
        return {}
    gain_top5 = qwen["best_top5"] - gemma["best_top5"]
    gain_valence = qwen["best_valence_r"] - gemma["best_valence_r"]
    return {
        "rule": "Qwen builds in full only if its best story-CV top-5 beats Gemma's by >= 0.05 "
        "or its best |r| of PCs 1-5 with Warriner valence by >= 0.10",
        "top5_gain": round(gain_top5, 3),
        "valence_gain": round(gain_valence, 3),
        "passes": bool(gain_top5 >= 0.05 or gain_valence >= 0.10),
    }


def to_markdown(doc: dict) -> str:
    """The pilot's tables, as docs/model-pilot.md shows them."""
    models = doc["models"].values()
    out = [
        "| model | layers | best story-CV layer | top-1 | top-5 | concept vectors top-5 | best \\|r\\| valence (PC, layer) "
        "| PC1 r valence | best \\|r\\| arousal | PC2 r arousal | implicit top-3 | sweep rho |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in models:
        rows = m["layers"]
        b = next(r for r in rows if r["layer"] == m["best_cv_layer"])
        v = max(rows, key=lambda r: r["best_valence_r"])
        a = max(rows, key=lambda r: r["best_arousal_r"])
        val = m["validation_at_best_cv_layer"]
        out.append(
            f"| {m['model']} | {m['n_layers']} | {b['layer']} (λ {b['best_shrinkage']}) | {b['top1']:.3f} | {b['top5']:.3f} "
            f"| {max(r['concept_top5'] for r in rows):.3f} | {v['best_valence_r']:.3f} (PC{v['best_valence_pc']}, layer {v['layer']}) "
            f"| {b['pc1_valence_r']:+.3f} | {a['best_arousal_r']:.3f} (PC{a['best_arousal_pc']}, layer {a['layer']}) "
            f"| {b['pc2_arousal_r']:+.3f} | {val['implicit_top3']:.3f} | {val['sweep_rho']:+.3f} |"
        )
    for m in models:
        out += ["", f"**{m['model']}** ({m['stories']} stories, {m['seconds']} s on this machine), every second layer:", ""]
        out += [
            "| layer | top-1 | top-5 (λ) | concept top-1 / top-5 | PC1 r valence | best \\|r\\| valence (PC) | PC2 r arousal |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in m["layers"]:
            out.append(
                f"| {r['layer']} | {r['top1']:.3f} | {r['top5']:.3f} ({r['best_shrinkage']}) "
                f"| {r['concept_top1']:.3f} / {r['concept_top5']:.3f} "
                f"| {r['pc1_valence_r']:+.3f} | {r['best_valence_r']:.3f} (PC{r['best_valence_pc']}) | {r['pc2_arousal_r']:+.3f} |"
            )
    d = doc.get("decision") or {}
    if d:
        verdict = "passes: Qwen goes on to the full build" if d["passes"] else "fails: Qwen is not built in full or shipped"
        gains = f"top-5 gain over Gemma {d['top5_gain']:+.3f} (needs +0.05), valence gain {d['valence_gain']:+.3f} (needs +0.10)"
        out += ["", f"Decision: {gains}: **{verdict}**."]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="smollm2-135m-instruct,gemma3-270m,qwen2.5-coder-1.5b-instruct")
    ap.add_argument("--stories", type=int, default=6)
    ap.add_argument("--markdown", action="store_true", help="print the tables of docs/model-pilot.json and stop")
    args = ap.parse_args()
    if args.markdown:
        print(to_markdown(json.loads(OUT.read_text())))
        return
    results = json.loads(OUT.read_text())["models"] if OUT.exists() else {}
    for name in args.models.split(","):
        results[name] = run_model(name, args.stories)
        OUT.write_text(json.dumps({"models": results, "decision": decide(results)}, indent=1))
    for r in results.values():
        print(
            f"{r['model']:30s} best CV layer {r['best_cv_layer']:2d}/{r['n_layers']}: "
            f"top-1 {r['best_top1']:.3f} top-5 {r['best_top5']:.3f} "
            f"| valence |r| {r['best_valence_r']:.3f} arousal |r| {r['best_arousal_r']:.3f} | {r['validation_at_best_cv_layer']}"
        )
    print(json.dumps(decide(results), indent=1))


if __name__ == "__main__":
    main()
