"""``python -m core``: every number the app shows, from the command line.

Errors a user can fix print one line on stderr and exit 2; an unexpected error prints
one line naming it and exits 1. Never a traceback (set EMOTION_LENS_DEBUG=1 to see one).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from .errors import EmotionLensError
from .models import DEFAULT_MODEL, PRESETS


def _progress(msg: str) -> None:
    print(f"[emotion-lens] {msg}", file=sys.stderr, flush=True)


def _load(args):
    from .models import load_model
    return load_model(args.model, progress=_progress)


def cmd_info(args) -> int:
    lm = _load(args)
    info = {"model": lm.name, "source": lm.source, "sha256": lm.sha256, "n_layers": lm.n_layers,
            "d_model": lm.d_model, "chat_template": lm.chat_template is not None,
            "max_tokens": lm.max_tokens, "cache": str(lm.cache_path) if lm.cache_path else None}
    if args.json:
        print(json.dumps(info, indent=1))
    else:
        for key, value in info.items():
            print(f"{key:14s} {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Emotion Lens command line")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name, fn, help):
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(fn=fn)
        return p

    p = add("info", cmd_info, "show a model's name, source, layers, d_model and cache location")
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"preset ({', '.join(PRESETS)}), directory or HF id")
    p.add_argument("--json", action="store_true")
    return parser




def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except EmotionLensError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:   # a bug, still reported as one line
        if os.environ.get("EMOTION_LENS_DEBUG"):
            raise
        print(f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}", file=sys.stderr)
        return 1
