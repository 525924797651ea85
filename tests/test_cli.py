import contextlib
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import run_cli
from core.cli import main
from strategies import hostile_text, valid_text


def test_score_json_has_the_documented_keys():
    out = run_cli(
        "score", "--text", "User: I took 8000 mg of tylenol\nAssistant: Call emergency services now.", "--emotions", "afraid,calm", "--json"
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert {"model", "layer", "emotions", "tokens", "raw", "z", "token_z", "mean_z", "last_z"} <= set(data)
    assert data["emotions"] == ["afraid", "calm"] and len(data["z"]) == len(data["tokens"]) == len(data["token_z"])
    assert set(data["mean_z"]) == {"afraid", "calm"}
    assert data["token_z"][0] == [None, None]  # the attention sink is never read
    assert any(row[0] is not None for row in data["token_z"])


def test_score_prints_the_viewers_top_emotions_row_for_row(lm, ev):
    from core import score
    from core.summaries import turn_table

    text = "User: The biopsy results come tomorrow and I can't sleep.\nAssistant: Waiting is hard. Try to rest."
    out = run_cli("score", "--model", lm.name, "--text", text)
    assert out.returncode == 0, out.stderr
    for row in turn_table(score(lm, ev, text), 4, ev.families):
        assert f"{row['turn']}: {row['highest (mean z)']}" in out.stdout


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


@pytest.mark.parametrize(
    "args, message",
    [
        (["--text", ""], "input is empty"),
        (["--text", '[{"role": "user", "content": '], "invalid JSON transcript"),
        (["--file", "BINARY"], "binary file"),
        (["--file", "/no/such/file.txt"], "no such file"),
        (["--text", "hello", "--emotions", "afriad"], "unknown emotion 'afriad'"),
        (["--text", "hello", "--layer", "99"], "layer 99 is out of range"),
    ],
)
def test_bad_input_gives_one_clear_line(args, message, binary_file):
    args = [binary_file if a == "BINARY" else a for a in args]
    out = run_cli("score", *args)
    assert out.returncode == 2, out.stdout
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    lines = [l for l in out.stderr.splitlines() if l.startswith("error:")]
    assert len(lines) == 1


SMOL = ["--model", "smollm2-135m-instruct"]


def test_steer_prints_baseline_and_steered_from_one_seed():
    from core import load_model, load_vectors
    from core.steering_preset import load_preset

    out = run_cli(
        "steer",
        *SMOL,
        "--prompt",
        "User: Tell me about your weekend.",
        "--vector",
        "sad=1.0",
        "--max-new-tokens",
        "15",
        "--seed",
        "2",
        "--layers",
        "10-14",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["strengths"] == {"sad": 1.0} and data["baseline"] and data["steered"] != data["baseline"]
    assert data["layers"] == [10, 11, 12, 13, 14]
    assert data["direction"] == load_preset(load_vectors(load_model("smollm2-135m-instruct"))).kind  # the study's choice
    forced = json.loads(
        run_cli(
            "steer",
            *SMOL,
            "--prompt",
            "User: Hi.",
            "--vector",
            "sad=0.5",
            "--max-new-tokens",
            "4",
            "--direction",
            "concept",
            "--layer",
            "12",
            "--json",
        ).stdout
    )
    assert (forced["direction"], forced["layers"]) == ("concept", [12])


def test_monitor_streams_flags_and_stops_as_json():
    out = run_cli(
        "monitor",
        *SMOL,
        "--prompt",
        "User: I lost my job and can't pay rent.",
        "--watch",
        "desperate=-50",
        "--stop",
        "--max-new-tokens",
        "10",
        "--json",
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["stopped_at"] == 0 and len(data["tokens"]) == 1 and "desperate" in data["reason"]
    assert data["flagged"] == [{"emotion": "desperate", "start": 0, "end": 1, "peak_z": data["flagged"][0]["peak_z"]}]
    text = run_cli("monitor", *SMOL, "--prompt", "User: hi", "--watch", "calm=99", "--max-new-tokens", "5")
    assert text.returncode == 0 and ("reached 5 tokens" in text.stdout or "ended its reply" in text.stdout)


def test_export_writes_a_control_vector_and_refuses_bad_input(tmp_path):
    f = tmp_path / "calm.gguf"
    out = run_cli("export", *SMOL, "--emotion", "calm", "--strength", "0.5", "--format", "llama-cpp", "--out", str(f))
    assert out.returncode == 0, out.stderr
    assert f.stat().st_size > 576 * 4 and "control vector" in out.stdout
    bad = run_cli("export", *SMOL, "--emotion", "calm", "--strength", "0.5", "--layers", "0", "--out", str(tmp_path / "b.gguf"))
    assert bad.returncode == 2 and "blocks 1" in bad.stderr and "Traceback" not in bad.stderr
    contrast = run_cli(
        "export",
        *SMOL,
        "--emotion",
        "sad",
        "--strength",
        "0.3",
        "--direction",
        "contrast",
        "--layers",
        "12",
        "--out",
        str(tmp_path / "sad.gguf"),
    )
    assert contrast.returncode == 0 and "contrast directions" in contrast.stdout, contrast.stderr
    before = f.read_bytes()  # a full disk while exporting over it: one line, and the old file stays whole
    full = run_cli("export", *SMOL, "--emotion", "sad", "--strength", "0.5", "--out", str(f), max_file_bytes=4096)
    assert full.returncode == 2 and "is the disk full" in full.stderr and "Traceback" not in full.stderr, full.stderr
    assert f.read_bytes() == before and not list(tmp_path.glob("*.tmp"))
    bad = run_cli("monitor", *SMOL, "--prompt", "hi", "--watch", "desprate=2")
    assert bad.returncode == 2 and "unknown emotion 'desprate'" in bad.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--vector", "calmm=0.5"], "unknown emotion 'calmm' in the steering vectors"),
        (["--vector", "calm"], "look like emotion=strength"),
        (["--vector", "calm=0.5", "--layers", "3,x"], "layer numbers and ranges"),
    ],
)
def test_bad_steering_requests_get_one_clear_line(args, message):
    out = run_cli("steer", *SMOL, "--prompt", "hi", *args)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr


def test_a_contrast_position_outside_the_two_is_refused_before_any_work():
    out = run_cli("build", *SMOL, "--contrast", "--contrast-position", "everywhere")
    assert out.returncode == 2 and "invalid choice: 'everywhere'" in out.stderr and "Traceback" not in out.stderr


# --- property: any command line gets a result or one clear line, never a traceback -------------

_VALUES = st.one_of(
    hostile_text.map(lambda s: s[:60]),
    st.sampled_from(["", "-1", "0", "3", "nan", "inf", "1e400", "99", "afraid,calm", "happy=0.5", "sad=nan", "calm=1e9", "x=y=z", "="]),
)
_OPTIONS = {
    "info": ["--model", "--json"],
    "score": ["--model", "--text", "--file", "--layer", "--kind", "--baseline", "--emotions", "--json"],
    "steer": [
        "--model",
        "--prompt",
        "--file",
        "--vector",
        "--layer",
        "--layers",
        "--direction",
        "--positions",
        "--against",
        "--seed",
        "--json",
    ],
    "monitor": ["--model", "--prompt", "--file", "--watch", "--stop", "--layers", "--seed", "--json"],
    "export": ["--model", "--emotion", "--strength", "--layers", "--direction", "--format", "--out"],
}
_FLAGS = {"--json", "--stop"}
_MODELS = st.sampled_from(["smollm2-135m-instruct", "", "no-such-model", "../../etc", "/dev/null"])


@st.composite
def command_line(draw, out_dir):
    cmd = draw(st.sampled_from(sorted(_OPTIONS)))
    argv = [cmd, "--model", draw(_MODELS)] if draw(st.integers(0, 3)) == 0 else [cmd]
    required = {"score": ["--text"], "steer": ["--prompt", "--vector"], "monitor": ["--prompt", "--watch"]}
    required["export"] = ["--emotion", "--strength", "--out"]
    chosen = required.get(cmd, []) if draw(st.integers(0, 4)) else []  # mostly well-formed, so the work runs
    for opt in chosen + draw(st.lists(st.sampled_from(_OPTIONS[cmd]), max_size=2)):
        if opt in _FLAGS:
            argv.append(opt)
        elif opt == "--out":
            argv += [opt, draw(st.sampled_from([str(out_dir / "v.gguf"), str(out_dir), "/no/such/dir/v.gguf", ""]))]
        elif opt == "--file":
            argv += [opt, draw(st.sampled_from([str(out_dir / "chat.json"), str(out_dir / "bad.jsonl"), str(out_dir), "/no/such.txt"]))]
        elif opt in ("--vector", "--watch"):
            value = draw(st.one_of(st.sampled_from(["0.5", "-0.25", "2", "0"]), _VALUES))
            argv += [opt, draw(st.sampled_from(["happy", "calm", "afraid", "nosuch"])) + "=" + value]
        elif opt in ("--emotion", "--strength"):
            argv += [opt, draw(st.one_of(st.sampled_from(["calm", "sad"] if opt == "--emotion" else ["0.5", "-1"]), _VALUES))]
        elif opt in ("--text", "--prompt"):
            argv += [opt, draw(st.one_of(valid_text, hostile_text))]
        else:
            argv += [opt, draw(_VALUES)]
    if cmd in ("steer", "monitor"):
        argv += ["--max-new-tokens", draw(st.sampled_from(["2", "3", "0", "100000"]))]
    return argv


def test_any_command_line_gets_a_result_or_one_clear_line(tmp_path_factory):
    """In-process, so the model loads warm; build, validate and bench are left out (they write the
    shipped vectors or run for minutes)."""
    out = tmp_path_factory.mktemp("cli")
    (out / "chat.json").write_text(json.dumps([{"role": "user", "content": "I lost my keys."}]))
    (out / "bad.jsonl").write_text('{"role": "user", "content": "hi"}\n{"role": "wizard"')

    @settings(max_examples=settings.default.max_examples // 2)
    @given(command_line(out))
    def run(argv):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                code = main(argv)
            except SystemExit as exc:  # argparse: usage and one "error:" line, exit 2
                code = exc.code
        text = err.getvalue()
        assert "Traceback" not in text and "internal error" not in text, (argv, text)
        assert code == 0 or len([l for l in text.splitlines() if "error" in l]) == 1, (argv, text)
        outcomes.append(code)

    outcomes: list = []
    run()
    assert outcomes.count(0) >= 3  # the search reached real work (scores, replies, exports), not only refusals
