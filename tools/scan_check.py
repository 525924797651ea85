"""The scan's must-show run, at full size: a generated corpus of N chats with 2 malformed records,
scanned by the local engine with a kill -9 part-way and a resume, then by Ray; the two results
compared row by row; the figures written to a JSON file.

    .venv/bin/python -m tools.scan_check --n 1000 --out docs/scan-check.json --keep scans/check
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from core.corpus import write_chat_corpus

ROOT = Path(__file__).resolve().parent.parent


def scan(*args: str) -> float:
    start = time.time()
    subprocess.run([sys.executable, "-m", "core", "scan", *args], cwd=ROOT, check=True, stderr=subprocess.DEVNULL)
    return time.time() - start


def table(folder: Path):
    df = pq.read_table(folder / "summaries.parquet").to_pandas()
    return df.sort_values(["id", "scope", "turn", "name"]).reset_index(drop=True)


def compare(src: Path, local: Path, ray: Path) -> dict:
    """The two engines' results side by side: same rows, values within float noise, same errors."""
    a, b = table(local), table(ray)
    keys = ["id", "scope", "turn", "speaker", "name", "peak_token", "peak_speaker", "n_tokens"]
    meta = json.loads((local / "scan.json").read_text())
    labels = {json.loads(l)["id"]: json.loads(l)["label"] for l in src.read_text().splitlines() if l.startswith('{"id": "t')}
    top = a[(a.scope == "transcript") & (a.name == "desperate")].sort_values("peak_z", ascending=False).iloc[0]
    return {
        "transcripts": meta["transcripts"],
        "tokens": meta["tokens"],
        "errors": [json.loads(l) for l in (local / "errors.jsonl").read_text().splitlines()],
        "errors_same_in_ray": (local / "errors.jsonl").read_text() == (ray / "errors.jsonl").read_text(),
        "rows": len(a),
        "same_keys": bool(a[keys].equals(b[keys])),
        "max_abs_diff_mean_z": float(np.nanmax(np.abs(a.mean_z - b.mean_z))),
        "max_abs_diff_peak_z": float(np.nanmax(np.abs(a.peak_z - b.peak_z))),
        "most_desperate": {"id": top.id, "peak_z": round(float(top.peak_z), 3), "peak_token": int(top.peak_token), "story": labels[top.id]},
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--keep", type=Path, required=True, help="folder for the corpus and both scans")
    args = ap.parse_args()
    work = args.keep
    work.mkdir(parents=True, exist_ok=True)
    src = work / "chats.jsonl"
    write_chat_corpus(src, args.n)
    local, ray = work / "local", work / "ray"
    # kill -9 once a third of the parts are written, then resume
    proc = subprocess.Popen(
        [sys.executable, "-m", "core", "scan", str(src), "--out", str(local)], cwd=ROOT, start_new_session=True, stderr=subprocess.DEVNULL
    )
    start = time.time()
    while len(list((local / "parts").glob("*.parquet"))) < args.n // 32 // 3:
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = len(list((local / "parts").glob("*.parquet")))
    first = time.time() - start
    resumed = scan(str(src), "--out", str(local))
    ray_s = scan(str(src), "--out", str(ray), "--engine", "ray", "--workers", "2")
    report = compare(src, local, ray) | {
        "killed_after_parts": killed_at,
        "first_run_s_until_kill": round(first, 1),
        "resume_s": round(resumed, 1),
        "ray_s": round(ray_s, 1),
    }
    args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
