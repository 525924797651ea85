"""Live monitoring: read emotions while the model writes, token by token, and stop in time.

Each generated token is read when it is fed back to the model (the same forward pass that
predicts the next token), so watching costs one projection per token, not a second pass.
A watch-list maps emotions to z thresholds; a token whose reading crosses one is flagged,
and with ``stop`` the reply ends at that token, before anything after it is written.
Hooks are the capture and steering context managers' own: they hold the model's lock and
are removed in ``finally``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np
import torch

from .activations import capture
from .alignment import prepare, tokenize, word_mask
from .errors import EmotionLensError
from .steering import MAX_SECONDS, reply_prompt, resolve_request, steering_additions, steering_hooks, turn_end
from .token_reading import RunningZ

if TYPE_CHECKING:
    from .models import LoadedModel
    from .vectors import EmotionVectors

MAX_WATCH = 20
DEFAULT_WATCH = ("desperate", "afraid")
# Each model's default alert threshold, chosen on replies to neutral prompts by
# study/live_thresholds.py; 3 (the colour scale's full red) where a model has none.
THRESHOLD_FILE = "live-threshold.json"
FALLBACK_THRESHOLD = 3.0


def default_threshold(model: str) -> tuple[float, str]:
    """The Live page's default threshold for ``model`` and a line saying where it comes from."""
    import json

    from .vectors import vectors_dir

    try:
        d = json.loads((vectors_dir(model) / THRESHOLD_FILE).read_text(encoding="utf-8"))
        t, r = float(d["threshold"]), d["report"]
    except (OSError, ValueError, KeyError, TypeError):
        return FALLBACK_THRESHOLD, "z of the token reading; no measured default for this model, so 3"
    return t, (
        f"z of the token reading. Default {t:g}: on replies to 32 neutral prompts it flags "
        f"{r['default_watch']:.1%} of tokens for {' or '.join(d['watch'])}, and {r['median_emotion']:.2%} for "
        f"the median emotion (chosen on 40 other prompts: at most 1% for the default list)"
    )


@dataclass
class MonitorStep:
    """One written token and what the model's reading said about it."""

    index: int  # position in the reply, from 0
    token: str
    z: np.ndarray  # [E] all emotions, z against the reading's baseline
    crossed: list[str]  # watched emotions at or above their threshold here


@dataclass
class MonitorResult:
    model: str
    layer: int
    method: str
    emotions: list[str]
    watch: dict[str, float]
    tokens: list[str] = field(default_factory=list)
    z: list[np.ndarray] = field(default_factory=list)
    flagged: list[dict] = field(default_factory=list)  # {"emotion", "start", "end", "peak_z"}, end exclusive
    stopped_at: int | None = None
    reason: str = "finished"
    token_level: bool = False  # read by the token-level reading (else a summary reading per token)
    families: Any = None  # core.families.Families, so a watched family can be read back

    def series(self, name: str) -> list[float]:
        """One emotion's z per written token (a family, "<name> family": its strongest member)."""
        if name in self.emotions:
            j = self.emotions.index(name)
            return [float(z[j]) for z in self.z]
        idx = self.families.columns(name) if self.families is not None else None
        if idx is None:
            raise EmotionLensError(f"'{name}' is neither an emotion nor a family")
        return [float(np.nanmax(z[idx])) for z in self.z]

    @property
    def reply(self) -> str:
        return "".join(self.tokens)

    def to_json(self) -> dict:
        return {
            "model": self.model,
            "layer": self.layer,
            "reading": self.method,
            "watch": self.watch,
            "reply": self.reply,
            "tokens": self.tokens,
            "z": {e: [round(v, 3) for v in self.series(e)] for e in self.watch},
            "flagged": self.flagged,
            "stopped_at": self.stopped_at,
            "reason": self.reason,
        }


def parse_emotion_values(
    items, emotions: list[str], value: str = "threshold", where: str = "the watch-list", example: str = "desperate=2.5"
) -> dict[str, float]:
    """``["desperate=2.5", …]`` or a dict → {emotion: number}, with one clear message when wrong.
    Watch-lists (thresholds) and steering (strengths) are both written so."""
    pairs = items.items() if isinstance(items, dict) else (str(i).split("=", 1) for i in items)
    out = {}
    for pair in pairs:
        if len(pair) != 2:
            raise EmotionLensError(f"items of {where} look like emotion={value}, e.g. {example}")
        name, number = str(pair[0]).strip(), pair[1]
        if name not in emotions:
            raise EmotionLensError(f"unknown emotion '{name}' in {where}")
        try:
            number = float(number)
        except (TypeError, ValueError):
            raise EmotionLensError(f"{value} of '{name}' must be a number") from None
        if not np.isfinite(number):
            raise EmotionLensError(f"{value} of '{name}' must be a finite number")
        out[name] = number
    if len(out) > MAX_WATCH:
        raise EmotionLensError(f"at most {MAX_WATCH} emotions at once in {where}")
    return out


def parse_watch(items, emotions: list[str], families=None) -> dict[str, float]:
    """A watch-list: {emotion or "<name> family": z threshold}."""
    names = list(emotions) + (families.labels if families is not None else [])
    return parse_emotion_values(items, names)


def watch_columns(ev: EmotionVectors, watch: dict[str, float]) -> dict[str, np.ndarray]:
    """Each watched name's emotion columns: one emotion, or a family's members (read as the
    strongest of them)."""
    columns = {e: ev.families.columns(e) for e in watch}
    return {e: np.array([ev.index(e)]) if c is None else c for e, c in columns.items()}


def _stop_ids(lm: LoadedModel) -> set[int]:
    ids = lm.model.generation_config.eos_token_id
    ids = set(ids if isinstance(ids, (list, tuple)) else [ids]) - {None}
    for marker in ("<|im_end|>", "<end_of_turn>", "<eos>"):
        tid = lm.tokenizer.convert_tokens_to_ids(marker)
        if isinstance(tid, int) and tid != lm.tokenizer.unk_token_id:
            ids.add(tid)
    return ids


def _next_token(logits: torch.Tensor, gen: torch.Generator | None) -> int:
    logits = logits.float().cpu()  # the seeded generator lives on the CPU, whatever the model's device
    if gen is None:
        return int(logits.argmax())
    probs = torch.softmax(logits / 0.8, -1)
    sorted_p, order = probs.sort(descending=True)
    keep = sorted_p.cumsum(-1) - sorted_p < 0.95  # top-p 0.95: the smallest set over 95%
    sorted_p = sorted_p * keep
    return int(order[torch.multinomial(sorted_p / sorted_p.sum(), 1, generator=gen)])


def monitor_stream(
    lm: LoadedModel,
    ev: EmotionVectors,
    prompt,
    watch: dict[str, float],
    result: MonitorResult | None = None,
    *,
    stop: bool = False,
    max_new_tokens: int = 60,
    seed: int | None = 0,
    strengths: dict[str, float] | None = None,
    steer_layer: int | None = None,
    steer_layers: list[int] | None = None,
    steer_kind: str | None = None,
    kind: str | None = None,
    baseline: str | None = None,
) -> Iterator[MonitorStep]:
    """Write a reply to ``prompt`` and yield each token with its reading as soon as it exists.

    ``result`` (from ``new_result``) collects tokens, readings, flagged spans and why the
    reply ended. ``strengths`` steers at the same time (closed loop), at ``steer_layer`` or spread
    over ``steer_layers``, with ``steer_kind`` directions (``core.steering.STEER_KINDS``); what is not
    given comes from the model's steering preset, as in ``steer_generate``.
    """
    ids = reply_prompt(lm, ev, prompt, max_new_tokens)["input_ids"]
    result = result or new_result(lm, ev, watch, kind, baseline)
    layer = result.layer
    cols = watch_columns(ev, watch)
    reading = ev.token_reading() if result.token_level else None
    # each token's z: the token reading's running impression, or a summary reading resolved once
    reader = RunningZ(reading) if reading is not None else ev.reading(kind, baseline, layer)
    req = resolve_request(ev, strengths or {}, steer_kind, steer_layer, steer_layers)
    additions = steering_additions(lm, ev, req.strengths, req.layers, req.kind)
    gen = None if seed is None else torch.Generator().manual_seed(int(seed))
    stop_ids = _stop_ids(lm)
    open_span: dict[str, tuple[int, float]] = {}

    def close(emotion, end):
        start, peak = open_span.pop(emotion)
        result.flagged.append({"emotion": emotion, "start": start, "end": end, "peak_z": round(peak, 3)})

    with steering_hooks(lm, additions), capture(lm, [layer], reduce=lambda l, h: h[0].float()) as cap, torch.inference_mode():
        out = lm.model(input_ids=ids.to(lm.device), use_cache=True)
        cache, logits = out.cache, out.logits[0, -1]
        if isinstance(reader, RunningZ):  # the running impression starts from the prompt's own words
            text, segments = prepare(lm, prompt, open_reply=True)
            turns = tokenize(lm, text, segments)[4]
            reader.update(cap.outputs[layer].numpy(), word_mask(turns, ids.shape[1]))
        deadline = time.monotonic() + MAX_SECONDS
        for i in range(int(max_new_tokens)):
            if time.monotonic() > deadline:  # a job holds the model (its lock) for a bounded time
                result.reason = f"the reply reached the time limit ({MAX_SECONDS:.0f} s)"
                break
            tid = _next_token(logits, gen)
            if tid in stop_ids:
                result.reason = "the model ended its reply"
                break
            out = lm.model(input_ids=torch.tensor([[tid]], device=lm.device), cache=cache, use_cache=True)
            cache, logits = out.cache, out.logits[0, -1]
            hidden = cap.outputs[layer].numpy()[-1:]
            z = reader.update(hidden)[0] if isinstance(reader, RunningZ) else reader.project(hidden)[1][0]
            token = lm.tokenizer.decode([tid])
            end = turn_end("".join(result.tokens) + token)
            if end is not None:  # the model began another speaker's turn: the reply ended before it
                while result.tokens and len("".join(result.tokens)) > end:
                    result.tokens.pop()
                    result.z.pop()
                result.reason = 'the model began another turn ("User:"), so the reply ends there'
                break
            value = {e: float(np.nanmax(z[c])) for e, c in cols.items()}
            crossed = [e for e, t in watch.items() if value[e] >= t]
            result.tokens.append(token)
            result.z.append(z)
            for e in watch:
                if e in crossed:
                    start, peak = open_span.get(e, (i, -np.inf))
                    open_span[e] = (start, max(peak, value[e]))
                elif e in open_span:
                    close(e, i)
            yield MonitorStep(i, token, z, crossed)
            if crossed and stop:
                result.stopped_at = i
                result.reason = f"stopped at token {i} ({token!r}): " + ", ".join(f"{e} z {value[e]:+.2f} ≥ {watch[e]:g}" for e in crossed)
                break
        else:
            result.reason = f"reached {max_new_tokens} tokens"
    for e in list(open_span):
        close(e, len(result.tokens))
    n = len(result.tokens)  # spans over tokens cut at a turn boundary go with them
    result.flagged = [dict(f, end=min(f["end"], n)) for f in result.flagged if f["start"] < n]


def new_result(
    lm: LoadedModel, ev: EmotionVectors, watch: dict[str, float], kind: str | None = None, baseline: str | None = None
) -> MonitorResult:
    """An empty result. By default tokens are read by the token-level reading (what the viewer
    colours); naming a ``kind`` or ``baseline`` reads each token with that summary reading."""
    if kind is None and baseline is None and ev.has_token_reading:
        return MonitorResult(
            lm.name,
            ev.token_reading().layer,
            ev.describe_token_reading(),
            list(ev.emotions),
            dict(watch),
            token_level=True,
            families=ev.families,
        )
    r = ev.reading(kind, baseline)
    return MonitorResult(lm.name, r.layer, r.method, list(ev.emotions), dict(watch), families=ev.families)


def monitor(lm: LoadedModel, ev: EmotionVectors, prompt, watch, **kwargs) -> MonitorResult:
    """Run ``monitor_stream`` to the end: the reply, its readings and what was flagged."""
    watch = parse_watch(watch, ev.emotions, ev.families)
    result = new_result(lm, ev, watch, kwargs.get("kind"), kwargs.get("baseline"))
    for _ in monitor_stream(lm, ev, prompt, watch, result, **kwargs):
        pass
    return result
