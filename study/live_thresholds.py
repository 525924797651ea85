"""Choose the Live page's default alert threshold on replies to neutral prompts.

    .venv/bin/python -m study.live_thresholds --model smollm2-135m-instruct

The model answers neutral prompts (60 tokens, seed 0, no steering) and every token is read by
the token reading, as the Live page reads it. Rule (written before it ran): the default is the
smallest threshold, in steps of 0.5 from 2, at which the default watch-list (desperate,
afraid) flags at most 1% of the reply tokens on the 40 choosing prompts; the 32 report and
check prompts only report. Writes ``cached_vectors/<model>/live-threshold.json``, which
``core.monitor.default_threshold`` reads.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from core import load_model, load_vectors
from core.monitor import DEFAULT_WATCH, THRESHOLD_FILE, monitor
from core.paths import write_text_atomic
from core.vectors import vectors_dir

from .prompts import CHECK_PROMPTS, CHOOSE_PROMPTS, MORE_CHOOSE_PROMPTS, REPORT_PROMPTS

STEPS = np.arange(2.0, 8.01, 0.5)


def readings(lm, ev, prompts) -> np.ndarray:
    """``[tokens, E]`` z of every reply token to every prompt."""
    out = []
    for k, p in enumerate(prompts):
        out += monitor(lm, ev, f"User: {p}", {}, max_new_tokens=60, seed=0).z
        print(f"\r{k + 1}/{len(prompts)}", end="", flush=True)
    print()
    return np.stack(out)


def rates(z: np.ndarray, cols: list[int]) -> dict:
    per = {
        float(t): {
            "default_watch": float((z[:, cols] >= t).any(1).mean()),
            "median_emotion": float(np.median((z >= t).mean(0))),
            "p95_emotion": float(np.percentile((z >= t).mean(0), 95)),
        }
        for t in STEPS
    }
    return per


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    args = ap.parse_args(argv)
    lm = load_model(args.model)
    ev = load_vectors(lm)
    cols = [ev.index(e) for e in DEFAULT_WATCH]
    choose = rates(readings(lm, ev, CHOOSE_PROMPTS + MORE_CHOOSE_PROMPTS), cols)
    report = rates(readings(lm, ev, REPORT_PROMPTS + CHECK_PROMPTS), cols)
    threshold = next((t for t in choose if choose[t]["default_watch"] <= 0.01), float(STEPS[-1]))
    out = {
        "model": lm.name,
        "reading": ev.describe_token_reading(),
        "watch": list(DEFAULT_WATCH),
        "threshold": threshold,
        "rule": "smallest threshold (0.5 steps from 2) at which the default watch-list "
        "flags <= 1% of reply tokens on the 40 choosing prompts (60 tokens, seed 0)",
        "choosing": choose[threshold],
        "report": report[threshold],
        "by_threshold": {"choosing": choose, "report": report},
    }
    path = vectors_dir(lm.name) / THRESHOLD_FILE
    write_text_atomic(path, json.dumps(out, indent=1))
    print(json.dumps({k: out[k] for k in ("threshold", "choosing", "report")}, indent=1), f"\nwrote {path}")


if __name__ == "__main__":
    main()
