"""One exploratory steering cell on the choosing prompts: try an idea before it joins a study.

Usage: .venv/bin/python tools/steering_cell.py --setup NAME --emotion sad --strength 0.4
       [--model smollm2-135m-instruct] [--tokens 60] [--against 0.5] [--positions all|generated]
       [--prompts 8]
Runs only on ``core.effects.CHOOSE_PROMPTS`` (3 seeds each), never on a held-out set, so what it
shows can steer the next study's choices without spending a verdict's prompts. Prints, per
strength, how often the judge and the readout moved the expected way and the median perplexity
ratio, as the study counts them (``core.effects.effect_cells``).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import load_model, load_vectors  # noqa: E402
from core.effects import CHOOSE_PROMPTS, EXPECTED, SETUPS, effect_cells, layers_label, setup_layers  # noqa: E402
from core.steering import POSITIONS  # noqa: E402


def cell_setup(name: str, against: float | None = None, positions: str | None = None) -> dict:
    """A study set-up with its opposite's share or its positions changed."""
    setup = dict(SETUPS[name])
    if against is not None:
        setup["against"] = against
    if positions is not None:
        setup["positions"] = positions
    return setup


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--setup", required=True, choices=list(SETUPS))
    ap.add_argument("--emotion", required=True, choices=list(EXPECTED))
    ap.add_argument("--strength", type=float, nargs="+", required=True)
    ap.add_argument("--tokens", type=int, default=60, help="reply length")
    ap.add_argument("--against", type=float, default=None, help="push the opposite the other way at this share "
                    "of the strength (default: as the set-up does)")
    ap.add_argument("--positions", choices=POSITIONS, default=None, help="steer every position or only the reply's")
    ap.add_argument("--prompts", type=int, default=len(CHOOSE_PROMPTS), help="use the first N choosing prompts")
    args = ap.parse_args(argv)
    lm = load_model(args.model)
    ev = load_vectors(lm)
    setup = cell_setup(args.setup, args.against, args.positions)
    start = time.time()
    rows = effect_cells(lm, ev, CHOOSE_PROMPTS[:max(1, args.prompts)], args.emotion, args.strength, setup,
                        max_new_tokens=args.tokens)
    print(f"{lm.name}, {args.setup}: {layers_label(setup_layers(ev, setup))}, against {setup.get('against', 0.0):g}, "
          f"{setup['positions']} positions, {args.tokens} tokens, choosing prompts ({time.time() - start:.0f} s):")
    for r in rows:
        print(f"  {r['emotion']} {r['strength']:g}: VADER {r['vader_moved']:.0%}, reading {r['reading_moved']:.0%}, "
              f"perplexity {r['median_perplexity_ratio']:.2f}× over {r['pairs']} pairs")
    return rows


if __name__ == "__main__":
    main()
