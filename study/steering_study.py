"""Effect sizes of steering: choose the set-up and strength on one prompt set, report on another.

Usage: .venv/bin/python -m study.steering_study [--model smollm2-135m-instruct] [--tokens 60]
       [--setups NAME ...] [--use-setup NAME] [--strengths S ...] [--choose-strengths S ...]
       [--fine-strengths S ...] [--name steering] [--redraw] [--fresh] [--jobs 2] [--held first|second|third]
On the choosing prompts every set-up runs at the coarse strengths; the best few (FINALISTS) also
at the fine ones, and from all their rows come the set-up and each of happy's and sad's
strength. Then the report prompts only report: the curves; and the chosen strengths are held
out on a held-out set of 32 prompts (96 pairs), the verdict: ``--held first`` is the report
prompts and 24 check prompts, ``second`` (the default) 32 prompts written after the first
verdict had been seen, ``third`` 32 written after the second (``study/steering_cell.py`` tries
one cell on the choosing prompts first).
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
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from core import EmotionVectors, load_model, load_vectors
from core.paths import ROOT, write_text_atomic
from core.steering import STEER_KINDS
from core.steering_preset import layers_label
from core.vectors import BLEND_READOUT_WEIGHT, vectors_dir
from core.verdicts import FLUENT_PERPLEXITY_RATIO, verdict_text

from .prompts import CHECK_PROMPTS, CHOOSE_PROMPTS, HELD_SET_LABELS, HELD_SETS, REPORT_PROMPTS
from .setups import EXPECTED, SETUPS, effect_cells, setup_layers

CHOOSE_STRENGTHS = [0.2, 0.4]
FINE_STRENGTHS = [0.3, 0.5]
FINALISTS = 3
REPORT_STRENGTHS = [0.1, 0.2, 0.3, 0.4, 0.5]
GOAL = ("happy", "sad")  # the goal: both move both measures within 2× perplexity


def stage_prompts(held: str) -> dict[str, list[str]]:
    """Each stage's prompts: choose on one set; draw the curves on another; hold the chosen
    strengths out on a held-out set (core.effects.HELD_SETS)."""
    return {"choose": CHOOSE_PROMPTS, "report": REPORT_PROMPTS, "held": HELD_SETS[held]}


def score(rows):
    """Best cell whose median perplexity stays within 2× the baseline: (min of the two rates, row).
    Of cells that move as often, the more fluent wins: a cell at the edge of the 2× line on the
    choosing prompts can cross it held out (SmolLM2's "sad" at 0.5 did: 1.98×, then 2.10×)."""
    ok = [r for r in rows if r["median_perplexity_ratio"] <= FLUENT_PERPLEXITY_RATIO]
    return max(((min(r["vader_moved"], r["reading_moved"]), r) for r in ok), default=(0.0, None), key=merit)


def merit(scored: tuple) -> tuple:
    """A scored cell's order: its rate (rounded, so rates equal as fractions of the same pairs
    tie), then the lower perplexity."""
    rate, row = scored[:2]
    return round(rate, 9), -row["median_perplexity_ratio"] if row else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--tokens", type=int, default=60, help="reply length (the API's and CLI's default)")
    ap.add_argument(
        "--setups", nargs="*", default=list(SETUPS), choices=list(SETUPS), help="which set-ups to compare on the choosing prompts"
    )
    ap.add_argument("--use-setup", choices=list(SETUPS), default=None, help="report this set-up without choosing (chosen on another model)")
    ap.add_argument("--strengths", type=float, nargs="*", default=REPORT_STRENGTHS, help="strengths to report")
    ap.add_argument(
        "--choose-strengths",
        type=float,
        nargs="*",
        default=CHOOSE_STRENGTHS,
        help="strengths tried for every set-up on the choosing prompts",
    )
    ap.add_argument(
        "--fine-strengths",
        type=float,
        nargs="*",
        default=FINE_STRENGTHS,
        help=f"strengths also tried, for the {FINALISTS} set-ups that did best, to choose the set-up and each emotion's strength",
    )
    ap.add_argument("--name", default="steering", help="output name: <name>.json/.md and docs/<name>-<model>.png")
    ap.add_argument(
        "--redraw",
        action="store_true",
        help="recompute the valence loadings into the stored <name>.json, then rewrite the .md and the figure from it (no model run)",
    )
    ap.add_argument("--fresh", action="store_true", help="rerun every cell, reusing no stored rows")
    ap.add_argument(
        "--held",
        choices=list(HELD_SETS),
        default="second",
        help="the held-out prompt set of the verdict: " + "; ".join(f"'{k}': the {v}" for k, v in HELD_SET_LABELS.items()),
    )
    ap.add_argument("--jobs", type=int, default=1, help="processes running cells at once, one thread each (e.g. one per core)")
    ap.add_argument(
        "--batch",
        type=int,
        default=1,
        help="prompts written at once (a 1.5B model on a CPU: 8); each reply's twin is unsteered in a batch of the same prompts",
    )
    args = ap.parse_args()
    if args.redraw:
        out = json.loads((vectors_dir(args.model) / f"{args.name}.json").read_text())
        out.setdefault("layers", [out.get("layer")])
        out["valence_loading"] = valence_loadings(EmotionVectors.load(vectors_dir(args.model)), out["layers"])
        write_text_atomic(vectors_dir(args.model) / f"{args.name}.json", json.dumps(out, indent=1))
        return publish(out, args.name)
    lm = load_model(args.model)
    ev = load_vectors(lm)
    start = time.time()
    made = directions_made(ev)
    rows = {} if args.fresh else stored_rows(lm.name, args.name, args.tokens, made, args.held, args.batch)
    checkpoint = vectors_dir(lm.name) / f"{args.name}.partial.json"
    baselines, pool = {}, None

    def cells(keys: list[tuple]) -> None:
        """Run the cells (stage, set-up, emotion, strength) no stored row has, in ``--jobs``
        processes; each row is saved as it arrives, so an interrupted study resumes."""
        nonlocal pool
        keys = list(dict.fromkeys(keys))
        missing = [k for k in keys if k not in rows]
        print(f"{len(keys) - len(missing)} cells stored, {len(missing)} to run", flush=True)
        if missing and args.jobs > 1 and pool is None:
            pool = ProcessPoolExecutor(
                args.jobs, mp_context=get_context("spawn"), initializer=worker_start, initargs=(args.model, args.held, args.batch)
            )
        # all submitted at once, so every process is busy; without a pool each runs as it is reached
        done = (
            [(k, pool.submit(worker_cell, k, args.tokens)) for k in missing]
            if pool
            else ((k, run_cell(lm, ev, k, args.tokens, baselines, args.held, args.batch)) for k in missing)
        )
        for n, (key, row) in enumerate(done, 1):
            rows[key] = row.result() if pool else row
            write_text_atomic(checkpoint, json.dumps(dump(args.tokens, made, rows, args.held, args.batch)))
            r = rows[key]
            print(
                f"  {n}/{len(missing)} {key[0]}: {key[1]}, {key[2]} {key[3]}: VADER {r['vader_moved']:.0%}, "
                f"reading {r['reading_moved']:.0%}, perplexity {r['median_perplexity_ratio']:.2f}x "
                f"({time.time() - start:.0f} s)",
                flush=True,
            )

    def got(stage: str, name: str, emotion: str, strengths) -> list[dict]:
        return [rows[(stage, name, emotion, s)] for s in strengths]

    coarse = sorted(set(args.choose_strengths))
    fine = sorted(set(coarse) | set(args.fine_strengths))
    if args.use_setup:
        finalists = [args.use_setup]
    else:
        cells([("choose", n, e, x) for n in args.setups for e in GOAL for x in coarse])
        first = {n: [got("choose", n, e, coarse) for e in GOAL] for n in args.setups}
        finalists = sorted(args.setups, key=lambda n: rank(first[n]), reverse=True)[:FINALISTS]
    cells([("choose", n, e, x) for n in finalists for e in GOAL for x in fine])
    second = {n: [got("choose", n, e, fine) for e in GOAL] for n in finalists}
    best = max(finalists, key=lambda n: rank(second[n]))
    chosen = {e: row["strength"] if row else min(fine) for e, (_, row) in zip(GOAL, map(score, second[best]))}
    layers = setup_layers(ev, SETUPS[best])
    print("set-up:", best, layers_label(layers), "strengths:", chosen, flush=True)
    reported = {e: sorted(set(args.strengths) | ({chosen[e]} if e in chosen else set())) for e in EXPECTED}
    held_keys = [("held", best, e, x) for e, x in chosen.items()]
    # For someone steering one emotion at a time: each emotion's own best finalist and strength,
    # chosen on the choosing prompts alone by ``score``'s rule (full ties to the set-up chosen for
    # both), then held out.
    own_keys = []
    for i, e in enumerate(GOAL):
        _, row, name = max(((*score(second[n][i]), n) for n in sorted(finalists, key=lambda n: n != best)), key=merit)
        if row:
            own_keys.append(("held", name, e, row["strength"]))
    cells([("report", best, e, x) for e, xs in reported.items() for x in xs] + held_keys + own_keys)
    if pool:
        pool.shutdown()
    report = {e: got("report", best, e, xs) for e, xs in reported.items()}
    out = {
        "model": lm.name,
        "tokens": args.tokens,
        "batch": args.batch,
        "seeds": [0, 1, 2],
        "choose_strengths": coarse,
        "fine_strengths": fine,
        "finalists": finalists,
        "report_strengths": args.strengths,
        "choose_prompts": CHOOSE_PROMPTS,
        "report_prompts": REPORT_PROMPTS,
        "check_prompts": CHECK_PROMPTS,
        "held_set": args.held,
        "held_prompts": HELD_SETS[args.held],
        "chosen_setup": best,
        "chosen_elsewhere": bool(args.use_setup),
        "chosen_strengths": chosen,
        "layers": layers,
        "setup_layers": {n: setup_layers(ev, SETUPS[n]) for n in SETUPS},
        "choose": [r for (stage, n, _, _), r in sorted(rows.items()) if stage == "choose" and n in args.setups + finalists],
        "report": [r for rs in report.values() for r in rs],
        "held_out": [rows[k] for k in held_keys],
        "own_held_out": [rows[k] for k in own_keys],
        "seconds": round(time.time() - start),
        "valence_loading": valence_loadings(ev, layers),
        "directions": made,
    }
    write_text_atomic(vectors_dir(lm.name) / f"{args.name}.json", json.dumps(out, indent=1))
    checkpoint.unlink(missing_ok=True)
    publish(out, args.name)


def run_cell(lm, ev, key: tuple, tokens: int, baselines: dict, held: str, batch: int = 1) -> dict:
    """One row: the set-up's effect at one strength on the stage's prompts."""
    stage, name, emotion, strength = key
    [row] = effect_cells(
        lm, ev, stage_prompts(held)[stage], emotion, [strength], SETUPS[name], max_new_tokens=tokens, baselines=baselines, batch=batch
    )
    return {"setup": name, **row}


_worker: dict = {}


def worker_start(model: str, held: str, batch: int = 1) -> None:
    """A worker process: one thread (the machine's cores are shared out between processes), its own model."""
    import torch

    torch.set_num_threads(1)
    lm = load_model(model)
    _worker.update(lm=lm, ev=load_vectors(lm), baselines={}, held=held, batch=batch)


def worker_cell(key: tuple, tokens: int) -> dict:
    return run_cell(_worker["lm"], _worker["ev"], key, tokens, _worker["baselines"], _worker["held"], _worker["batch"])


def rank(per_emotion: list[list[dict]]) -> tuple[float, float]:
    """A set-up's worth: the best rate of its worse emotion, ties broken by the sum of both."""
    best = [score(r)[0] for r in per_emotion]
    return min(best), sum(best)


def dump(tokens: int, made: dict, rows: dict, held: str, batch: int = 1) -> dict:
    """The rows run so far, in the stored study's shape, so an interrupted study resumes."""
    return {
        "tokens": tokens,
        "batch": batch,
        "choose_prompts": CHOOSE_PROMPTS,
        "report_prompts": REPORT_PROMPTS,
        "check_prompts": CHECK_PROMPTS,
        "held_set": held,
        "held_prompts": HELD_SETS[held],
        "directions": made,
        **{key: [r for (stage, *_), r in rows.items() if stage == s] for s, key in STORED},
    }


def valence_loadings(ev, layers: list[int]) -> dict:
    """{kind: {emotion: mean cosine with the human-valence axis over the set-up's layers}}."""
    from core.geometry import valence_loading
    from core.ratings import human_valence

    valence = human_valence(ev.emotions).valence
    out = {}
    for kind in STEER_KINDS:
        if ev.has_directions(kind):
            loading = np.mean([valence_loading(ev.directions(kind, l), valence) for l in layers], axis=0)
            out[kind] = {e: round(float(loading[ev.index(e)]), 3) for e in EXPECTED}
    return out


def publish(out: dict, name: str) -> None:
    """The study's table (<name>.md beside the vectors) and figure (docs/<name>-<model>.png)."""
    how = (
        f"chosen elsewhere and only reported here: **{out['chosen_setup']}**"
        if out["chosen_elsewhere"]
        else f"chosen on {len(out['choose_prompts'])} other prompts: **{out['chosen_setup']}**"
    )
    pairs = 3 * len(out["report_prompts"])
    chosen = out.get("chosen_strengths", {})
    lines = [
        f"# Steering effect sizes: {out['model']}",
        "",
        f"Curves: {len(out['report_prompts'])} report prompts × 3 seeds = {pairs} pairs per cell; sampling (T 0.8, top-p 0.95), "
        f"{out['tokens']} tokens; strengths in units of the layer's mean residual norm (attention sink left out; "
        f"split evenly when spread over layers); set-up {how}, at {layers_label(out['layers'])}.",
    ]
    where = HELD_SET_LABELS[out["held_set"]]
    held_pairs = 3 * len(out["held_prompts"])
    lines += [
        "",
        f"Held out on the {held_pairs // 3} {where} × 3 seeds = {held_pairs} pairs (goal: both "
        f"rates ≥ 90% with median perplexity within {FLUENT_PERPLEXITY_RATIO:g}×):",
        "",
    ]
    lines += [
        f"- **{r['emotion']}** at {r['strength']}, the strength chosen for it on the choosing prompts: " + verdict_text(r)
        for r in out.get("held_out", [])
    ]
    lines += [
        f"- **{r['emotion']}** with its own set-up and strength, the best finalist for it alone on the choosing "
        f"prompts (for steering one emotion at a time), {r['setup']} at {r['strength']}: " + verdict_text(r)
        for r in out.get("own_held_out", [])
        if r not in out.get("held_out", [])
    ]
    lines += [
        "",
        "| emotion | strength | VADER moved the expected way | readout reading rose | median perplexity ÷ baseline |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['emotion']} | {r['strength']}{' (chosen)' if chosen.get(r['emotion']) == r['strength'] else ''} | "
        f"{r['vader_moved']:.0%} | {r['reading_moved']:.0%} | {r['median_perplexity_ratio']:.2f} |"
        for r in out["report"]
    ]
    if out.get("valence_loading"):
        kinds = list(out["valence_loading"])
        lines += [
            "",
            f"How far each steered emotion's direction points along the human-valence axis at "
            f"{layers_label(out['layers'])} (cosine; the axis is the rated directions weighted by their "
            "centred valence, core.geometry.valence_loading). A direction near 0 has no reason to move VADER:",
            "",
            "| emotion | " + " | ".join(kinds) + " |",
            "|---|" + "---|" * len(kinds),
        ]
        lines += [f"| {e} | " + " | ".join(f"{out['valence_loading'][k][e]:+.2f}" for k in kinds) + " |" for e in EXPECTED]
    if out["choose"]:
        finalists = out.get("finalists")
        lines += [
            "",
            "Choosing set. Every set-up at the coarse strengths"
            + (
                f" ({', '.join(map(str, out['choose_strengths']))}); the best {len(finalists)} also at "
                f"{', '.join(str(s) for s in out['fine_strengths'] if s not in out['choose_strengths'])}"
                if finalists
                else ""
            )
            + ". The rule: the best worse-of-happy-and-sad rate, min(VADER, readout), over strengths whose "
            "median perplexity stays within 2×; each emotion's strength is its best such row in the chosen set-up:",
            "",
            "| set-up | layers | emotion | strength | VADER | readout | perplexity ratio |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {r['setup']} | {span(out['setup_layers'][r['setup']])} | {r['emotion']} | {r['strength']} | "
            f"{r['vader_moved']:.0%} | {r['reading_moved']:.0%} | {r['median_perplexity_ratio']:.2f} |"
            for r in out["choose"]
        ]
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


STORED = (("choose", "choose"), ("report", "report"), ("held", "held_out"), ("held", "own_held_out"))


def stored_rows(model: str, name: str, tokens: int, made: dict, held: str, batch: int = 1) -> dict:
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
        if old.get("tokens") != tokens or old.get("batch", 1) != batch:
            continue
        prompts = {"choose": old.get("choose_prompts"), "report": old.get("report_prompts"), "held": old.get("held_prompts")}
        for stage, key in STORED:
            if prompts[stage] != stage_prompts(held)[stage]:
                continue
            for r in old.get(key, []):
                setup = r.get("setup")
                kind = SETUPS.get(setup, {}).get("kind")
                if kind and old.get("directions", {}).get(kind) == made.get(kind):
                    out[(stage, setup, r["emotion"], r["strength"])] = {**r, "setup": setup}
    return out


def figure(out: dict, png: Path) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    colours = {"happy": "#1b9e77", "sad": "#7570b3", "calm": "#e6ab02", "desperate": "#d95f02"}
    fig = make_subplots(
        rows=1, cols=3, subplot_titles=["VADER moved the expected way", "readout reading rose", "median perplexity ÷ baseline"]
    )
    chosen = out.get("chosen_strengths", {})
    for emotion in colours:
        rows = [r for r in out["report"] if r["emotion"] == emotion]
        x = [r["strength"] for r in rows]
        held = [s == chosen.get(emotion) for s in x]  # the strength chosen on the other prompts: a star
        marker = dict(size=[15 if h else 7 for h in held], symbol=["star" if h else "circle" for h in held])
        for col, key in enumerate(("vader_moved", "reading_moved", "median_perplexity_ratio"), 1):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=[r[key] for r in rows],
                    mode="lines+markers",
                    name=emotion,
                    marker=marker,
                    line=dict(color=colours[emotion]),
                    showlegend=col == 1,
                ),
                row=1,
                col=col,
            )
    held = out.get("held_out", [])
    for i, r in enumerate(held):  # the verdict's cells: the chosen strengths on 96 pairs
        for col, key in enumerate(("vader_moved", "reading_moved", "median_perplexity_ratio"), 1):
            fig.add_trace(
                go.Scatter(
                    x=[r["strength"]],
                    y=[r[key]],
                    mode="markers",
                    name=f"held out ({r['pairs']} pairs)",
                    marker=dict(symbol="diamond-open", size=14, line=dict(width=2), color=colours[r["emotion"]]),
                    legendgroup="held",
                    showlegend=col == 1 and i == 0,
                ),
                row=1,
                col=col,
            )
    fig.add_hline(y=0.9, line_dash="dash", line_color="#999", row=1, col=1)
    fig.add_hline(y=0.9, line_dash="dash", line_color="#999", row=1, col=2)
    fig.add_hline(y=FLUENT_PERPLEXITY_RATIO, line_dash="dash", line_color="#999", row=1, col=3)
    fig.update_xaxes(title="strength (× mean residual norm)")
    fig.update_yaxes(tickformat=".0%", range=[-0.02, 1.02], row=1, col=1)
    fig.update_yaxes(tickformat=".0%", range=[-0.02, 1.02], row=1, col=2)
    fig.update_yaxes(type="log", row=1, col=3)
    fig.update_layout(
        title=f"Steering {out['model']}: {out['chosen_setup']}, {layers_label(out['layers'])}<br>"
        f"<sup>{len(out['report_prompts'])} report prompts × 3 seeds per point"
        + (" · ★ the strength chosen for that emotion on the choosing prompts" if chosen else "")
        + (f" · ◇ that strength held out on {held[0]['pairs']} pairs of the {out['held_set']} held-out set" if held else "")
        + "</sup>",
        width=1300,
        height=450,
        margin=dict(t=110),
    )
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
