import json

import pytest

from conftest import run_cli


def test_score_json_has_the_documented_keys():
    out = run_cli("score", "--text", "User: I took 8000 mg of tylenol\nAssistant: Call emergency services now.",
                  "--emotions", "afraid,calm", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {"model", "layer", "emotions", "tokens", "raw", "z", "mean_z", "last_z"} <= set(data)
    assert data["emotions"] == ["afraid", "calm"] and len(data["z"]) == len(data["tokens"])
    assert set(data["mean_z"]) == {"afraid", "calm"}


def test_score_file_human_readable(tmp_path):
    f = tmp_path / "t.json"
    f.write_text(json.dumps([{"role": "user", "content": "My dog died this morning."}]))
    out = run_cli("score", "--file", str(f))
    assert out.returncode == 0, out.stderr
    assert "layer" in out.stdout and "mean z" in out.stdout


@pytest.fixture
def binary_file(tmp_path):
    f = tmp_path / "blob.bin"
    f.write_bytes(bytes(range(256)) * 4)
    return str(f)


@pytest.mark.parametrize("args, message", [
    (["--text", ""], "input is empty"),
    (["--text", '[{"role": "user", "content": '], "invalid JSON transcript"),
    (["--file", "BINARY"], "binary file"),
    (["--file", "/no/such/file.txt"], "no such file"),
    (["--text", "hello", "--emotions", "afriad"], "unknown emotion 'afriad'"),
    (["--text", "hello", "--layer", "99"], "layer 99 is out of range"),
])
def test_bad_input_gives_one_clear_line(args, message, binary_file):
    args = [binary_file if a == "BINARY" else a for a in args]
    out = run_cli("score", *args)
    assert out.returncode == 2, out.stdout
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    lines = [l for l in out.stderr.splitlines() if l.startswith("error:")]
    assert len(lines) == 1
