"""The validation report as files (validation.md and .json) and as the sentences and series the
pages show (Home's summary, the viewer's reading help, the Layers page's per-layer lines)."""

from __future__ import annotations

import json
from pathlib import Path

from . import validate_tokens
from .paths import write_text_atomic
from .scoring import POSITION_LABELS, READ_POSITIONS
from .validate import GOALS, READING_LABELS


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
    fig = lambda n: (
        f"implicit top-3 {_pct(s[n]['implicit_top3'])}, median rank {s[n]['implicit_median_rank']:.0f} of 171" if n in s else "not measured"
    )
    return (
        f"Readout: probe directions chosen to tell emotions apart (held-out validation: {fig('readout')}). "
        f"Concept vectors: the paper's directions, used for geometry and steering ({fig('concept_neutral')} "
        "against neutral chat)."
    )


def layer_series(report: dict | None, n_layers: int) -> dict[str, list[float]]:
    """Per-layer figures of the report, for the Layers page: validation scores of the readout and,
    at the chosen shrinkage, its story cross-validation. Empty without a report."""
    if not report:
        return {}
    rows = {r["layer"]: r for r in report["layers"]}
    layers = range(n_layers)
    out = {
        "implicit top-3 (readout)": [rows[l]["implicit_top3"] for l in layers],
        "sweep ρ (readout)": [rows[l]["sweep_rho"] for l in layers],
        "two-person accuracy (readout)": [rows[l]["two_person_acc"] for l in layers],
    }
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
    return (
        f"**How well it reads, on text it never saw** (python -m core validate). Given short scenarios that "
        f"never name the emotion, the readout (layer {r['layer']}) ranks the intended emotion among its 3 "
        f"strongest of 56 candidates in **{_pct(r['implicit_top3'])}** of them (goal: 60%; the paper's own "
        f"recipe here: {_pct(c['implicit_top3'])}); among all 171 emotions the intended one ranks "
        f"**{r['implicit_median_rank']:.0f}**th in the middle case (goal: 5th or better). When a number in the text "
        f"grows more alarming, readings follow it with correlation {r['sweep_rho']:.2f} (goal: 0.6); a negated "
        f"sentence reads lower than the plain one in {_pct(r['negation_frac'])} of pairs; in a passage about two "
        f"people, each one's emotion reads higher in their own part {_pct(r['two_person_acc'])} of the time "
        f"(chance: 50%)." + validate_tokens.summary_sentence(report.get("token_level"))
    )


def _row(label: str, m: dict) -> str:
    return (
        f"| {label} | {m['layer']} | {_pct(m['implicit_top1'])} | {_pct(m['implicit_top3'])} | "
        f"{m['implicit_median_rank']:.0f} | {m['sweep_rho']:.2f} | {_pct(m['negation_frac'])} | "
        f"{_pct(m['two_person_acc'])} |"
    )


def to_markdown(report: dict) -> str:
    c, s, rt = report["counts"], report["summary"], report["ratings"]
    pos = report["reading"]["position"]
    lines = [
        f"# Validation: {report['model']}",
        "",
        f"Default reading: {report['method']}.",
        "",
        f"Held-out validation set (never read by the build): {c['implicit']} implicit scenarios over "
        f"{c['implicit_emotions']} emotions, {c['sweeps']} numeric sweeps, {c['negation']} negation pairs, "
        f"{c['two_person']} two-person passages. Each text is sent as a user message and read at "
        f"{POSITION_LABELS[pos]} (the position chosen on the stories); two-person passages are read as plain "
        "text, each person's part against the others'.",
        "",
        "| reading | layer | implicit top-1 (of 56) | implicit top-3 (of 56) | median rank (of 171) | "
        "sweep ρ | negation drops | two-person |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [_row(READING_LABELS[n], m) for n, m in s.items()]
    lines += [
        f"| goal | | | ≥ {_pct(GOALS['implicit_top3'])} | ≤ {GOALS['implicit_median_rank']} | "
        f"≥ {GOALS['sweep_rho']} | ≥ {_pct(GOALS['negation_frac'])} | ≥ {_pct(GOALS['two_person_acc'])} |"
    ]
    ro = report.get("readout", {})
    if ro:
        lines += [
            "",
            f"Readout chosen on the stories ({ro['selection']}): layer {ro['layer']}, shrinkage "
            f"{ro['shrinkage']}, summaries read at {POSITION_LABELS[ro['position']]}. The concept vectors' "
            f"best story-CV layer is {ro['concept_best_layer']}; they are shown at the paper's default layer.",
        ]
    cv = [r for r in report["story_cv"] if r["shrinkage"] in (ro.get("shrinkage"), 1.0)]
    if cv:
        lines += [
            "",
            "## Story cross-validation (171-way, held out by story; chance 0.6% / 2.9%)",
            "",
            "| layer | readout top-1 | readout top-5 | concept top-1 | concept top-5 |",
            "|---|---|---|---|---|",
        ]
        by = {(r["layer"], r["shrinkage"]): r for r in cv}
        for l in sorted({r["layer"] for r in cv}):
            a, b = by[(l, ro["shrinkage"])], by[(l, 1.0)]
            lines.append(f"| {l} | {_pct(a['top1'])} | {_pct(a['top5'])} | {_pct(b['top1'])} | {_pct(b['top5'])} |")
    if report["learning_curve"]:
        lines += [
            "",
            f"## Learning curve (story CV at layer {ro.get('layer')})",
            "",
            "| training stories per emotion | readout top-1 | readout top-5 | concept top-1 | concept top-5 |",
            "|---|---|---|---|---|",
        ]
        for r in report["learning_curve"]:
            lines.append(
                f"| {r['train_per_emotion']} | {_pct(r['readout']['top1'])} | {_pct(r['readout']['top5'])} | "
                f"{_pct(r['concept']['top1'])} | {_pct(r['concept']['top5'])} |"
            )
    if report["start_tokens"]:
        lines += [
            "",
            "Story CV by the token the story mean starts from: "
            + ", ".join(f"{r['start_token']}: top-1 {_pct(r['top1'])}, top-5 {_pct(r['top5'])}" for r in report["start_tokens"])
            + ".",
        ]
    sp = [r for r in report["story_positions"] if r["kind"] == "readout" and r["layer"] == ro.get("layer")]
    if sp:
        lines += [
            "",
            f"Held-out stories sent as a user message ({ro['chat_stories']} stories, readout fitted without "
            f"them, layer {ro['layer']}): "
            + ", ".join(f"{r['position']} top-1 {_pct(r['top1'])} / top-5 {_pct(r['top5'])}" for r in sp)
            + ".",
        ]
    lines += [
        "",
        "## Numeric sweeps by reading position and layer (mean Spearman ρ, expected direction)",
        "",
        "| reading | position | " + " | ".join(str(r["layer"]) for r in report["layers"]) + " |",
        "|---|---|" + "---|" * len(report["layers"]),
    ]
    for n in s:
        for p in READ_POSITIONS:
            vals = [r["sweep_rho"] for r in report["positions"] if r["reading"] == n and r["position"] == p]
            lines.append(f"| {n} | {p} | " + " | ".join(f"{v:.2f}" for v in vals) + " |")
    lines += [
        "",
        f"## {READING_LABELS[report['reading']['name']]}, by layer (position: {pos})",
        "",
        "| layer | top-1 | top-3 | median rank | sweep ρ | negation drops | two-person |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["layers"]:
        lines.append(
            f"| {r['layer']} | {_pct(r['implicit_top1'])} | {_pct(r['implicit_top3'])} | "
            f"{r['implicit_median_rank']:.0f} | {r['sweep_rho']:.2f} | {_pct(r['negation_frac'])} | "
            f"{_pct(r['two_person_acc'])} |"
        )
    w, v = rt["warriner"], rt["vader"]
    lines += [
        "",
        "## Valence and arousal (concept vectors, default layer)",
        "",
        "| ratings | n | PC1–valence r | best PC for valence | PC2–arousal r | best PC for arousal | "
        "affect plane: valence r | affect plane: arousal r |",
        "|---|---|---|---|---|---|---|---|",
        f"| Warriner et al. 2013 | {w['n_valence']} | {w['pc1_valence_r']:+.2f} | PC{w['best_valence_pc']} "
        f"({w['best_valence_r']:+.2f}) | {w['pc2_arousal_r']:+.2f} | PC{w['best_arousal_pc']} ({w['best_arousal_r']:+.2f}) | "
        f"{w['plane_valence_r']:.2f} | {w['plane_arousal_r']:.2f} |",
        f"| VADER | {v['n_valence']} | {v['pc1_valence_r']:+.2f} | PC{v['best_valence_pc']} ({v['best_valence_r']:+.2f}) "
        f"| | | {v['plane_valence_r']:.2f} | |",
        "| paper (Claude Sonnet 4.5) | | 0.81 | PC1 | 0.66 | PC2 | | |",
        "",
        f"PC signs are arbitrary. Variance of PCs 1-5: {', '.join(_pct(x) for x in rt['explained'])}. "
        f"PC1 runs from {', '.join(rt['pc1_low'])} to {', '.join(rt['pc1_high'])}. The affect plane is the "
        "pair of directions a ridge regression fits to the ratings (10-fold cross-validated r): fitted, not found.",
    ]
    if report.get("validation_learning_curve"):
        lines += [
            "",
            "## Learning curve on the validation set (readout fitted on the first n stories per emotion)",
            "",
            "| stories per emotion | implicit top-3 | median rank | sweep ρ | negation drops | two-person |",
            "|---|---|---|---|---|---|",
        ]
        for r in report["validation_learning_curve"]:
            lines.append(
                f"| {r['stories_per_emotion']} | {_pct(r['implicit_top3'])} | {r['implicit_median_rank']:.0f} | "
                f"{r['sweep_rho']:.2f} | {_pct(r['negation_frac'])} | {_pct(r['two_person_acc'])} |"
            )
    t = report["tylenol"]
    lines += [
        "",
        "## The Tylenol conversations at the default reading",
        "",
        f"Mean 'afraid' z over the whole conversation: 8000 mg **{t['dangerous']['mean_z']:+.2f}**, 1000 mg "
        f"**{t['normal']['mean_z']:+.2f}**; over the user's dose question: {t['dangerous']['dose_turn_z']:+.2f} vs "
        f"{t['normal']['dose_turn_z']:+.2f}. The dangerous dose reads "
        f"{'more' if t['more_afraid'] else 'not more'} afraid ({t['method']}).",
    ]
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
