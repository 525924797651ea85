"""Effect sizes of steering: choose the set-up and strength on one prompt set, report on another.

Usage: .venv/bin/python tools/steering_study.py [--model smollm2-135m-instruct] [--tokens 30]
       [--setups NAME ...] [--use-setup NAME] [--strengths S ...] [--choose-strengths S ...]
       [--fine-strengths S ...] [--name steering] [--redraw] [--fresh]
On the choosing prompts every set-up runs at the coarse strengths; the best few (FINALISTS) also
at the fine ones, and from all their rows come the set-up and each of happy's and sad's
strength. The report prompts then only report: the curves, and the chosen strengths held out.
Writes cached_vectors/<model>/<name>.json and .md, and docs/<name>-<model>.png (Chromium
screenshot); the app's default set-up is read from steering.json. ``--use-setup`` skips the
set-up choice and reports a set-up chosen elsewhere (e.g. on another model), saying so.
Rows already in the stored <name>.json, or in the <name>.partial.json an interrupted run leaves,
for the same prompts, reply length and directions are reused (sampling is seeded, so they would
come out the same), unless ``--fresh``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from core import EmotionVectors, load_model, load_vectors  # noqa: E402
from core.effects import (CHOOSE_PROMPTS, EXPECTED, FLUENT_PERPLEXITY_RATIO, REPORT_PROMPTS, SETUPS,  # noqa: E402
                          effect_cells, layers_label, setup_layers)
from core.steering import KINDS  # noqa: E402
from core.paths import ROOT, write_text_atomic  # noqa: E402
from core.vectors import BLEND_READOUT_WEIGHT, vectors_dir  # noqa: E402

CHOOSE_STRENGTHS = [0.15, 0.3]
FINE_STRENGTHS = [0.35, 0.4, 0.45]
FINALISTS = 3
REPORT_STRENGTHS = [0.1, 0.2, 0.3, 0.4, 0.5]
GOAL = ("happy", "sad")           # the goal: both move both measures within 2× perplexity


def score(rows):
    """Best cell whose median perplexity stays within 2× the baseline: (min of the two rates, row)."""
    ok = [r for r in rows if r["median_perplexity_ratio"] <= FLUENT_PERPLEXITY_RATIO]
    return max(((min(r["vader_moved"], r["reading_moved"]), r) for r in ok), default=(0.0, None),
               key=lambda t: t[0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--tokens", type=int, default=30)
    ap.add_argument("--setups", nargs="*", default=list(SETUPS), choices=list(SETUPS),
                    help="which set-ups to compare on the choosing prompts")
    ap.add_argument("--use-setup", choices=list(SETUPS), default=None,
                    help="report this set-up without choosing (chosen on another model)")
    ap.add_argument("--strengths", type=float, nargs="*", default=REPORT_STRENGTHS, help="strengths to report")
    ap.add_argument("--choose-strengths", type=float, nargs="*", default=CHOOSE_STRENGTHS,
                    help="strengths tried for every set-up on the choosing prompts")
    ap.add_argument("--fine-strengths", type=float, nargs="*", default=FINE_STRENGTHS,
                    help=f"strengths also tried, for the {FINALISTS} set-ups that did best, to choose the set-up and "
                         "each emotion's strength")
    ap.add_argument("--name", default="steering", help="output name: <name>.json/.md and docs/<name>-<model>.png")
    ap.add_argument("--redraw", action="store_true", help="recompute the valence loadings into the stored <name>.json, then rewrite the .md "
                         "and the figure from it (no model run)")
    ap.add_argument("--fresh", action="store_true", help="rerun every cell, reusing no stored rows")
    args = ap.parse_args()
    if args.redraw:
        out = json.loads((vectors_dir(args.model) / f"{args.name}.json").read_text())
        out.setdefault("layers", [out.get("layer")])
        out["valence_loading"] = valence_loadings(EmotionVectors.load(vectors_dir(args.model)), out["layers"])
        write_text_atomic(vectors_dir(args.model) / f"{args.name}.json", json.dumps(out, indent=1))
        return publish(out, args.name)
    lm = load_model(args.model)
    ev = load_vectors(lm)
    start, done = time.time(), [0]
    made = directions_made(ev)
    rows = {} if args.fresh else stored_rows(lm.name, args.name, args.tokens, made)
    checkpoint = vectors_dir(lm.name) / f"{args.name}.partial.json"
    baselines = {}

    def tick():
        done[0] += 1
        if done[0] % 24 == 0:
            print(f"  {done[0]} replies, {time.time() - start:.0f} s", flush=True)

    def cells(stage: str, name: str, emotion: str, strengths) -> list[dict]:
        """Rows for these strengths, run only where no stored row has them; each run is saved at once."""
        missing = [s for s in strengths if (stage, name, emotion, s) not in rows]
        print(f"{stage}: {name}, {emotion}: " + (f"running {missing}" if missing else "reusing the stored rows"), flush=True)
        for s in missing:
            [row] = effect_cells(lm, ev, CHOOSE_PROMPTS if stage == "choose" else REPORT_PROMPTS, emotion, [s],
                                 SETUPS[name], max_new_tokens=args.tokens, baselines=baselines, progress=tick)
            rows[(stage, name, emotion, s)] = {"setup": name, **row}
            write_text_atomic(checkpoint, json.dumps(dump(args.tokens, made, rows)))
        return [rows[(stage, name, emotion, s)] for s in strengths]

    coarse = sorted(set(args.choose_strengths))
    fine = sorted(set(coarse) | set(args.fine_strengths))
    if args.use_setup:
        finalists = [args.use_setup]
    else:
        first = {n: [cells("choose", n, e, coarse) for e in GOAL] for n in args.setups}
        finalists = sorted(args.setups, key=lambda n: rank(first[n]), reverse=True)[:FINALISTS]
    second = {n: [cells("choose", n, e, fine) for e in GOAL] for n in finalists}
    best = max(finalists, key=lambda n: rank(second[n]))
    chosen = {e: row["strength"] if row else min(fine) for e, (_, row) in zip(GOAL, map(score, second[best]))}
    layers = setup_layers(ev, SETUPS[best])
    print("set-up:", best, layers_label(layers), "strengths:", chosen, flush=True)
    report = {e: cells("report", best, e, sorted(set(args.strengths) | ({chosen[e]} if e in chosen else set())))
              for e in EXPECTED}
    # For someone steering one emotion at a time: each emotion's own best finalist and strength,
    # chosen on the choosing prompts alone (ties to the set-up chosen for both), then held out.
    own = {}
    for i, e in enumerate(GOAL):
        _, row, name = max(((*score(second[n][i]), n) for n in sorted(finalists, key=lambda n: n != best)),
                              key=lambda t: t[0])
        if row:
            own[e] = cells("report", name, e, [row["strength"]])[0]
    out = {"model": lm.name, "tokens": args.tokens, "seeds": [0, 1, 2], "choose_strengths": coarse,
           "fine_strengths": fine, "finalists": finalists, "report_strengths": args.strengths,
           "choose_prompts": CHOOSE_PROMPTS, "report_prompts": REPORT_PROMPTS,
           "chosen_setup": best, "chosen_elsewhere": bool(args.use_setup), "chosen_strengths": chosen, "layers": layers,
           "setup_layers": {n: setup_layers(ev, SETUPS[n]) for n in SETUPS},
           "choose": [r for (stage, n, _, _), r in sorted(rows.items()) if stage == "choose" and n in args.setups + finalists],
           "report": [r for rs in report.values() for r in rs], "own_report": list(own.values()),
           "seconds": round(time.time() - start),
           "valence_loading": valence_loadings(ev, layers), "directions": made}
    write_text_atomic(vectors_dir(lm.name) / f"{args.name}.json", json.dumps(out, indent=1))
    checkpoint.unlink(missing_ok=True)
    publish(out, args.name)


def goal_met(row: dict) -> bool:
    return min(row["vader_moved"], row["reading_moved"]) >= 0.9 and row["median_perplexity_ratio"] <= FLUENT_PERPLEXITY_RATIO


def rank(per_emotion: list[list[dict]]) -> tuple[float, float]:
    """A set-up's worth: the best rate of its worse emotion, ties broken by the sum of both."""
    best = [score(r)[0] for r in per_emotion]
    return min(best), sum(best)


def dump(tokens: int, made: dict, rows: dict) -> dict:
    """The rows run so far, in the stored study's shape, so an interrupted study resumes."""
    return {"tokens": tokens, "choose_prompts": CHOOSE_PROMPTS, "report_prompts": REPORT_PROMPTS, "directions": made,
            "choose": [r for (stage, *_), r in rows.items() if stage == "choose"],
            "report": [r for (stage, *_), r in rows.items() if stage == "report"]}


def valence_loadings(ev, layers: list[int]) -> dict:
    """{kind: {emotion: mean cosine with the human-valence axis over the set-up's layers}}."""
    from core.geometry import valence_loading
    from core.ratings import human_valence
    valence = human_valence(ev.emotions).valence
    out = {}
    for kind in KINDS:
        if ev.has_directions(kind):
            loading = np.mean([valence_loading(ev.directions(kind, l), valence) for l in layers], axis=0)
            out[kind] = {e: round(float(loading[ev.index(e)]), 3) for e in EXPECTED}
    return out


def publish(out: dict, name: str) -> None:
    """The study's table (<name>.md beside the vectors) and figure (docs/<name>-<model>.png)."""
    how = (f"chosen elsewhere and only reported here: **{out['chosen_setup']}**" if out["chosen_elsewhere"] else
           f"chosen on {len(out['choose_prompts'])} other prompts: **{out['chosen_setup']}**")
    pairs = 3 * len(out["report_prompts"])
    chosen = out.get("chosen_strengths", {})
    lines = [f"# Steering effect sizes: {out['model']}", "",
             f"{len(out['report_prompts'])} report prompts × 3 seeds = {pairs} pairs per cell; sampling (T 0.8, top-p 0.95), "
             f"{out['tokens']} tokens; strengths in units of the layer's mean residual norm (attention sink left out; "
             f"split evenly when spread over layers); set-up {how}, at {layers_label(out['layers'])}."]
    held = [(e, s, next(r for r in out["report"] if r["emotion"] == e and r["strength"] == s)) for e, s in chosen.items()]
    if held:
        lines += ["", "Held out: each emotion at the strength chosen for it on the choosing prompts (goal: both rates "
                  f"≥ 90% with median perplexity within {FLUENT_PERPLEXITY_RATIO:g}×):", ""]
        lines += [f"- **{e}** at {s}: VADER {r['vader_moved']:.0%}, reading {r['reading_moved']:.0%}, perplexity "
                  f"{r['median_perplexity_ratio']:.2f}× — " + ("met" if goal_met(r) else "not met") for e, s, r in held]
    if out.get("own_report"):
        lines += ["", "Held out, each emotion with its own set-up and strength (the best finalist for it alone on the "
                  "choosing prompts; for steering one emotion at a time):", ""]
        lines += [f"- **{r['emotion']}**, {r['setup']} at {r['strength']}: VADER {r['vader_moved']:.0%}, reading "
                  f"{r['reading_moved']:.0%}, perplexity {r['median_perplexity_ratio']:.2f}× — "
                  + ("met" if goal_met(r) else "not met") for r in out["own_report"]]
    lines += ["", "| emotion | strength | VADER moved the expected way | readout reading rose | median perplexity ÷ baseline |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['emotion']} | {r['strength']}{' (chosen)' if chosen.get(r['emotion']) == r['strength'] else ''} | "
              f"{r['vader_moved']:.0%} | {r['reading_moved']:.0%} | {r['median_perplexity_ratio']:.2f} |" for r in out["report"]]
    if out.get("valence_loading"):
        kinds = list(out["valence_loading"])
        lines += ["", f"How far each steered emotion's direction points along the human-valence axis at "
                  f"{layers_label(out['layers'])} (cosine; the axis is the rated directions weighted by their "
                  "centred valence, core.geometry.valence_loading). A direction near 0 has no reason to move VADER:", "",
                  "| emotion | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
        lines += [f"| {e} | " + " | ".join(f"{out['valence_loading'][k][e]:+.2f}" for k in kinds) + " |" for e in EXPECTED]
    if out["choose"]:
        finalists = out.get("finalists")
        lines += ["", "Choosing set. Every set-up at the coarse strengths"
                  + (f" ({', '.join(map(str, out['choose_strengths']))}); the best {len(finalists)} also at "
                     f"{', '.join(str(s) for s in out['fine_strengths'] if s not in out['choose_strengths'])}" if finalists else "")
                  + ". The rule: the best worse-of-happy-and-sad rate, min(VADER, readout), over strengths whose "
                  "median perplexity stays within 2×; each emotion's strength is its best such row in the chosen set-up:", "",
                  "| set-up | layers | emotion | strength | VADER | readout | perplexity ratio |", "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['setup']} | {span(out['setup_layers'][r['setup']])} | {r['emotion']} | {r['strength']} | "
                  f"{r['vader_moved']:.0%} | {r['reading_moved']:.0%} | {r['median_perplexity_ratio']:.2f} |"
                  for r in out["choose"]]
    write_text_atomic(vectors_dir(out["model"]) / f"{name}.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    figure(out, ROOT / "docs" / f"{name}-{out['model']}.png")


def span(layers: list[int]) -> str:
    return str(layers[0]) if len(layers) == 1 else f"{layers[0]}–{layers[-1]}"


def directions_made(ev) -> dict:
    """When each built kind of direction was made (and the blend's mix): rows steered with other
    directions are stale."""
    if not ev.has_directions("contrast"):
        return {}
    created = ev.meta["contrast"].get("created")
    return {"contrast": created, "blend": f"{created}, readout weight {BLEND_READOUT_WEIGHT}"}


def stored_rows(model: str, name: str, tokens: int, made: dict) -> dict:
    """{(stage, set-up, emotion, strength): row} from the stored study and any interrupted run,
    where made with the same prompts, reply length and directions (``directions_made``; concept
    and readout directions come with the vectors). Sampling is seeded, so a rerun would write
    the same replies."""
    out = {}
    for path in (vectors_dir(model) / f"{name}.json", vectors_dir(model) / f"{name}.partial.json"):
        try:
            old = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if (old.get("tokens"), old.get("choose_prompts"), old.get("report_prompts")) != (tokens, CHOOSE_PROMPTS, REPORT_PROMPTS):
            continue
        for stage, key in (("choose", "choose"), ("report", "report"), ("report", "own_report")):
            for r in old.get(key, []):
                setup = r.get("setup", old.get("chosen_setup"))
                kind = SETUPS.get(setup, {}).get("kind")
                if kind and old.get("directions", {}).get(kind) == made.get(kind):
                    out[(stage, setup, r["emotion"], r["strength"])] = {**r, "setup": setup}
    return out


def figure(out: dict, png: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
    colours = {"happy": "#1b9e77", "sad": "#7570b3", "calm": "#e6ab02", "desperate": "#d95f02"}
    fig = make_subplots(rows=1, cols=3, subplot_titles=["VADER moved the expected way", "readout reading rose",
                                                        "median perplexity ÷ baseline"])
    chosen = out.get("chosen_strengths", {})
    for emotion in colours:
        rows = [r for r in out["report"] if r["emotion"] == emotion]
        x = [r["strength"] for r in rows]
        held = [s == chosen.get(emotion) for s in x]          # the strength chosen on the other prompts: a star
        marker = dict(size=[15 if h else 7 for h in held], symbol=["star" if h else "circle" for h in held])
        for col, key in enumerate(("vader_moved", "reading_moved", "median_perplexity_ratio"), 1):
            fig.add_trace(go.Scatter(x=x, y=[r[key] for r in rows], mode="lines+markers", name=emotion, marker=marker,
                                     line=dict(color=colours[emotion]), showlegend=col == 1), row=1, col=col)
    fig.add_hline(y=0.9, line_dash="dash", line_color="#999", row=1, col=1)
    fig.add_hline(y=0.9, line_dash="dash", line_color="#999", row=1, col=2)
    fig.add_hline(y=FLUENT_PERPLEXITY_RATIO, line_dash="dash", line_color="#999", row=1, col=3)
    fig.update_xaxes(title="strength (× mean residual norm)")
    fig.update_yaxes(tickformat=".0%", range=[-0.02, 1.02], row=1, col=1)
    fig.update_yaxes(tickformat=".0%", range=[-0.02, 1.02], row=1, col=2)
    fig.update_yaxes(type="log", row=1, col=3)
    fig.update_layout(title=f"Steering {out['model']}: {out['chosen_setup']}, {layers_label(out['layers'])}<br>"
                            f"<sup>{len(out['report_prompts'])} report prompts × 3 seeds per point"
                            + (" · ★ the strength chosen for that emotion on the choosing prompts" if chosen else "") + "</sup>",
                      width=1300, height=450, margin=dict(t=110))
    html = png.with_suffix(".html")
    html.write_text(fig.to_html(include_plotlyjs=True, full_html=True))
    try:
        from tools.browser import chromium
        with chromium(1320, 470) as page:
            page.goto(html.as_uri())
            page.wait_for_timeout(1500)
            page.screenshot(path=str(png))
        print("saved", png)
    finally:
        html.unlink()


if __name__ == "__main__":
    main()
