"""One steering cell: try an idea on the choosing prompts before it joins a study, or hold out
once a cell chosen there.

Usage: .venv/bin/python -m study.steering_cell --setup NAME --emotion sad --strength 0.4
       [--model smollm2-135m-instruct] [--tokens 60] [--against 0.5] [--positions all|generated]
       [--prompts 8] [--more] [--held first|second|third|fourth]
       .venv/bin/python -m study.steering_cell --rejudge fourth --emotion sad
By default it runs on ``core.effects.CHOOSE_PROMPTS`` (3 seeds each; ``--more`` adds
``MORE_CHOOSE_PROMPTS``), so what it shows can steer the next choice without spending a held-out
set. ``--held`` runs one strength on a held-out set instead and records the verdict in
``steering-verdicts.json`` beside the vectors; a set that already gave a verdict for that emotion
(there, or as the stored study's held-out set) is refused, as a second look would not be held out.
``--rejudge`` runs a verdict recorded there again, exactly as it was steered, and adds the judges it
did not yet have (the word-valence judge came after the first verdicts) if the figures it had come out
the same; nothing is chosen, so the set stays as held out as it was.
Prints, per strength, how often the judges and the readout moved the expected way and the median
perplexity ratio, as the study counts them (``core.effects.effect_cells``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path

from core import load_model, load_vectors
from core.paths import write_text_atomic
from core.steering import STEER_POSITIONS
from core.steering_preset import layers_label
from core.vectors import vectors_dir
from core.verdicts import verdict_text

from .prompts import CHOOSE_PROMPTS, HELD_SETS, MORE_CHOOSE_PROMPTS
from .setups import EXPECTED, SETUPS, cell_setup, effect_cells, setup_layers, study_verdicts, verdict_setup


def spent(folder: Path, held: str, emotion: str) -> bool:
    """Whether ``held`` already gave ``emotion`` a verdict: the first set in each model's first study, the
    others in the stored study or an earlier cell."""
    return held == "first" or any(r["emotion"] == emotion and r["held"] == held for r in study_verdicts(folder))


def record_verdict(path: Path, row: dict) -> None:
    """Append a held-out verdict to ``path`` (written atomically, earlier verdicts kept)."""
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        stored = {"verdicts": []}
    stored["verdicts"].append(row)
    write_text_atomic(path, json.dumps(stored, indent=1))


def add_judges(path: Path, old: dict, row: dict) -> dict:
    """Store in ``path`` what ``row``, a rerun of the recorded verdict ``old``, measured that ``old``
    lacks, if the figures ``old`` had came out the same (else refuse: it would be another verdict)."""
    kept = ("pairs", "vader_moved", "reading_moved", "median_perplexity_ratio")
    if any(row[f] != old[f] for f in kept):
        raise SystemExit(
            "the verdict did not reproduce, so nothing was added: "
            + ", ".join(f"{f} {old[f]:.4g} → {row[f]:.4g}" for f in kept if row[f] != old[f])
        )
    stored = json.loads(path.read_text(encoding="utf-8"))
    k = stored["verdicts"].index(old)
    stored["verdicts"][k] = {**row, **old}
    write_text_atomic(path, json.dumps(stored, indent=1))
    return stored["verdicts"][k]


def rejudge(model: str, held: str, emotion: str) -> dict:
    """Run the verdict recorded for ``emotion`` on ``held`` again, exactly as it steered, and add the judges it lacks."""
    path = vectors_dir(model) / "steering-verdicts.json"
    try:
        verdicts = json.loads(path.read_text(encoding="utf-8"))["verdicts"]
    except (OSError, ValueError, KeyError):
        verdicts = []
    old = next((r for r in verdicts if r["emotion"] == emotion and r["held"] == held), None)
    if old is None:
        raise SystemExit(f"no verdict for '{emotion}' on the {held} held-out set in {path}")
    lm = load_model(model)
    ev = load_vectors(lm)
    setup = verdict_setup(old)
    if setup_layers(ev, setup) != old["layers"]:
        raise SystemExit(f"the set-up's layers are now {setup_layers(ev, setup)}, not {old['layers']}")
    [row] = effect_cells(lm, ev, HELD_SETS[held], emotion, [old["strength"]], setup, max_new_tokens=old["tokens"])
    return add_judges(path, old, row)


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--setup", choices=list(SETUPS))
    ap.add_argument("--emotion", required=True, choices=list(EXPECTED))
    ap.add_argument("--strength", type=float, nargs="+")
    ap.add_argument("--tokens", type=int, default=60, help="reply length")
    ap.add_argument(
        "--against",
        type=float,
        default=None,
        help="push the opposite the other way at this share of the strength (default: as the set-up does)",
    )
    ap.add_argument(
        "--opposite",
        default=None,
        help="steer against this emotion instead of the emotion's opposite "
        "(with --against; e.g. 'loving' for sad replies that VADER reads as tender)",
    )
    ap.add_argument("--positions", choices=STEER_POSITIONS, default=None, help="steer every position or only the reply's")
    ap.add_argument("--prompts", type=int, default=len(CHOOSE_PROMPTS), help="use the first N choosing prompts")
    ap.add_argument(
        "--more",
        action="store_true",
        help=f"also the {len(MORE_CHOOSE_PROMPTS)} further choosing prompts "
        "(core.effects.MORE_CHOOSE_PROMPTS), to tell apart cells a few points apart",
    )
    ap.add_argument(
        "--held",
        choices=list(HELD_SETS),
        default=None,
        help="hold one strength, chosen on the choosing prompts, out on this set instead, once per emotion, and record the verdict",
    )
    ap.add_argument(
        "--rejudge",
        choices=list(HELD_SETS),
        default=None,
        help="run the verdict recorded for --emotion on this set again and add the judges it lacks, if its figures reproduce",
    )
    args = ap.parse_args(argv)
    folder = vectors_dir(args.model)
    if args.rejudge:
        row = rejudge(args.model, args.rejudge, args.emotion)
        print(f"{args.emotion} {row['strength']:g} on the {args.rejudge} held-out set: {verdict_text(row)}")
        return [row]
    if not args.setup or not args.strength:
        ap.error("--setup and --strength are needed (except with --rejudge)")
    if args.held:
        if len(args.strength) != 1 or args.more or args.prompts != len(CHOOSE_PROMPTS):
            ap.error("--held takes one strength, chosen beforehand, and no choosing-prompt options")
        if spent(folder, args.held, args.emotion):
            ap.error(f"the {args.held} held-out set already gave '{args.emotion}' a verdict: look again and it is no longer held out")
    lm = load_model(args.model)
    ev = load_vectors(lm)
    if args.opposite and args.opposite not in ev.emotions:
        ap.error(f"'{args.opposite}' is not one of {lm.name}'s {len(ev.emotions)} emotions")
    setup = cell_setup(args.setup, args.against, args.positions, {args.emotion: args.opposite} if args.opposite else None)
    prompts = HELD_SETS[args.held] if args.held else CHOOSE_PROMPTS[: max(1, args.prompts)] + (MORE_CHOOSE_PROMPTS if args.more else [])
    start = time.time()
    rows = effect_cells(lm, ev, prompts, args.emotion, args.strength, setup, max_new_tokens=args.tokens)
    where = f"the {args.held} held-out set" if args.held else "choosing prompts"
    print(
        f"{lm.name}, {args.setup}: {layers_label(setup_layers(ev, setup))}, against {setup.get('against', 0.0):g}"
        + (f" ({args.opposite})" if args.opposite else "")
        + f", {setup['positions']} positions, {args.tokens} tokens, {where} ({time.time() - start:.0f} s):"
    )
    for r in rows:  # a held-out row is a verdict, said as the study and the app say it
        print(
            f"  {r['emotion']} {r['strength']:g} over {r['pairs']} pairs: "
            + (
                verdict_text(r)
                if args.held
                else f"VADER {r['vader_moved']:.0%}, word valence {r['valence_moved']:.0%}, "
                f"reading {r['reading_moved']:.0%}, perplexity {r['median_perplexity_ratio']:.2f}×"
            )
        )
    if args.held:
        record_verdict(
            folder / "steering-verdicts.json",
            {
                **rows[0],
                "setup": args.setup,
                "against": setup.get("against", 0.0),
                "opposite": args.opposite,
                "positions": setup["positions"],
                "layers": setup_layers(ev, setup),
                "tokens": args.tokens,
                "held": args.held,
                "date": datetime.date.today().isoformat(),
            },
        )
    return rows


if __name__ == "__main__":
    main()
