"""Questions to a finished scan, answered by DuckDB over its Parquet files in place.

Values the user picks (an emotion, a speaker, bounds) travel as query parameters, never as SQL
text; the folder must hold a scan (``scan.json``) and only its Parquet and JSON are read, and a
shared server can keep the folders it opens under one root (``scan_root``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import EmotionLensError

SPEAKERS = ("any", "user", "assistant", "system", "text")


@dataclass(frozen=True)
class Scan:
    folder: Path
    meta: dict

    @property
    def names(self) -> list[str]:
        return list(self.meta["names"])

    def file(self, name: str) -> str:
        return str(self.folder / name)


def scan_root() -> Path | None:
    """``EMOTION_LENS_SCAN_ROOT``: on a shared server, the one folder whose scans may be opened."""
    root = os.environ.get("EMOTION_LENS_SCAN_ROOT", "").strip()
    return Path(root).expanduser().resolve() if root else None


def open_scan(folder: str | Path, root: Path | None = None) -> Scan:
    """The finished scan in ``folder``; with a ``root``, only one inside it (links followed)."""
    folder = Path(str(folder).strip()).expanduser()
    if root is not None and not folder.resolve().is_relative_to(root):
        raise EmotionLensError(f"this server opens only scans under {root}")
    meta_path = folder / "scan.json"
    if not folder.is_dir() or not meta_path.is_file():
        raise EmotionLensError(f"{folder} is not a finished scan (no scan.json): run `python -m core scan INPUT --out {folder}`")
    for name in ("summaries.parquet", "transcripts.parquet"):
        if not (folder / name).is_file():
            raise EmotionLensError(f"{folder} has no {name}: rerun the scan to finish it")
    try:
        meta = json.loads(meta_path.read_text())
        meta["names"]
    except (ValueError, KeyError, TypeError):
        raise EmotionLensError(f"{meta_path} is damaged: rerun the scan") from None
    return Scan(folder, meta)


def _query(sql: str, params: list):
    import duckdb

    con = duckdb.connect()
    try:
        return con.execute(sql, params).df()
    finally:
        con.close()


def ranking(scan: Scan, name: str, by: str = "peak", speaker: str = "any", min_tokens: int = 0, max_tokens: int | None = None):
    """Transcripts ordered by one emotion's (or family's) peak or mean, highest first, as a
    DataFrame: id, value, peak_z, mean_z, peak_token, peak_speaker, n_tokens, n_turns, source.
    With a speaker, only that speaker's turns count (peak: their highest token; mean: the
    token-weighted mean of their turns)."""
    if name not in scan.names:
        raise EmotionLensError(f"'{name}' is not in this scan")
    if by not in ("peak", "mean") or speaker not in SPEAKERS:
        raise EmotionLensError("sort by peak or mean; speaker any, user, assistant, system or text")
    if speaker == "any":
        rows = "SELECT id, peak_z, mean_z, peak_token, peak_speaker FROM read_parquet(?) WHERE scope = 'transcript' AND name = ?"
        params: list = [scan.file("summaries.parquet"), name]
    else:
        rows = (
            "SELECT id, max(peak_z) AS peak_z, sum(mean_z * n_tokens) / nullif(sum(n_tokens), 0) AS mean_z, "
            "arg_max(peak_token, peak_z) AS peak_token, any_value(speaker) AS peak_speaker "
            "FROM read_parquet(?) WHERE scope = 'turn' AND name = ? AND speaker = ? AND n_tokens > 0 GROUP BY id"
        )
        params = [scan.file("summaries.parquet"), name, speaker]
    value = "r.peak_z" if by == "peak" else "r.mean_z"
    sql = (
        f"SELECT r.id, {value} AS value, r.peak_z, r.mean_z, r.peak_token, r.peak_speaker, t.n_tokens, t.n_turns, t.source "
        f"FROM ({rows}) r JOIN read_parquet(?) t USING (id) "
        f"WHERE t.n_tokens >= ? AND t.n_tokens <= ? AND {value} IS NOT NULL "
        f'ORDER BY value DESC, t."order"'
    )
    params += [scan.file("transcripts.parquet"), int(min_tokens), int(max_tokens if max_tokens is not None else 2**31 - 1)]
    return _query(sql, params)


def token_range(scan: Scan) -> tuple[int, int]:
    sql = "SELECT coalesce(min(n_tokens), 0) AS lo, coalesce(max(n_tokens), 0) AS hi FROM read_parquet(?)"
    df = _query(sql, [scan.file("transcripts.parquet")])
    return int(df.lo[0]), int(df.hi[0])


def transcript_text(scan: Scan, rid: str) -> str:
    df = _query("SELECT text FROM read_parquet(?) WHERE id = ?", [scan.file("transcripts.parquet"), rid])
    if df.empty:
        raise EmotionLensError(f"no transcript '{rid}' in this scan")
    return str(df.text[0])


def errors(scan: Scan) -> list[dict]:
    path = scan.folder / "errors.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
