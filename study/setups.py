"""The steering study's set-ups and its bookkeeping: what is steered where, how a cell of the study
is measured, and how its verdicts are gathered and resolved for the preset the product reads.

Research code: the library and the app never import it (tests/test_study.py).
"""

from __future__ import annotations

import json

import numpy as np

from core.effects import measure
from core.steering import steer_generate, steer_generate_batch
from core.steering_preset import DEFAULT_STRENGTH
from core.verdicts import FLUENT_PERPLEXITY_RATIO

# Steering set-ups compared on CHOOSE_PROMPTS: which directions, added where (all positions).
# "depth" is one layer (None: the vectors' default layer, about two-thirds deep, as in the
# paper); "span" is every layer between two depths, the strength split evenly over them.
SETUPS = {
    f"{kind}, {'layer at 2/3 depth' if depth is None else f'layer at {depth:.0%} depth'}": {
        "kind": kind,
        "depth": depth,
        "positions": "all",
    }
    for kind, depths in (("concept", (None, 0.4, 0.8)), ("readout", (0.4, 0.8)), ("contrast", (0.4, 0.8)))
    for depth in depths
}
SETUPS.update(
    {
        f"{kind}, spread over layers at 13–67% depth": {"kind": kind, "span": (0.13, 0.67), "positions": "all"}
        for kind in ("concept", "contrast", "blend")
    }
)
SETUPS.update(
    {
        f"{kind}, spread over layers at 27–53% depth": {"kind": kind, "span": (0.27, 0.53), "positions": "all"}
        for kind in ("contrast", "blend")
    }
)
# The "happy vs sad versions of the same prompt": the emotion pushed up and its opposite
# down at half the strength, so the direction loses what the two share (on SmolLM2's layer 8 the
# contrast directions of "happy" and "sad" have cosine 0.7) and points along valence.
SETUPS["blend, spread over layers at 27–53% depth, against its opposite at half strength"] = {
    "kind": "blend",
    "span": (0.27, 0.53),
    "positions": "all",
    "against": 0.5,
}
EXPECTED = {"happy": 1, "sad": -1, "calm": 1, "desperate": -1}  # the direction VADER should move
OPPOSITE = {"happy": "sad", "sad": "happy", "calm": "desperate", "desperate": "calm"}


def cell_setup(name: str, against: float | None = None, positions: str | None = None, opposite: dict[str, str] | None = None) -> dict:
    """A study set-up (``SETUPS``) with its opposite's share, the emotion it is steered against, or its positions changed."""
    setup = dict(SETUPS[name])
    if against is not None:
        setup["against"] = against
    if opposite:
        setup["opposite"] = opposite
    if positions is not None:
        setup["positions"] = positions
    return setup


def setup_strengths(setup: dict, emotion: str, strength: float) -> dict[str, float]:
    """What a set-up steers for one emotion at one strength: the
    emotion, and its opposite (the set-up's ``opposite`` map, else ``OPPOSITE``, where it has one)
    pushed the other way when the set-up steers against it."""
    against, opposite = setup.get("against", 0.0), setup.get("opposite", OPPOSITE)
    if against and emotion in opposite and strength:
        return {emotion: strength, opposite[emotion]: -against * strength}
    return {emotion: strength}


def setup_layers(ev, setup: dict) -> list[int]:
    """The layers a set-up steers at."""

    def at(depth):
        return min(ev.n_layers - 1, round(depth * ev.n_layers))

    if setup.get("span"):
        lo, hi = setup["span"]
        return list(range(at(lo), at(hi) + 1))
    return [ev.default_layer if setup.get("depth") is None else at(setup["depth"])]


def study_verdicts(folder) -> list[dict]:
    """Every held-out verdict on steering the model whose vectors are in ``folder``: its study's (the chosen
    set-up, then each emotion's own best finalist) and those recorded since by ``study/steering_cell.py
    --held``; each row with its ``held`` set. Empty without a study."""
    out = []
    for name in ("steering.json", "steering-verdicts.json"):
        try:
            stored = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for r in stored.get("held_out", []) + stored.get("own_held_out", []) + stored.get("verdicts", []):
            row = {**r, "held": r.get("held", stored.get("held_set")), "tokens": r.get("tokens", stored.get("tokens"))}
            if row not in out:
                out.append(row)
    return out


def verdict_setup(row: dict) -> dict:
    """The set-up a held-out verdict steered (its study set-up with the cell's against-share, opposite
    and positions), as ``effect_cells`` takes it."""
    return cell_setup(
        row["setup"], row.get("against"), row.get("positions"), {row["emotion"]: row["opposite"]} if row.get("opposite") else None
    )


def verdict_settings(ev, row: dict) -> dict:
    """What a held-out verdict steered, as the Steering page's settings (``{"kind", "layers", "strengths",
    "positions", "tokens"}``), so a user can try the very set-up a verdict judged."""
    setup = verdict_setup(row)
    return {
        "kind": setup["kind"],
        "layers": row.get("layers") or setup_layers(ev, setup),
        "strengths": setup_strengths(setup, row["emotion"], row["strength"]),
        "positions": setup["positions"],
        "tokens": row.get("tokens") or 60,
    }


def study_strength(rows: list[dict]) -> float:
    """The strength that moved the emotions in ``rows`` most (mean over them of the worse of
    judge and reading) while every one stayed within 2× perplexity: where a model's text still
    holds together. Gemma breaks at strengths SmolLM2 takes, so one default does not fit both."""
    by_strength: dict[float, list[dict]] = {}
    for r in rows:
        by_strength.setdefault(r["strength"], []).append(r)
    fluent = {s: rows for s, rows in by_strength.items() if all(r["median_perplexity_ratio"] <= FLUENT_PERPLEXITY_RATIO for r in rows)}
    if not fluent:
        return min(by_strength, default=DEFAULT_STRENGTH)
    # rounded, so rates equal as fractions of the same pairs tie (and the gentler strength wins)
    return max(fluent, key=lambda s: (round(float(np.mean([min(r["vader_moved"], r["reading_moved"]) for r in fluent[s]])), 9), -s))


def _setup_kwargs(ev, setup: dict) -> dict:
    """steer_generate's arguments for a set-up; its strengths come expanded (``setup_strengths``), so
    nothing more is pushed against."""
    return {
        "layers": setup_layers(ev, setup),
        "positions": setup.get("positions", "all"),
        "kind": setup.get("kind", "concept"),
        "against": 0.0,
    }


def effect_cells(
    lm,
    ev,
    prompts: list[str],
    emotion: str,
    strengths: list[float],
    setup: dict,
    seeds=(0, 1, 2),
    max_new_tokens: int = 60,
    baselines: dict | None = None,
    batch: int = 1,
) -> list[dict]:
    """Per strength: in how many (prompt, seed) pairs the judges and the readout moved the expected
    way against the unsteered reply, and the median perplexity ratio.

    ``baselines`` (shared between calls) keeps each unsteered reply and its measures, so a
    (prompt, seed) pair is written unsteered once. ``batch`` > 1 writes that many prompts' replies
    at once (``steer_generate_batch``; a 1.5B model on a CPU), each paired with its unsteered twin
    from a batch of the same prompts and seed."""
    kw = _setup_kwargs(ev, setup)
    baselines = {} if baselines is None else baselines
    rows, sign = [], EXPECTED[emotion]
    chunks = [(prompts[i : i + batch], seed) for seed in seeds for i in range(0, len(prompts), batch)]

    def write(chunk: list[str], seed: int, strengths: dict, **more) -> list[str]:
        asked = [f"User: {p}" for p in chunk]
        if batch == 1:
            return [steer_generate(lm, ev, asked[0], strengths, max_new_tokens=max_new_tokens, seed=seed, **more)]
        return steer_generate_batch(lm, ev, asked, strengths, max_new_tokens=max_new_tokens, seed=seed, **more)

    for s in strengths:
        vader_up = valence_up = read_up = 0
        ratios, n = [], 0
        for chunk, seed in chunks:
            # a batched reply's twin comes from a batch of the very same prompts
            twin = (lambda p: (p, seed)) if batch == 1 else (lambda p: (p, seed, tuple(chunk)))
            if any(twin(p) not in baselines for p in chunk):
                baselines.update({twin(p): r for p, r in zip(chunk, write(chunk, seed, {}))})
            replies = write(chunk, seed, setup_strengths(setup, emotion, s), **kw)
            for p, reply in zip(chunk, replies):
                prompt = f"User: {p}"
                if (*twin(p), emotion) not in baselines:
                    baselines[(*twin(p), emotion)] = measure(lm, ev, prompt, baselines[twin(p)], emotion)
                base = baselines[(*twin(p), emotion)]
                m = measure(lm, ev, prompt, reply, emotion)
                vader_up += np.sign(s) * sign * (m["vader"] - base["vader"]) > 0
                valence_up += np.sign(s) * sign * (m["valence"] - base["valence"]) > 0
                read_up += np.sign(s) * (m["reading"] - base["reading"]) > 0
                ratios.append(m["perplexity"] / base["perplexity"])
                n += 1
        rows.append(
            {
                "emotion": emotion,
                "strength": s,
                "pairs": n,
                "vader_moved": vader_up / n,
                "valence_moved": valence_up / n,
                "reading_moved": read_up / n,
                "median_perplexity_ratio": float(np.median(ratios)),
            }
        )
    return rows
