"""Effect sizes of steering: choose the set-up and strength on one prompt set, report on another.

Usage: .venv/bin/python tools/steering_study.py [--model smollm2-135m-instruct] [--tokens 30]
       [--setups NAME ...] [--use-setup NAME] [--strengths S ...] [--choose-strengths S ...] [--name steering]
       [--redraw] [--fresh]
Writes cached_vectors/<model>/<name>.json and .md, and docs/<name>-<model>.png (Chromium
screenshot); the app's default set-up is read from steering.json. ``--use-setup`` skips the
choosing stage and reports a set-up chosen elsewhere (e.g. on another model), saying so.
Choosing rows already in the stored <name>.json for the same prompts, strengths and reply
length are reused (sampling is seeded, so they would come out the same), unless ``--fresh``.
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
from core.vectors import vectors_dir  # noqa: E402

CHOOSE_STRENGTHS = [0.15, 0.3]
REPORT_STRENGTHS = [0.1, 0.2, 0.3, 0.4]


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
                    help="strengths tried on the choosing prompts")
    ap.add_argument("--name", default="steering", help="output name: <name>.json/.md and docs/<name>-<model>.png")
    ap.add_argument("--redraw", action="store_true", help="recompute the valence loadings into the stored <name>.json, then rewrite the .md "
                         "and the figure from it (no model run)")
    ap.add_argument("--fresh", action="store_true", help="rerun every set-up, reusing no stored choosing rows")
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

    def tick():
        done[0] += 1
        if done[0] % 24 == 0:
            print(f"  {done[0]} replies, {time.time() - start:.0f} s", flush=True)

    choose, baselines = ({} if args.fresh or args.use_setup else
                         stored_choice(lm.name, args.name, args.tokens, args.choose_strengths, directions_made(ev))), {}
    for name in [] if args.use_setup else args.setups:
        setup = SETUPS[name]
        if (name, "happy") in choose and (name, "sad") in choose:
            print(f"choose: {name}: reusing the stored rows", flush=True)
            continue
        for emotion in ("happy", "sad"):
            print(f"choose: {name}, {emotion}", flush=True)
            choose[(name, emotion)] = effect_cells(lm, ev, CHOOSE_PROMPTS, emotion, args.choose_strengths, setup,
                                                   max_new_tokens=args.tokens, baselines=baselines, progress=tick)
    # one set-up for both emotions: the best of its worse emotion, ties to the mean of both
    best = args.use_setup or max(args.setups, key=lambda n: (min(score(choose[(n, e)])[0] for e in ("happy", "sad")),
                                                             sum(score(choose[(n, e)])[0] for e in ("happy", "sad"))))
    layers = setup_layers(ev, SETUPS[best])
    print("set-up:", best, layers_label(layers), flush=True)
    report = {}
    for emotion in ("happy", "sad", "calm", "desperate"):
        print(f"report: {emotion}", flush=True)
        report[emotion] = effect_cells(lm, ev, REPORT_PROMPTS, emotion, args.strengths, SETUPS[best],
                                       max_new_tokens=args.tokens, baselines=baselines, progress=tick)
    out = {"model": lm.name, "tokens": args.tokens, "seeds": [0, 1, 2], "choose_strengths": args.choose_strengths,
           "report_strengths": args.strengths, "choose_prompts": CHOOSE_PROMPTS, "report_prompts": REPORT_PROMPTS,
           "chosen_setup": best, "chosen_elsewhere": bool(args.use_setup), "layers": layers,
           "setup_layers": {n: setup_layers(ev, SETUPS[n]) for n in SETUPS},
           "choose": [{"setup": n, **r} for (n, _), rows in choose.items() for r in rows if n in args.setups],
           "report": [r for rows in report.values() for r in rows], "seconds": round(time.time() - start),
           "valence_loading": valence_loadings(ev, layers), "directions": directions_made(ev)}
    write_text_atomic(vectors_dir(lm.name) / f"{args.name}.json", json.dumps(out, indent=1))
    publish(out, args.name)


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
    lines = [f"# Steering effect sizes: {out['model']}", "",
             f"{len(out['report_prompts'])} report prompts × 3 seeds = {pairs} pairs per cell; sampling (T 0.8, top-p 0.95), "
             f"{out['tokens']} tokens; strengths in units of the layer's mean residual norm (attention sink left out; "
             f"split evenly when spread over layers); set-up {how}, at {layers_label(out['layers'])}.", "",
             "| emotion | strength | VADER moved the expected way | readout reading rose | median perplexity ÷ baseline |",
             "|---|---|---|---|---|"]
    lines += [f"| {r['emotion']} | {r['strength']} | {r['vader_moved']:.0%} | {r['reading_moved']:.0%} | "
              f"{r['median_perplexity_ratio']:.2f} |" for r in out["report"]]
    if out.get("valence_loading"):
        kinds = list(out["valence_loading"])
        lines += ["", f"How far each steered emotion's direction points along the human-valence axis at "
                  f"{layers_label(out['layers'])} (cosine; the axis is the rated directions weighted by their "
                  "centred valence, core.geometry.valence_loading). A direction near 0 has no reason to move VADER:", "",
                  "| emotion | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
        lines += [f"| {e} | " + " | ".join(f"{out['valence_loading'][k][e]:+.2f}" for k in kinds) + " |" for e in EXPECTED]
    if out["choose"]:
        lines += ["", "Choosing set (all set-ups; the rule: the best worse-of-happy-and-sad rate, min(VADER, readout), "
                  "over strengths whose median perplexity stays within 2×):", "",
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
    """When each built kind of direction was made: rows steered with other directions are stale."""
    return {kind: ev.meta[kind].get("created") for kind in ("contrast",) if ev.has_directions(kind)}


def stored_choice(model: str, name: str, tokens: int, strengths: list[float], made: dict) -> dict:
    """{(set-up, emotion): rows} from the stored study, if it chose on the same prompts,
    strengths and reply length (seeded sampling gives the same replies again) with the same
    directions (``directions_made``; concept and readout directions come with the vectors)."""
    try:
        old = json.loads((vectors_dir(model) / f"{name}.json").read_text())
    except (OSError, ValueError):
        return {}
    if (old.get("tokens"), old.get("choose_strengths"), old.get("choose_prompts")) != (tokens, strengths, CHOOSE_PROMPTS):
        return {}
    out = {}
    for r in old.get("choose", []):
        kind = SETUPS.get(r["setup"], {}).get("kind")
        if kind and old.get("directions", {}).get(kind) == made.get(kind):
            out.setdefault((r["setup"], r["emotion"]), []).append({k: v for k, v in r.items() if k != "setup"})
    return out


def figure(out: dict, png: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
    colours = {"happy": "#1b9e77", "sad": "#7570b3", "calm": "#e6ab02", "desperate": "#d95f02"}
    fig = make_subplots(rows=1, cols=3, subplot_titles=["VADER moved the expected way", "readout reading rose",
                                                        "median perplexity ÷ baseline"])
    for emotion in colours:
        rows = [r for r in out["report"] if r["emotion"] == emotion]
        x = [r["strength"] for r in rows]
        for col, key in enumerate(("vader_moved", "reading_moved", "median_perplexity_ratio"), 1):
            fig.add_trace(go.Scatter(x=x, y=[r[key] for r in rows], mode="lines+markers", name=emotion,
                                     line=dict(color=colours[emotion]), showlegend=col == 1), row=1, col=col)
    fig.add_hline(y=0.9, line_dash="dash", line_color="#999", row=1, col=1)
    fig.add_hline(y=0.9, line_dash="dash", line_color="#999", row=1, col=2)
    fig.add_hline(y=FLUENT_PERPLEXITY_RATIO, line_dash="dash", line_color="#999", row=1, col=3)
    fig.update_xaxes(title="strength (× mean residual norm)")
    fig.update_yaxes(tickformat=".0%", range=[-0.02, 1.02], row=1, col=1)
    fig.update_yaxes(tickformat=".0%", range=[-0.02, 1.02], row=1, col=2)
    fig.update_yaxes(type="log", row=1, col=3)
    fig.update_layout(title=f"Steering {out['model']}: {out['chosen_setup']}, {layers_label(out['layers'])} · "
                            f"{len(out['report_prompts'])} report prompts × 3 seeds per point",
                      width=1300, height=430)
    html = png.with_suffix(".html")
    html.write_text(fig.to_html(include_plotlyjs=True, full_html=True))
    try:
        from tools.browser import chromium
        with chromium(1320, 450) as page:
            page.goto(html.as_uri())
            page.wait_for_timeout(1500)
            page.screenshot(path=str(png))
        print("saved", png)
    finally:
        html.unlink()


if __name__ == "__main__":
    main()
