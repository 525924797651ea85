"""Performance figures, each a ratio of two timings taken in the same run on this machine."""

from __future__ import annotations

import html
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from . import corpus
from .paths import ROOT

if TYPE_CHECKING:
    from .models import LoadedModel
    from .vectors import EmotionVectors


def _best(fn, repeat: int = 3) -> float:
    """Best of ``repeat`` wall-clock timings (the least disturbed by other work)."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _text_of(lm: LoadedModel, n_tokens: int) -> str:
    text = ""
    for story in corpus.load_stories():
        text += story.text + "\n\n"
        if len(lm.tokenizer(text).input_ids) >= n_tokens:
            break
    ids = lm.tokenizer(text).input_ids[:n_tokens]
    return lm.tokenizer.decode(ids)


def _peak_rss_mb(model: str, n_tokens: int) -> tuple[float, float]:
    """(RSS after loading, peak RSS while scoring n_tokens), in a fresh process.

    The kernel's peak counter is reset after loading (clear_refs 5), so the peak is the
    scoring's own, not the load's.
    """
    code = f"""
import json
from core import load_model, load_vectors, score
from core.bench import _text_of
def status(key):
    return next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith(key)) / 1024
lm = load_model({model!r}); ev = load_vectors(lm)
text = _text_of(lm, {n_tokens})
before = status('VmRSS:')
open('/proc/self/clear_refs', 'w').write('5')
score(lm, ev, text)
print(json.dumps([before, status('VmHWM:')]))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=900)
    if out.returncode:
        raise RuntimeError(out.stderr.strip().splitlines()[-1])
    return tuple(json.loads(out.stdout.strip().splitlines()[-1]))


def _ready_seconds(model: str) -> float:
    """Seconds from a new process's start (kernel clock) until ``load_model`` returns."""
    code = f"""
import os
def uptime():
    return float(open('/proc/uptime').read().split()[0])
start = float(open('/proc/self/stat').read().rsplit(')', 1)[1].split()[19]) / os.sysconf('SC_CLK_TCK')
from core import load_model
load_model({model!r})
print(uptime() - start)
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=900)
    if out.returncode:
        raise RuntimeError(out.stderr.strip().splitlines()[-1])
    return float(out.stdout.strip().splitlines()[-1])


def _generation(lm: LoadedModel, ev: EmotionVectors, n: int = 48) -> dict:
    """Tokens per second of plain, steered and live (read + highlighted per token) generation,
    greedy, on one prompt; each the best of 3."""
    from .monitor import monitor_stream, new_result
    from .render import live_html
    from .steering import steer_generate

    prompt = "User: Tell me about your weekend, in detail."
    count = lambda text: len(lm.tokenizer(text, add_special_tokens=False).input_ids)

    def rate(fn):
        best = 0.0
        for _ in range(3):
            start = time.perf_counter()
            tokens = fn()
            best = max(best, tokens / (time.perf_counter() - start))
        return best

    def live():
        watch = {"desperate": 99.0, "afraid": 99.0}
        result = new_result(lm, ev, watch)
        for _ in monitor_stream(lm, ev, prompt, watch, result, max_new_tokens=n, seed=None):
            live_html(result.tokens, result.series(result.emotions[0]), set())
        return len(result.tokens)

    def both():
        """The Steering page's "Generate both": baseline and steered replies, each streamed token by token."""
        shown = []
        ui = lambda text: shown.append(f"{len(shown)} of {n} tokens: {html.escape(text)}")
        return sum(count(steer_generate(lm, ev, prompt, s, max_new_tokens=n, seed=None, on_text=ui)) for s in ({}, {"calm": 0.3}))

    plain = rate(lambda: count(steer_generate(lm, ev, prompt, {}, max_new_tokens=n, seed=None)))
    steered = rate(lambda: count(steer_generate(lm, ev, prompt, {"calm": 0.3}, max_new_tokens=n, seed=None)))
    live_rate = rate(live)
    both_rate = rate(both)
    return {
        "max_new_tokens": n,
        "plain_tok_s": round(plain, 2),
        "steered_tok_s": round(steered, 2),
        "live_tok_s": round(live_rate, 2),
        "steered_ratio": round(steered / plain, 3),
        "live_overhead": round(plain / live_rate - 1, 3),
        "both_streamed_tok_s": round(both_rate, 2),
        "both_ratio": round(plain / both_rate, 3),
    }


def run_bench(model: str, progress=print) -> dict:
    from .activations import encode_batch, on_device
    from .collect import story_means
    from .models import load_model
    from .render import highlight_payload
    from .scoring import forward, score, scores_from
    from .vectors import load_vectors

    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads",
        "model": model,
    }
    progress("load time in fresh processes (converted cache)")
    ready = sorted(_ready_seconds(model) for _ in range(3))
    results["warm_load_from_process_start_s"] = {"median": round(ready[1], 2), "min": round(ready[0], 2), "max": round(ready[2], 2)}
    lm = load_model(model)
    ev = load_vectors(lm)
    text = _text_of(lm, 1000)
    ids = lm.tokenizer(text, return_tensors="pt")
    n = ids["input_ids"].shape[1]

    progress(f"scoring vs bare forward on {n} tokens")

    def bare():
        with torch.inference_mode():
            lm.model(**on_device(lm, ids), use_cache=False)

    bare_s = _best(bare)
    score_s = _best(lambda: score(lm, ev, text))
    results["score_vs_forward"] = {
        "tokens": n,
        "bare_forward_s": round(bare_s, 3),
        "score_s": round(score_s, 3),
        "ratio": round(score_s / bare_s, 3),
    }

    progress("switching layer (re-project + browser payload) vs re-scoring")
    fw = forward(lm, text, range(lm.n_layers))
    switch_s = _best(lambda: json.dumps(highlight_payload(scores_from(fw, ev, 3), "calm")), 5)
    results["switch_vs_rescore"] = {"switch_s": round(switch_s, 4), "rescore_s": round(score_s, 3), "ratio": round(switch_s / score_s, 4)}

    progress("steered and live generation vs plain generation (tokens per second)")
    results["generation"] = _generation(lm, ev)

    progress("build throughput vs bare forward throughput (48 stories)")
    stories = corpus.load_stories()[:48]
    texts = [s.text for s in stories]
    n_tok = sum(len(lm.tokenizer(t).input_ids) for t in texts)
    with tempfile.TemporaryDirectory() as tmp:
        build_s = _best(lambda: story_means(lm, stories, Path(tmp) / str(time.time()), 8, lambda *a: None), 1)

    def bare_batches():
        with torch.inference_mode():
            for b in range(0, len(texts), 8):
                lm.model(**on_device(lm, encode_batch(lm, texts[b : b + 8])), use_cache=False)

    bare_b = _best(bare_batches, 1)
    all_stories = len(corpus.load_stories())
    results["build_vs_forward"] = {
        "stories": len(stories),
        "tokens": n_tok,
        "build_s": round(build_s, 2),
        "bare_forward_s": round(bare_b, 2),
        "ratio": round(build_s / bare_b, 3),
        "projected_full_build_min": round(build_s / len(stories) * all_stories / 60, 1),
    }

    progress("peak memory at 8,000 tokens (fresh process)")
    before, peak = _peak_rss_mb(model, 8000)
    results["memory_8000_tokens"] = {
        "rss_after_load_mb": round(before),
        "peak_rss_mb": round(peak),
        "scoring_extra_mb": round(peak - before),
        "ratio": round(peak / before, 2),
    }
    return results


def to_table(r: dict) -> str:
    s, w, b, m = r["score_vs_forward"], r["switch_vs_rescore"], r["build_vs_forward"], r["memory_8000_tokens"]
    gen = r["generation"]
    rows = [
        ("score vs one bare forward pass", f"{s['tokens']} tokens", f"{s['score_s']:.3f} s / {s['bare_forward_s']:.3f} s", s["ratio"]),
        ("switch layer vs re-score", "re-project all 171 + browser payload", f"{w['switch_s']:.4f} s / {w['rescore_s']:.3f} s", w["ratio"]),
        (
            "build vs bare forward (batches of 8)",
            f"{b['stories']} stories, {b['tokens']} tokens",
            f"{b['build_s']:.2f} s / {b['bare_forward_s']:.2f} s (full build ≈ {b['projected_full_build_min']} min)",
            b["ratio"],
        ),
        (
            "steered vs plain generation, tokens/s",
            f"greedy, {gen['max_new_tokens']} tokens",
            f"{gen['steered_tok_s']} / {gen['plain_tok_s']}",
            gen["steered_ratio"],
        ),
        (
            "live (read + highlight each token) vs plain, per-token time",
            f"greedy, {gen['max_new_tokens']} tokens",
            f"{gen['live_tok_s']} / {gen['plain_tok_s']} tok/s",
            f"+{gen['live_overhead']:.0%}",
        ),
        (
            '"Generate both" (two replies streamed) vs plain generation of the same tokens, time',
            f"greedy, 2 × {gen['max_new_tokens']} tokens",
            f"{gen['both_streamed_tok_s']} / {gen['plain_tok_s']} tok/s",
            gen["both_ratio"],
        ),
        ("peak RSS at 8,000 tokens vs after load", "fresh process", f"{m['peak_rss_mb']} MB / {m['rss_after_load_mb']} MB", m["ratio"]),
    ]
    lines = [f"{r['model']} on {r['machine']}", "", "| figure | input | timings | ratio |", "|---|---|---|---|"]
    lines += [f"| {a} | {b_} | {c} | {d} |" for a, b_, c, d in rows]
    w = r["warm_load_from_process_start_s"]
    lines += ["", f"New process to model ready (converted cache): median {w['median']} s (min {w['min']}, max {w['max']}, 3 runs)."]
    return "\n".join(lines)


def scan_bench(model: str, n: int = 1000, workers: int = 2, progress=print) -> dict:
    """Scan throughput on a generated corpus of ``n`` chats, in one run: bare batched forward
    passes over the same transcripts (the floor), the local engine end to end, and Ray Data
    with ``workers`` model actors end to end (its start-up timed apart)."""
    import shutil

    from .activations import on_device
    from .alignment import prepare, tokenize
    from .models import load_model
    from .scan import CHUNK, finish, scan_local
    from .scan_input import read_records
    from .vectors import load_vectors

    lm = load_model(model)
    ev = load_vectors(lm)
    work = Path(tempfile.mkdtemp(prefix="scan-bench-"))
    try:
        src = work / "chats.jsonl"
        corpus.write_chat_corpus(src, n)
        records = [r for r in read_records(src) if not r.reason]
        encoded = [tokenize(lm, *prepare(lm, list(r.turns)))[0]["input_ids"][0] for r in records]
        tokens = sum(len(x) for x in encoded)
        progress(f"bare forward passes over {len(records)} transcripts ({tokens:,} tokens)")
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
        start = time.perf_counter()
        with torch.inference_mode():
            for b in range(0, len(order), CHUNK):
                batch = [encoded[i] for i in order[b : b + CHUNK]]
                ids = torch.nn.utils.rnn.pad_sequence(batch, batch_first=True, padding_value=lm.tokenizer.pad_token_id or 0)
                mask = torch.nn.utils.rnn.pad_sequence([torch.ones_like(x) for x in batch], batch_first=True)
                lm.model(**on_device(lm, {"input_ids": ids, "attention_mask": mask}), use_cache=False)
        bare = time.perf_counter() - start
        progress("local engine")
        start = time.perf_counter()
        scan_local(lm, ev, src, work / "local")
        finish(ev, lm, work / "local", "local", 0)
        local = time.perf_counter() - start
        progress(f"ray engine, {workers} actors")
        import ray

        from .scan_ray import scan_ray

        start = time.perf_counter()
        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
        started = time.perf_counter() - start
        try:
            scan_ray(lm, ev, src, work / "ray", workers=workers)
            finish(ev, lm, work / "ray", "ray", 0)
        finally:
            ray.shutdown()
        ray_s = time.perf_counter() - start

        def rate(seconds: float) -> dict:
            return {"seconds": round(seconds, 1), "transcripts_s": round(len(records) / seconds, 2), "tokens_s": round(tokens / seconds)}

        return {
            "model": model,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}",
            "transcripts": len(records),
            "tokens": tokens,
            "bare_forward": rate(bare),
            "local": rate(local),
            "ray": rate(ray_s) | {"start_up_s": round(started, 1), "workers": workers},
            "local_vs_bare": round(local / bare, 2),
            "ray_vs_local": round(ray_s / local, 2),
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def scan_table(r: dict) -> str:
    lines = [
        f"{r['model']} on {r['machine']}: {r['transcripts']:,} transcripts, {r['tokens']:,} tokens",
        "",
        "| run | seconds | transcripts/s | tokens/s |",
        "|---|---|---|---|",
    ]
    for key, label in (("bare_forward", "bare forward passes (batches of 32)"), ("local", "scan, local engine"), ("ray", "scan, Ray Data")):
        x = r[key]
        lines.append(f"| {label} | {x['seconds']} | {x['transcripts_s']} | {x['tokens_s']:,} |")
    lines += [
        "",
        f"Local scan vs bare forward: {r['local_vs_bare']}×; Ray ({r['ray']['workers']} actors, "
        f"{r['ray']['start_up_s']} s of it starting Ray) vs local: {r['ray_vs_local']}×.",
    ]
    return "\n".join(lines)
