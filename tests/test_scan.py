"""``python -m core scan`` (core/scan.py, core/scan_input.py, core/scan_ray.py) on a generated
corpus with malformed records, on the shipped model: both engines, resume after kill -9, bad input."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import ROOT, run_cli

N = 24  # conftest's scan corpus: 24 transcripts and 2 malformed records


def _labels(scan_corpus) -> dict:
    rows = [json.loads(line) for line in scan_corpus.read_text().splitlines() if line.startswith('{"id": "t')]
    return {r["id"]: r["label"] for r in rows}


def _table(out):
    return pq.read_table(out / "summaries.parquet").to_pandas().sort_values(["id", "scope", "turn", "name"]).reset_index(drop=True)


def test_every_transcript_is_summarised_and_bad_records_are_listed(scan_dir, scan_corpus):
    meta = json.loads((scan_dir / "scan.json").read_text())
    assert meta["transcripts"] == N and meta["errors"] == 2 and meta["records"] == N + 2
    errors = [json.loads(line) for line in (scan_dir / "errors.jsonl").read_text().splitlines()]
    assert {e["id"] for e in errors} == {"chats.jsonl:9", "bad-role"}
    assert any("not JSON" in e["reason"] for e in errors) and any("unknown role 'narrator'" in e["reason"] for e in errors)
    s = _table(scan_dir)
    per = s[s.scope == "transcript"]
    assert per.id.nunique() == N and set(per.name) == set(meta["names"]) and len(meta["names"]) > 171
    t = pq.read_table(scan_dir / "transcripts.parquet").to_pandas()
    assert len(t) == N and (t.n_tokens > 50).all() and t.text.str.startswith("[").all()


def test_the_scan_finds_each_transcripts_own_emotion_in_the_users_turn(scan_dir, scan_corpus):
    # Each transcript's user turn tells a story of one emotion: that emotion should stand out
    # there, on average, against the other transcripts' (a real reading, not a given).
    labels = _labels(scan_corpus)
    s = _table(scan_dir)
    user = s[(s.scope == "turn") & (s.speaker == "user") & (s.kind == "emotion")]
    user = user[user.turn == user.groupby("id").turn.transform("max")]  # the last user turn tells the story
    own, others = [], []
    for tid, label in labels.items():
        col = user[user.name == label].set_index("id").mean_z
        own.append(col[tid])
        others.append(col.drop(tid).mean())
    assert np.mean(own) > np.mean(others) + 0.3
    peaks = s[(s.scope == "transcript") & (s.kind == "emotion")]
    assert (peaks.peak_speaker.isin(["user", "assistant", "system"])).all() and (peaks.peak_token >= 1).all()


def test_ray_gives_the_same_summaries(scan_dir, scan_corpus, tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "scan-ray"
    result = run_cli("scan", str(scan_corpus), "--out", str(out), "--engine", "ray", "--workers", "2", timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    a, b = _table(scan_dir), _table(out)
    assert a[["id", "scope", "turn", "speaker", "name", "peak_token", "peak_speaker", "n_tokens"]].equals(
        b[["id", "scope", "turn", "speaker", "name", "peak_token", "peak_speaker", "n_tokens"]]
    )
    assert np.allclose(a.mean_z, b.mean_z, atol=1e-3, equal_nan=True) and np.allclose(a.peak_z, b.peak_z, atol=1e-3, equal_nan=True)
    assert (out / "errors.jsonl").read_text() == (scan_dir / "errors.jsonl").read_text()


def test_a_scan_killed_mid_run_resumes_to_the_same_result(scan_dir, scan_corpus, tmp_path):
    out = tmp_path / "scan-killed"
    cmd = [sys.executable, "-m", "core", "scan", str(scan_corpus), "--out", str(out), "--chunk", "4"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 600
    while time.time() < deadline and len(list((out / "parts").glob("local-*.parquet"))) < 2:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(list((out / "parts").glob("local-*.parquet")))
    assert 2 <= done < 7 and not (out / "summaries.parquet").exists()
    result = run_cli("scan", str(scan_corpus), "--out", str(out), "--chunk", "4")
    assert result.returncode == 0, result.stderr
    a, b = _table(scan_dir), _table(out)
    assert a.drop(columns=["mean_z", "peak_z"]).equals(b.drop(columns=["mean_z", "peak_z"]))
    assert np.allclose(a.mean_z, b.mean_z, atol=1e-3, equal_nan=True)


def test_folders_parquet_and_bad_input(tmp_path):
    import pyarrow as pa

    folder = tmp_path / "logs"
    folder.mkdir()
    (folder / "a.txt").write_text("User: The river rose overnight and the house is flooding.\nAssistant: Get to high ground now.")
    (folder / "b.json").write_text(json.dumps([{"role": "user", "content": "Thank you, that was a lovely surprise!"}]))
    (folder / "c.txt").write_bytes(b"\x00\x01binary")
    out = tmp_path / "scan-folder"
    result = run_cli("scan", str(folder), "--out", str(out))
    assert result.returncode == 0, result.stderr
    meta = json.loads((out / "scan.json").read_text())
    assert meta["transcripts"] == 2 and meta["errors"] == 1 and "binary" in (out / "errors.jsonl").read_text()
    table = tmp_path / "logs.parquet"
    pq.write_table(pa.table({"id": ["x", "y"], "text": ["User: hello there", None]}), table)
    result = run_cli("scan", str(table), "--out", str(tmp_path / "scan-parquet"))
    assert result.returncode == 0, result.stderr
    meta = json.loads((tmp_path / "scan-parquet" / "scan.json").read_text())
    assert meta["transcripts"] == 1 and meta["errors"] == 1
    for args, message in (
        ((str(tmp_path / "nothing.jsonl"), "--out", str(tmp_path / "o")), "does not exist"),
        ((str(folder / "a.txt"), "--out", str(tmp_path / "o")), "give a .jsonl or .parquet file"),
        ((str(table), "--out", str(out)), "holds a scan with another input"),
    ):
        result = run_cli("scan", *args)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr
