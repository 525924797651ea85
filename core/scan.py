"""Scan a corpus of transcripts: per transcript and per turn, every emotion's mean and peak z.

The mean is the summary reading over the words (what rankings use), the peak the token reading
(what colours and alerts use) at its highest token, with that token's position and speaker.
Families read as their strongest member. Both engines turn records into the same per-transcript
rows (``summarise``) and write them as Parquet parts under ``DIR/parts``; a part is written
atomically when its chunk is done, so a killed scan resumes after the last finished chunk.
``finish`` then writes what DuckDB reads:

- ``summaries.parquet``: one row per transcript (scope "transcript") or turn (scope "turn") and
  emotion or family: id, scope, turn, speaker, name, kind, mean_z, peak_z, peak_token,
  peak_speaker, n_tokens;
- ``transcripts.parquet``: id, order, source, n_tokens, n_turns, speakers, text (for the viewer);
- ``tokens.parquet`` (``--tokens``): per transcript, each token's z for every emotion as float16
  bytes (``np.frombuffer(z, "<f2").reshape(n_tokens, n_emotions)``);
- ``errors.jsonl``: each record that could not be read, with its reason;
- ``scan.json``: model, layers, methods, counts, engine.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np

from .errors import EmotionLensError
from .families import family_max
from .paths import atomic_path, write_text_atomic
from .scan_input import Record, read_records
from .scoring import Forward, forward_batch, score_layers, scores_from

if TYPE_CHECKING:
    import pyarrow as pa

    from .models import LoadedModel
    from .vectors import EmotionVectors

CHUNK = 32  # records per part file (and per batch of forward passes)
Progress = Callable[[int, int], None]  # (records done, records in all)


def names(ev: EmotionVectors) -> list[str]:
    """What a scan reports on: the emotions, then their families."""
    return list(ev.emotions) + list(ev.families.labels)


def _stats(ev: EmotionVectors, summary: np.ndarray, shown: np.ndarray, rows: np.ndarray):
    """Mean of the summary reading and peak of the token reading over ``rows`` (token indices),
    per emotion then per family (its strongest member's)."""
    if len(rows) == 0:
        n = len(names(ev))
        return np.full(n, np.nan, np.float32), np.full(n, np.nan, np.float32), np.full(n, -1, np.int32)
    mean = summary[rows].mean(0)
    sub = np.where(np.isnan(shown[rows]), -np.inf, shown[rows])
    arg = sub.argmax(0)
    peak = sub[arg, np.arange(sub.shape[1])]
    peak = np.where(np.isfinite(peak), peak, np.nan)
    pos = np.where(np.isfinite(peak), rows[arg], -1)
    fam_mean = family_max(mean[None], ev.families.of)[0][0]
    fam_peak, best = family_max(peak[None], ev.families.of)
    mean, peak, pos = np.concatenate([mean, fam_mean]), np.concatenate([peak, fam_peak[0]]), np.concatenate([pos, pos[best[0]]])
    return mean.astype(np.float32), peak.astype(np.float32), pos.astype(np.int32)


def summarise(lm: LoadedModel, ev: EmotionVectors, records: list[Record], tokens: bool = False) -> list[dict]:
    """One row per record: its transcript-level and per-turn figures, or its reason for failing.
    The forward passes run batched (``forward_batch``); an input too long for the model fails alone."""
    layer = ev.reading_layer()
    good = [r for r in records if not r.reason]
    passes = dict(zip((r.order for r in good), forward_batch(lm, [list(r.turns) for r in good], score_layers(ev, layer)))) if good else {}
    rows = []
    for r in records:
        row: dict = {"order": r.order, "id": r.id, "source": r.source, "text": r.text, "reason": r.reason}
        fw = passes.get(r.order)
        if not isinstance(fw, Forward):  # unreadable, or too long for the model
            row["reason"] = r.reason or str(fw)
            rows.append(row)
            continue
        ts = scores_from(fw, ev, layer)
        shown, words = ts.shown, np.flatnonzero(ts.word_mask())
        mean, peak, pos = _stats(ev, ts.z, shown, words)
        turns = []
        for k, span in enumerate(ts.turns):
            lo, hi = span.words
            own = words[(words >= lo) & (words < hi)]
            t_mean, t_peak, t_pos = _stats(ev, ts.z, shown, own)
            turns.append({"turn": k, "speaker": span.role, "n_tokens": len(own), "mean": t_mean, "peak": t_peak, "peak_token": t_pos})
        row.update(
            n_tokens=len(ts.tokens),
            speakers=",".join(dict.fromkeys(s.role for s in ts.turns)),
            mean=mean,
            peak=peak,
            peak_token=pos,
            peak_speaker=[ts.speakers[p] if p >= 0 else "" for p in pos],
            turns=turns,
            tokens=np.nan_to_num(shown, nan=0.0).astype("<f2").tobytes() if tokens else None,
        )
        rows.append(row)
    return rows


# Parts: per-transcript rows as Arrow, the same schema from both engines.
def part_schema() -> pa.Schema:
    import pyarrow as pa

    f32, i32 = pa.list_(pa.float32()), pa.list_(pa.int32())
    turn = pa.struct(
        [("turn", pa.int32()), ("speaker", pa.string()), ("n_tokens", pa.int32()), ("mean", f32), ("peak", f32), ("peak_token", i32)]
    )
    return pa.schema(
        [
            ("order", pa.int64()),
            ("id", pa.string()),
            ("source", pa.string()),
            ("text", pa.string()),
            ("reason", pa.string()),
            ("n_tokens", pa.int32()),
            ("speakers", pa.string()),
            ("mean", f32),
            ("peak", f32),
            ("peak_token", i32),
            ("peak_speaker", pa.list_(pa.string())),
            ("turns", pa.list_(turn)),
            ("tokens", pa.binary()),
        ]
    )


def _nulls(values) -> list:
    """A vector as a list, NaN as null (Parquet and DuckDB then treat it as missing)."""
    return [None if isinstance(x, float) and x != x else x for x in np.asarray(values).tolist()]


def to_arrow(rows: list[dict]) -> pa.Table:
    import pyarrow as pa

    schema = part_schema()
    cols: dict[str, list] = {f.name: [] for f in schema}
    for row in rows:
        for name in cols:
            v = row.get(name)
            if name in ("mean", "peak", "peak_token") and v is not None:
                v = _nulls(v)
            if name == "turns" and v is not None:
                v = [{**t, "mean": _nulls(t["mean"]), "peak": _nulls(t["peak"]), "peak_token": _nulls(t["peak_token"])} for t in v]
            cols[name].append(v)
    return pa.table(cols, schema=schema)


def write_part(table: pa.Table, path: Path) -> None:
    import pyarrow.parquet as pq

    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def done_orders(parts: Path) -> set[int]:
    """Records already in finished parts; a part that cannot be read (cut by a kill) is removed."""
    import pyarrow.parquet as pq

    done: set[int] = set()
    for f in sorted(parts.glob("*.parquet")):
        try:
            done.update(pq.read_table(f, columns=["order"]).column("order").to_pylist())
        except Exception:
            f.unlink()
    return done


def claim(out_dir: Path, lm: LoadedModel, ev: EmotionVectors, input_path, tokens: bool) -> Path:
    """The parts folder, after checking that any parts in it are from this model, vectors and input:
    a rerun resumes, a different scan into the same folder is refused rather than mixed in."""
    key = {
        "model": lm.name,
        "weights_sha256": lm.sha256,
        "vectors": ev.meta.get("tensors_sha256") or ev.meta.get("created"),
        "input": str(Path(input_path).resolve()),
        "tokens": tokens,
    }
    parts = Path(out_dir) / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    stamp = parts / "scan-key.json"
    if stamp.exists() and any(parts.glob("*.parquet")):
        try:
            old = json.loads(stamp.read_text())
        except ValueError:
            old = {}
        if old != key:
            diff = ", ".join(k for k in key if old.get(k) != key[k])
            raise EmotionLensError(f"{out_dir} holds a scan with another {diff}: choose another --out, or delete that folder to start over")
    write_text_atomic(stamp, json.dumps(key, indent=1))
    return parts


def _chunks(records: Iterable[Record], size: int) -> Iterable[list[Record]]:
    chunk: list[Record] = []
    for r in records:
        chunk.append(r)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def scan_local(lm, ev, input_path, out_dir: Path, tokens: bool = False, progress: Progress | None = None, chunk: int = CHUNK) -> None:
    """The in-process engine: chunks of records, batched forward passes, one part per chunk."""
    progress = progress or (lambda done, total: None)
    parts = claim(out_dir, lm, ev, input_path, tokens)
    done = done_orders(parts)
    records = list(read_records(input_path))
    todo = [r for r in records if r.order not in done]
    finished = len(records) - len(todo)
    progress(finished, len(records))
    for c in _chunks(todo, chunk):
        write_part(to_arrow(summarise(lm, ev, c, tokens)), parts / f"local-{c[0].order:09d}.parquet")
        finished += len(c)
        progress(finished, len(records))


def finish(ev: EmotionVectors, lm: LoadedModel, out_dir: Path, engine: str, seconds: float) -> dict:
    """Parts → the tables DuckDB reads, and scan.json. Rows are sorted by input order, so the
    same input gives the same files whichever engine scanned it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    parts = sorted((out_dir / "parts").glob("*.parquet"))
    if not parts:
        raise EmotionLensError(f"{out_dir / 'parts'} holds no scanned parts")
    table = pa.concat_tables([pq.read_table(p, schema=part_schema()) for p in parts]).sort_by("order")
    rows = table.to_pylist()
    rows = list({r["order"]: r for r in rows}.values())  # a record scanned twice (an engine switched mid-run) counts once
    label = names(ev)
    kind = ["emotion"] * len(ev.emotions) + ["family"] * (len(label) - len(ev.emotions))
    summ: dict[str, list] = {
        k: [] for k in ("id", "scope", "turn", "speaker", "name", "kind", "mean_z", "peak_z", "peak_token", "peak_speaker", "n_tokens")
    }

    def add(rid, scope, turn, speaker, mean, peak, pos, peak_speaker, n):
        m = len(label)
        summ["id"] += [rid] * m
        summ["scope"] += [scope] * m
        summ["turn"] += [turn] * m
        summ["speaker"] += [speaker] * m
        summ["name"] += label
        summ["kind"] += kind
        summ["mean_z"] += mean
        summ["peak_z"] += peak
        summ["peak_token"] += pos
        summ["peak_speaker"] += peak_speaker
        summ["n_tokens"] += [n] * m

    ok, errors, token_rows = [], [], []
    for r in rows:
        if r["reason"]:
            errors.append({"id": r["id"], "source": r["source"], "reason": r["reason"]})
            continue
        ok.append(r)
        add(r["id"], "transcript", -1, "", r["mean"], r["peak"], r["peak_token"], r["peak_speaker"], r["n_tokens"])
        for t in r["turns"]:
            spk = [t["speaker"] if p is not None and p >= 0 else "" for p in t["peak_token"]]
            add(r["id"], "turn", t["turn"], t["speaker"], t["mean"], t["peak"], t["peak_token"], spk, t["n_tokens"])
        if r["tokens"] is not None:
            token_rows.append({"id": r["id"], "n_tokens": r["n_tokens"], "z": r["tokens"]})
    f32 = pa.float32()
    summaries = pa.table(
        {
            **{k: summ[k] for k in ("id", "scope")},
            "turn": pa.array(summ["turn"], pa.int32()),
            **{k: summ[k] for k in ("speaker", "name", "kind")},
            "mean_z": pa.array(summ["mean_z"], f32),
            "peak_z": pa.array(summ["peak_z"], f32),
            "peak_token": pa.array(summ["peak_token"], pa.int32()),
            "peak_speaker": summ["peak_speaker"],
            "n_tokens": pa.array(summ["n_tokens"], pa.int32()),
        }
    )
    transcripts = pa.table(
        {
            "id": [r["id"] for r in ok],
            "order": pa.array([r["order"] for r in ok], pa.int64()),
            "source": [r["source"] for r in ok],
            "n_tokens": pa.array([r["n_tokens"] for r in ok], pa.int32()),
            "n_turns": pa.array([len(r["turns"]) for r in ok], pa.int32()),
            "speakers": [r["speakers"] for r in ok],
            "text": [r["text"] for r in ok],
        }
    )
    write_part(summaries, out_dir / "summaries.parquet")
    write_part(transcripts, out_dir / "transcripts.parquet")
    if token_rows:
        write_part(pa.Table.from_pylist(token_rows), out_dir / "tokens.parquet")
    write_text_atomic(out_dir / "errors.jsonl", "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in errors))
    meta = {
        "model": lm.name,
        "engine": engine,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(seconds, 1),
        "records": len(rows),
        "transcripts": len(ok),
        "errors": len(errors),
        "tokens": int(sum(r["n_tokens"] for r in ok)),
        "names": label,
        "summary_reading": ev.describe_reading(None, None),
        "token_reading": ev.describe_token_reading(),
        "dtype": lm.placement.dtype,
    }
    write_text_atomic(out_dir / "scan.json", json.dumps(meta, indent=1))
    return meta
