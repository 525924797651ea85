"""Files a killed writer leaves behind are swept when a resumable job starts again."""

import os
import time

from core.collect import work_dir


def test_a_resumed_build_removes_a_killed_writers_temporaries_and_keeps_live_ones(lm, tmp_path, monkeypatch):
    monkeypatch.setenv("EMOTION_LENS_CACHE", str(tmp_path))
    folder = work_dir(lm)
    (folder / "story_means.safetensors").write_bytes(b"kept")
    old = [folder / ".tmpWeniMK", folder / ".story_means.safetensors.1ypmme_7.tmp"]
    live = [folder / ".tmpAbCdEf", folder / ".chat_readings.safetensors.x1.tmp"]
    for path in old + live:
        path.write_bytes(b"partial")
    hour_ago = time.time() - 2 * 3600
    for path in old:
        os.utime(path, (hour_ago, hour_ago))
    assert work_dir(lm) == folder
    assert not any(p.exists() for p in old)
    assert all(p.exists() for p in live) and (folder / "story_means.safetensors").read_bytes() == b"kept"
