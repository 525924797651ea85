"""Resolve a model's steering study into the preset the product reads (``core.steering_preset``).

    .venv/bin/python -m study.preset --model smollm2-135m-instruct

Reads ``steering.json`` (the study: its chosen set-up and its rows on the choosing prompts) and
``steering-verdicts.json`` (verdicts recorded since by ``study.steering_cell --held``) beside the
vectors, and writes ``steering-preset.json``: the chosen set-up's kind, layers, starting strength
and opposites, and every held-out verdict with the settings it steered.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from core import load_vectors
from core.models import load_model
from core.paths import write_text_atomic
from core.steering_preset import PRESET_FILE, fallback
from core.vectors import vectors_dir

from .setups import EXPECTED, OPPOSITE, SETUPS, setup_layers, study_strength, study_verdicts, verdict_settings


def resolve(ev) -> dict:
    """The preset for ``ev``'s model from its study files; the concept-vector fallback without a study."""
    folder = vectors_dir(ev.model_name)
    try:
        study = json.loads((folder / "steering.json").read_text(encoding="utf-8"))
        name = study["chosen_setup"]
        setup = SETUPS[name]
    except (OSError, ValueError, KeyError):
        none = asdict(fallback(ev))  # what the product reads without a study
        return {**none, "layers": list(none["layers"]), "verdicts": []}
    choose = [r for r in study.get("choose", []) if r.get("setup") == name]
    verdicts = [{**r, "expected": EXPECTED.get(r["emotion"], 1), "settings": verdict_settings(ev, r)} for r in study_verdicts(folder)]
    return {
        "kind": setup["kind"],
        "layers": setup_layers(ev, setup),
        "strength": study_strength(choose),
        "against": setup.get("against", 0.0),
        "opposite": OPPOSITE if setup.get("against") else {},
        "positions": setup.get("positions", "all"),
        "name": name,
        "verdicts": verdicts,
    }


def write_preset(ev) -> dict:
    preset = resolve(ev)
    write_text_atomic(vectors_dir(ev.model_name) / PRESET_FILE, json.dumps(preset, indent=1, ensure_ascii=False))
    return preset


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    args = ap.parse_args(argv)
    preset = write_preset(load_vectors(load_model(args.model)))
    print(
        f"{args.model}: {preset['name'] or 'no study: concept vectors at the default layer'}; {len(preset['verdicts'])} held-out verdicts"
    )


if __name__ == "__main__":
    main()
