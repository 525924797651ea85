"""Does the simplest call steer as the study promised? ``steer_generate(lm, ev, prompt, {"happy": s})``
with nothing else (the preset picks kind, layers and the opposite push) at the preset's strength,
against the unsteered reply of the same seed: in how many (prompt, seed) pairs VADER moved the
expected way, for "happy" (up) and "sad" (down).

    .venv/bin/python -m study.preset_check --model smollm2-135m-instruct [--prompts 8]

Prompts: the first N report prompts (the study drew curves on them; it chose on others).
"""

from __future__ import annotations

import argparse
import json

from core import load_model, load_vectors
from core.effects import vader_compound
from core.steering import steer_generate
from core.steering_preset import load_preset

from .prompts import REPORT_PROMPTS
from .setups import EXPECTED

SEEDS = (0, 1, 2)


def check(lm, ev, prompts: list[str], emotions=("happy", "sad")) -> dict:
    preset = load_preset(ev)
    out = {"model": lm.name, "preset": preset.name, "strength": preset.strength, "pairs": len(prompts) * len(SEEDS)}
    base = {(p, s): vader_compound(steer_generate(lm, ev, f"User: {p}", {}, seed=s)) for p in prompts for s in SEEDS}
    for emotion in emotions:
        moved = sum(
            EXPECTED[emotion] * (vader_compound(steer_generate(lm, ev, f"User: {p}", {emotion: preset.strength}, seed=s)) - base[p, s]) > 0
            for p in prompts
            for s in SEEDS
        )
        out[emotion] = round(moved / out["pairs"], 4)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompts", type=int, default=8)
    args = ap.parse_args(argv)
    lm = load_model(args.model)
    print(json.dumps(check(lm, load_vectors(lm), REPORT_PROMPTS[: args.prompts])))


if __name__ == "__main__":
    main()
