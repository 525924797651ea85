"""Stories → emotion vectors (the paper's recipe), resumable and written atomically.

1. Each story's residual stream is averaged from ``start_token`` on, at every layer.
   Means for several starts are kept in one pass so the start can be chosen afterwards.
2. Stories are averaged per emotion and the mean over emotions is subtracted.
3. The neutral dialogues' token activations give, per layer, the principal components
   that explain ``neutral_variance`` of their variance; those are projected out.
4. Rows are unit-normalised. The neutral mean and covariance also give each vector's
   baseline projection mean/std (for z-scores) without a second pass.

Per-story means are checkpointed in the user cache, so an interrupted build resumes.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np
import torch

from . import corpus
from .activations import SINK_TOKENS, capture, encode_batch, mean_from
from .errors import EmotionLensError
from .geometry import store_umap
from .paths import atomic_path, cache_dir
from .probe import READ_POSITIONS, prompt_positions, tokenize
from .transcript import Turn, render
from .vectors import EmotionVectors, new_meta, vectors_dir

if TYPE_CHECKING:
    from .models import LoadedModel

STARTS = (1, 10, 25)          # token positions from which story means are kept
MAX_STORY_TOKENS = 512
Progress = Callable[[str, int, int], None]   # (stage, done, total)


@dataclass(frozen=True)
class BuildConfig:
    start_token: int = 10
    neutral_variance: float = 0.5
    batch_size: int = 8
    default_layer: int | None = None     # None: about two-thirds deep
    emotions: tuple[str, ...] | None = None   # a subset of the corpus's emotions (None: all 171)


def default_layer_for(n_layers: int) -> int:
    return int(round(2 * n_layers / 3))


def _work_dir(lm: LoadedModel) -> Path:
    key = f"{lm.name.replace('/', '__')}-{(lm.sha256 or 'nosha')[:12]}"
    path = cache_dir() / "build" / key
    path.mkdir(parents=True, exist_ok=True)
    return path


def _load_checkpoint(path: Path) -> dict | None:
    from safetensors.numpy import load_file
    try:
        return load_file(str(path)) if path.exists() else None
    except Exception:
        return None            # a damaged checkpoint is recomputed, never trusted


def _save_checkpoint(path: Path, arrays: dict) -> None:
    from safetensors.numpy import save_file
    with atomic_path(path) as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp))


def _story_key(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


def heldout_key(text: str) -> str:
    """How meta.json names a story left out of the held-out readout (sha1 prefix of its text)."""
    return _story_key(text).hex()[:16]


def _resumable(lm: LoadedModel, texts: list[str], path: Path, tail: tuple, axis: int, batch_size: int,
               progress: Progress, stage: str, compute: Callable[[list[int]], np.ndarray]) -> np.ndarray:
    """Per-text arrays, computed in batches and checkpointed under ``path`` keyed by each text's
    sha1: an interrupted build resumes and an edited corpus recomputes only what changed.
    ``compute(indices)`` returns ``[len(indices), *tail]``; results stack along ``axis``."""
    n = len(texts)
    shape = list(tail)
    shape.insert(axis, n)
    out, done = np.zeros(shape, np.float32), np.zeros(n, bool)
    keys = [_story_key(t) for t in texts]
    saved = _load_checkpoint(path)
    if saved is not None and saved["means"].ndim == len(shape) and \
            tuple(np.delete(saved["means"].shape, axis)) == tuple(tail):
        where = {bytes(k): j for j, k in enumerate(saved["keys"])}
        have = [(i, where[k]) for i, k in enumerate(keys) if k in where]
        if have:
            mine, theirs = map(list, zip(*have))
            np.moveaxis(out, axis, 0)[mine] = np.moveaxis(saved["means"], axis, 0)[theirs]
            done[mine] = True
    lengths = [len(lm.tokenizer(t).input_ids) for t in texts]
    todo = [i for i in sorted(range(n), key=lengths.__getitem__) if not done[i]]
    progress(stage, int(done.sum()), n)

    def save():
        kept = np.flatnonzero(done)
        _save_checkpoint(path, {"means": np.take(out, kept, axis=axis),
                         "keys": np.frombuffer(b"".join(keys[i] for i in kept), np.uint8).reshape(-1, 20)})

    last_save, unsaved = time.time(), False
    try:
        for b in range(0, len(todo), batch_size):
            idx = todo[b:b + batch_size]
            np.moveaxis(out, axis, 0)[idx] = compute(idx)
            done[idx] = unsaved = True
            if time.time() - last_save > 20:
                save()
                last_save, unsaved = time.time(), False
            progress(stage, int(done.sum()), n)
    finally:        # also on Ctrl-C or an error: what was computed is kept for the next run
        if unsaved:
            save()
    return out


def story_means(lm: LoadedModel, stories: list[corpus.Story], work: Path, batch_size: int,
                progress: Progress) -> np.ndarray:
    """``[len(STARTS), n_stories, n_layers, d_model]`` float32 means of each story read as plain text."""
    texts = [s.text for s in stories]
    L = lm.n_layers

    def compute(idx):
        batch = encode_batch(lm, [texts[i] for i in idx], MAX_STORY_TOKENS)
        with capture(lm, range(L), reduce=mean_from(STARTS, batch["attention_mask"]), stop_early=True) as cap:
            cap.run(**batch)
        return torch.stack([cap.outputs[l] for l in range(L)], 2).float().numpy().transpose(1, 0, 2, 3)
    return _resumable(lm, texts, work / "story_means.safetensors", (len(STARTS), L, lm.d_model), 1,
                      batch_size, progress, "stories", compute)


def chat_readings(lm: LoadedModel, stories: list[corpus.Story], work: Path, batch_size: int,
                  progress: Progress) -> np.ndarray:
    """``[n, len(READ_POSITIONS), n_layers, d_model]``: each story sent as a user message with the
    Assistant's reply opened, read at each position (to choose where summaries read)."""
    L = lm.n_layers
    prompts = []
    for s in stories:
        text, segments = render([Turn("user", s.text)], lm.chat_template, lm.tokenizer, open_reply=True)
        prompts.append((text, prompt_positions(tokenize(lm, text, segments)[4])))

    def compute(idx):
        batch = encode_batch(lm, [prompts[i][0] for i in idx])
        spans = [prompts[i][1] for i in idx]

        def reduce(layer, hidden):
            return torch.stack([torch.stack([hidden[b, lo:hi].mean(0) for lo, hi in (sp[p] for p in READ_POSITIONS)])
                                for b, sp in enumerate(spans)])
        with capture(lm, range(L), reduce=reduce, stop_early=True) as cap:
            cap.run(**batch)
        return torch.stack([cap.outputs[l] for l in range(L)], 2).float().numpy()
    return _resumable(lm, [p[0] for p in prompts], work / "chat_readings.safetensors",
                      (len(READ_POSITIONS), L, lm.d_model), 0, batch_size, progress, "chat positions", compute)


def cached_story_means(lm: LoadedModel, start_token: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``([n_stories, L, D], labels)`` from this machine's build checkpoint, or None when it does
    not hold every story of the current corpus (then only a build can give them)."""
    saved = _load_checkpoint(_work_dir(lm) / "story_means.safetensors")
    if saved is None or start_token not in STARTS:
        return None
    where = {bytes(k): j for j, k in enumerate(saved["keys"])}
    stories = corpus.load_stories()
    rows = [where.get(_story_key(s.text)) for s in stories]
    if any(r is None for r in rows):
        return None
    emotions = list(corpus.emotions())
    return saved["means"][STARTS.index(start_token), rows], np.array([emotions.index(s.emotion) for s in stories])


def neutral_moments(lm: LoadedModel, dialogues: list[list[dict]], work: Path, progress: Progress):
    """Per layer: token count, mean ``[L, D]`` and covariance ``[L, D, D]`` of neutral tokens.

    Dialogues are rendered as the model reads chat (its template, if any). Position 0 is
    left out: it is an attention sink whose norm dwarfs every other token's.
    """
    digest = hashlib.sha1(json.dumps(dialogues, sort_keys=True).encode()).hexdigest()[:12]
    path = work / f"neutral_moments-{digest}.safetensors"
    saved = _load_checkpoint(path)
    if saved is not None and saved["mean"].shape == (lm.n_layers, lm.d_model):
        return saved["mean"].astype(np.float64), saved["cov"].astype(np.float64)
    L, D = lm.n_layers, lm.d_model
    s1 = torch.zeros(L, D, dtype=torch.float64)
    s2 = torch.zeros(L, D, D, dtype=torch.float64)
    count = 0
    for i, messages in enumerate(dialogues):
        text, _ = render([Turn(m["role"], m["content"]) for m in messages], lm.chat_template, lm.tokenizer)
        ids = lm.tokenizer(text, return_tensors="pt", truncation=True, max_length=1024)

        def reduce(layer, hidden):
            return hidden[0, SINK_TOKENS:].double()
        with capture(lm, range(L), reduce=reduce, stop_early=True) as cap:
            cap.run(**ids)
        for l in range(L):
            x = cap.outputs[l]
            s1[l] += x.sum(0)
            s2[l] += x.T @ x
        count += cap.outputs[0].shape[0]
        progress("neutral", i + 1, len(dialogues))
    mean = (s1 / count).numpy()
    cov = (s2 / count).numpy() - np.einsum("ld,le->lde", mean, mean)
    _save_checkpoint(path, {"mean": mean.astype(np.float32), "cov": cov.astype(np.float32)})
    return mean, cov


def neutral_pcs(cov: np.ndarray, variance: float) -> tuple[np.ndarray, float]:
    """Top principal components of one layer explaining at least ``variance`` of the total."""
    evals, evecs = np.linalg.eigh(cov)
    order = np.argsort(evals)[::-1]
    evals, evecs = np.clip(evals[order], 0, None), evecs[:, order]
    frac = np.cumsum(evals) / evals.sum()
    k = int(np.searchsorted(frac, variance) + 1)
    return evecs[:, :k].T, float(frac[k - 1])


def emotion_directions(story_means_l: np.ndarray, labels: np.ndarray, n_emotions: int,
                       pcs: np.ndarray) -> np.ndarray:
    """Per-emotion means, minus the mean over emotions, neutral PCs projected out, unit norm."""
    sums = np.zeros((n_emotions, story_means_l.shape[1]))
    np.add.at(sums, labels, story_means_l)
    means = sums / np.bincount(labels, minlength=n_emotions)[:, None]
    centred = means - means.mean(0, keepdims=True)
    if len(pcs):
        centred = centred - (centred @ pcs.T) @ pcs
    return centred / np.linalg.norm(centred, axis=1, keepdims=True)


CHAT_PER_EMOTION = 2        # held-out stories per emotion read as chat, to choose the position
LEARNING_CURVE = (4, 8, 12, 16, 20)


def _pick(table: dict) -> tuple:
    """The key with the best mean of top-1 and top-5 (ties: the earlier key)."""
    return max(table, key=lambda k: (table[k]["top1"] + table[k]["top5"]) / 2)


def readout_stage(means: np.ndarray, start: int, labels: np.ndarray, n_emotions: int, pcs_all: list,
                  concept: np.ndarray, neutral_mean: np.ndarray, neutral_cov: np.ndarray, chat: np.ndarray,
                  chat_idx: np.ndarray, progress: Progress) -> tuple[dict, dict]:
    """Choose layer and shrinkage by story cross-validation, fit the readout at every layer,
    and calibrate readout and concept vectors on the stories (and on neutral chat).

    ``means``: ``[len(STARTS), n_stories, L, D]`` story means (``start`` indexes STARTS);
    ``chat``: ``[len(chat_idx), positions, L, D]``, fold-0 stories sent as chat, which choose the
    reading position. Returns (arrays, meta["readout"]).
    """
    from . import readout as ro
    x: np.ndarray = means[start]
    n, L, D = x.shape
    fold_of = ro.folds(labels)
    cv = {}
    for l in range(L):
        ranks = ro.cross_validate(x[:, l].astype(np.float64), labels, n_emotions, pcs_all[l], fold_of=fold_of)
        for s, r in ranks.items():
            cv[(l, s)] = ro.accuracy(r)
        progress("readout cv", l + 1, L)
    layer, shrink = _pick({k: v for k, v in cv.items() if k[1] < 1.0})
    concept_layer = _pick({k: v for k, v in cv.items() if k[1] == 1.0})[0]
    per_emotion = int(np.bincount(labels).min())
    curve = []
    xl = x[:, layer].astype(np.float64)
    for cap in [c for c in LEARNING_CURVE if c < per_emotion * (ro.N_FOLDS - 1) / ro.N_FOLDS] + [None]:
        ranks = ro.cross_validate(xl, labels, n_emotions, pcs_all[layer], (shrink, 1.0), fold_of, per_class=cap)
        per = cap or round(per_emotion * (ro.N_FOLDS - 1) / ro.N_FOLDS, 1)
        curve.append({"train_per_emotion": per, "readout": ro.accuracy(ranks[shrink]), "concept": ro.accuracy(ranks[1.0])})
    starts = {}
    for k, st in enumerate(STARTS):
        ranks = ro.cross_validate(means[k][:, layer].astype(np.float64), labels, n_emotions, pcs_all[layer],
                                  (shrink,), fold_of)
        starts[st] = ro.accuracy(ranks[shrink])
    arrays = {k: np.zeros((L, n_emotions) + ((D,) if k == "readout" else ()), np.float32)
              for k in ("readout", "readout_mean", "readout_std", "readout_neutral_mean", "readout_neutral_std",
                        "story_mean", "story_std")}
    positions = {}
    train = np.flatnonzero(fold_of != 0)
    for l in range(L):
        xl = x[:, l].astype(np.float64)
        w = ro.scatter(xl, labels, n_emotions, pcs_all[l]).directions(shrink)
        arrays["readout"][l] = w
        arrays["readout_mean"][l], arrays["readout_std"][l] = ro.calibrate(w, xl)
        arrays["readout_neutral_mean"][l] = w @ neutral_mean[l]
        var = np.einsum("ed,df,ef->e", w, neutral_cov[l], w)
        arrays["readout_neutral_std"][l] = np.sqrt(np.clip(var, 1e-12, None))
        arrays["story_mean"][l], arrays["story_std"][l] = ro.calibrate(concept[l].astype(np.float64), xl)
        held = ro.scatter(xl[train], labels[train], n_emotions, pcs_all[l])      # fold 0 left out
        readings = {"story": xl[chat_idx], **{p: chat[:, k, l] for k, p in enumerate(READ_POSITIONS)}}
        for s, kind in ((shrink, "readout"), (1.0, "concept")):
            w0 = held.directions(s)
            model = ro.FoldModel(w0, *ro.calibrate(w0, xl[train]))
            for p, r in readings.items():
                positions[(kind, p, l)] = ro.accuracy(ro.ranks(model.z(r), labels[chat_idx]))
            if l == layer and kind == "readout":
                arrays.update(readout_heldout=model.w, readout_heldout_mean=model.mean,
                              readout_heldout_std=model.std)
        progress("readout fit", l + 1, L)
    position = _pick({p: positions[("readout", p, layer)] for p in READ_POSITIONS})
    rnd = lambda d: {k: round(v, 4) for k, v in d.items()}
    meta = {"method": "covariance-corrected mass-mean probe: w_e ∝ Σ⁻¹(μ_e − μ̄), Σ = (1−λ)·within-emotion "
                      "covariance of story means + λ·mean eigenvalue·I, neutral PCs projected out; "
                      "z calibrated on the story means",
            "layer": int(layer), "shrinkage": float(shrink), "position": position, "folds": ro.N_FOLDS,
            "selection": "best mean of top-1 and top-5 in story cross-validation (held out by story)",
            "concept_best_layer": int(concept_layer),
            "cv": [{"layer": l, "shrinkage": s, **rnd(a)} for (l, s), a in cv.items()],
            "start_tokens": [{"start_token": st, **rnd(a)} for st, a in starts.items()],
            "learning_curve": [{**c, "readout": rnd(c["readout"]), "concept": rnd(c["concept"])} for c in curve],
            "positions": [{"kind": k, "position": p, "layer": l, **rnd(a)} for (k, p, l), a in positions.items()],
            "chat_stories": int(len(chat_idx)), "heldout_fold": 0}
    return arrays, meta


def build_vectors(lm: LoadedModel, config: BuildConfig = BuildConfig(), out_dir: Path | None = None,
                  force: bool = False, progress: Progress | None = None) -> EmotionVectors:
    progress = progress or (lambda stage, done, total: None)
    if config.start_token not in STARTS:
        raise EmotionLensError(f"start token must be one of {', '.join(map(str, STARTS))}")
    out_dir = Path(out_dir or vectors_dir(lm.name))
    stories, dialogues = corpus.load_stories(), corpus.load_neutral()
    emotions = list(corpus.emotions())
    if config.emotions is not None:
        unknown = sorted(set(config.emotions) - set(emotions))
        if unknown:
            raise EmotionLensError(f"not in the corpus: {', '.join(unknown)}")
        emotions = [e for e in emotions if e in config.emotions]
        stories = [s for s in stories if s.emotion in config.emotions]
    chash = corpus.corpus_hash()
    _refuse_foreign(out_dir, lm, chash, force)
    work = _work_dir(lm)
    means = story_means(lm, stories, work, config.batch_size, progress)
    mean, cov = neutral_moments(lm, dialogues, work, progress)
    labels = np.array([emotions.index(s.emotion) for s in stories])
    present = np.bincount(labels, minlength=len(emotions))
    if (present == 0).any():
        raise EmotionLensError(f"no stories for: {', '.join(e for e, c in zip(emotions, present) if c == 0)}")
    s = STARTS.index(config.start_token)
    L, E, D = lm.n_layers, len(emotions), lm.d_model
    vecs = np.zeros((L, E, D), np.float32)
    bmean, bstd = np.zeros((L, E), np.float32), np.zeros((L, E), np.float32)
    pcs_all, n_pcs, explained = [], [], []
    for l in range(L):
        pcs, frac = neutral_pcs(cov[l], config.neutral_variance)
        v = emotion_directions(means[s, :, l].astype(np.float64), labels, E, pcs)
        vecs[l] = v
        bmean[l] = v @ mean[l]
        bstd[l] = np.sqrt(np.clip(np.einsum("ed,df,ef->e", v, cov[l], v), 1e-12, None))
        pcs_all.append(pcs)
        n_pcs.append(len(pcs))
        explained.append(round(frac, 4))
    kmax = max(n_pcs)
    padded = np.zeros((L, kmax, D), np.float32)
    for l, p in enumerate(pcs_all):
        padded[l, :len(p)] = p
    default = config.default_layer if config.default_layer is not None else default_layer_for(L)
    meta = new_meta(lm, emotions, default_layer=int(default), corpus_hash=chash,
                    stories_per_emotion={e: int(c) for e, c in zip(emotions, present)},
                    n_neutral_dialogues=len(dialogues),
                    method={"start_token": config.start_token, "neutral_variance": config.neutral_variance,
                            "neutral_pcs_removed": n_pcs, "neutral_variance_explained": explained,
                            "baseline": "neutral dialogue tokens (position 0 excluded)",
                            "residual": "output of decoder block <layer>"})
    from .readout import folds
    fold_of = folds(labels)
    chat_idx = np.concatenate([np.flatnonzero((labels == e) & (fold_of == 0))[:CHAT_PER_EMOTION]
                               for e in range(E)])
    chat = chat_readings(lm, [stories[i] for i in chat_idx], work, config.batch_size, progress)
    arrays, meta["readout"] = readout_stage(means, s, labels, E, pcs_all, vecs, mean, cov, chat, chat_idx, progress)
    meta["readout"]["heldout_keys"] = [heldout_key(stories[i].text) for i in np.flatnonzero(fold_of == 0)]
    ev = EmotionVectors(vecs, bmean, bstd, meta, padded, extras=arrays)
    ev.save(out_dir)
    store_umap(ev, out_dir, progress)
    return ev


def _refuse_foreign(out_dir: Path, lm: LoadedModel, chash: str, force: bool) -> None:
    meta_path = out_dir / "meta.json"
    if force or not meta_path.exists():
        return
    try:
        old = json.loads(meta_path.read_text())
    except ValueError:
        return
    reasons = []
    if old.get("corpus_hash") != chash:
        reasons.append("a different corpus")
    if old.get("weights_sha256") and lm.sha256 and old["weights_sha256"] != lm.sha256:
        reasons.append("different model weights")
    if old.get("model") != lm.name:
        reasons.append(f"model '{old.get('model')}'")
    if reasons:
        raise EmotionLensError(f"{out_dir} holds vectors built from {' and '.join(reasons)}; "
                               "pass --force to overwrite them")
