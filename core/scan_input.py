"""A corpus of transcripts to scan: JSONL, Parquet or a folder of .txt/.json files, as records.

Every record has an id (its own "id" field, else where it came from) and its position in the
input, so both engines number it the same way and a resumed run can skip what is done. A record
that cannot be read becomes a ``Record`` with a ``reason`` and no transcript: the scan lists it
in its errors file and goes on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .errors import EmotionLensError
from .transcript import MAX_FILE_BYTES, Turn, parse_transcript, read_transcript_file

FOLDER_SUFFIXES = (".txt", ".json", ".jsonl")


@dataclass(frozen=True)
class Record:
    order: int  # position in the input
    id: str
    source: str  # file (and line or row) it came from
    text: str  # the transcript as the viewer takes it (plain turns, or JSON messages)
    turns: tuple[Turn, ...] = ()
    reason: str = ""  # why it could not be read (then ``turns`` is empty)


def parse_record(order: int, source: str, value, default_id: str) -> Record:
    """One JSON-like value: ``{"messages": [...]}`` or ``{"text": ...}`` (an "id" is optional)."""
    try:
        if not isinstance(value, dict):
            raise EmotionLensError('a record must be an object with "messages" or "text"')
        rid = str(value.get("id") if value.get("id") is not None else default_id)[:200]
        if isinstance(value.get("messages"), (list, tuple)):
            messages = [dict(m) if isinstance(m, dict) else m for m in value["messages"]]
            turns = parse_transcript({"messages": messages})
            return Record(order, rid, source, json.dumps(messages, ensure_ascii=False), tuple(turns))
        if isinstance(value.get("text"), str):
            return Record(order, rid, source, value["text"], tuple(parse_transcript(value["text"])))
        raise EmotionLensError('a record needs "messages" (a list of role/content) or "text"')
    except EmotionLensError as exc:
        rid = str(value.get("id") or default_id)[:200] if isinstance(value, dict) else default_id
        return Record(order, rid, source, "", (), str(exc))


def input_files(path: str | Path) -> tuple[list[Path], str]:
    """The files an input names and how to read them: one .jsonl, one .parquet, or a folder."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in FOLDER_SUFFIXES)
        if not files:
            raise EmotionLensError(f"{path} holds no {', '.join(FOLDER_SUFFIXES)} files")
        return files, "folder"
    if not path.exists():
        raise EmotionLensError(f"{path} does not exist")
    kind = {".parquet": "parquet", ".jsonl": "jsonl", ".json": "jsonl"}.get(path.suffix.lower())
    if kind is None:
        raise EmotionLensError(f"{path.name}: give a .jsonl or .parquet file, or a folder of .txt/.json files")
    return [path], kind


def file_records(data: bytes, name: str, kind: str, file_index: int = 0) -> list[Record]:
    """The records of one input file, numbered as in the whole input: by line or row within a
    .jsonl or .parquet file, by the file's place in a folder. Both engines read files with this."""
    if kind == "folder":
        try:
            if len(data) > MAX_FILE_BYTES:
                raise EmotionLensError(f"{name} is {len(data) // 1000:,} KB; the limit is {MAX_FILE_BYTES // 1000:,} KB")
            return [parse_record(file_index, name, {"id": name, "text": read_transcript_file(data, name)}, name)]
        except EmotionLensError as exc:
            return [Record(file_index, name, name, "", (), str(exc))]
    out = []
    if kind == "parquet":
        import io

        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(data))
        if not {"messages", "text"} & set(table.column_names):
            raise EmotionLensError(f'{name} has no "messages" or "text" column (it has: {", ".join(table.column_names[:8])})')
        for n, row in enumerate(table.to_pylist()):
            where = f"{name}:row {n}"
            out.append(parse_record(n, where, {k: v for k, v in row.items() if v is not None}, where))
        return out
    for n, line in enumerate(data.decode("utf-8", errors="replace").splitlines()):
        if not line.strip():
            continue
        where = f"{name}:{n + 1}"
        value, error = None, None
        try:
            value = json.loads(line)
        except (ValueError, RecursionError) as exc:
            error = f"line {n + 1} is not JSON: {str(exc)[:120]}"
        out.append(Record(n, where, where, "", (), error) if error else parse_record(n, where, value, where))
    return out


def read_records(path: str | Path) -> Iterator[Record]:
    """The input's records in order (the local engine's reader; Ray reads the same files in parallel)."""
    files, kind = input_files(path)
    root = Path(path)
    for i, f in enumerate(files):
        name = str(f.relative_to(root)) if kind == "folder" else f.name
        yield from file_records(f.read_bytes(), name, kind, i)
