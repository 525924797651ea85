"""The cell tool: one set-up's effect on the choosing prompts, as the study counts it, or once on a held-out set."""

import json

import pytest


def test_a_cell_reads_sad_steering_on_the_choosing_prompts_and_says_how_it_steered(capsys):
    from study.setups import SETUPS
    from study.steering_cell import main

    name = "contrast, spread over layers at 27–53% depth"
    [row] = main(
        [
            "--setup",
            name,
            "--emotion",
            "sad",
            "--strength",
            "1.0",
            "--tokens",
            "16",
            "--prompts",
            "1",
            "--against",
            "0.5",
            "--opposite",
            "loving",
            "--positions",
            "generated",
        ]
    )
    assert row["pairs"] == 3 and row["emotion"] == "sad" and row["strength"] == 1.0
    assert row["reading_moved"] >= 2 / 3  # a strong push: the readout reads it sadder
    assert row["median_perplexity_ratio"] > 1.0  # and the text is less like the model's own
    out = capsys.readouterr().out
    assert "layers 8–16" in out and "against 0.5 (loving)" in out and "generated positions" in out and "16 tokens" in out
    # the study's set-up is untouched
    assert "against" not in SETUPS[name] and "opposite" not in SETUPS[name] and SETUPS[name]["positions"] == "all"


def test_a_cell_refuses_an_unknown_set_up_or_emotion_with_a_message(capsys):
    from study.steering_cell import main

    with pytest.raises(SystemExit):
        main(["--setup", "sideways", "--emotion", "sad", "--strength", "0.4"])
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(
            [
                "--setup",
                "contrast, spread over layers at 27–53% depth",
                "--emotion",
                "sad",
                "--strength",
                "0.4",
                "--against",
                "0.5",
                "--opposite",
                "lovingly",
            ]
        )
    assert "'lovingly' is not one of" in capsys.readouterr().err


@pytest.mark.parametrize("held", ["first", "second"])
def test_a_held_out_set_gives_an_emotion_one_verdict_only(held, capsys):
    from study.steering_cell import main

    with pytest.raises(SystemExit):
        main(["--setup", "contrast, spread over layers at 27–53% depth", "--emotion", "sad", "--strength", "0.4", "--held", held])
    assert "already gave 'sad' a verdict" in capsys.readouterr().err  # refused before any model runs


def test_a_verdict_is_one_strength_on_the_held_out_prompts_alone(capsys):
    from study.steering_cell import main

    for extra in (["--strength", "0.4", "0.5"], ["--strength", "0.4", "--more"], ["--strength", "0.4", "--prompts", "2"]):
        with pytest.raises(SystemExit):
            main(["--setup", "contrast, spread over layers at 27–53% depth", "--emotion", "happy", "--held", "third", *extra])
        assert "--held takes one strength" in capsys.readouterr().err


def test_recorded_verdicts_accumulate_and_mark_their_set_spent(tmp_path):
    from study.steering_cell import record_verdict, spent

    path = tmp_path / "steering-verdicts.json"
    assert not spent(tmp_path, "third", "sad") and spent(tmp_path, "first", "sad")
    record_verdict(path, {"emotion": "sad", "held": "third", "strength": 0.4})
    record_verdict(path, {"emotion": "happy", "held": "third", "strength": 0.3})
    assert [v["emotion"] for v in json.loads(path.read_text())["verdicts"]] == ["sad", "happy"]
    assert spent(tmp_path, "third", "sad") and spent(tmp_path, "third", "happy")
    assert not spent(tmp_path, "second", "sad") and not spent(tmp_path, "third", "calm")


def test_a_rejudged_verdict_gains_the_new_judge_only_if_its_figures_reproduce(tmp_path, capsys):
    from study.steering_cell import add_judges, main, record_verdict

    path = tmp_path / "steering-verdicts.json"
    old = {
        "emotion": "sad",
        "held": "third",
        "strength": 0.4,
        "pairs": 96,
        "vader_moved": 0.9,
        "reading_moved": 0.95,
        "median_perplexity_ratio": 1.8,
    }
    record_verdict(path, {**old, "emotion": "happy"})
    record_verdict(path, old)
    rerun = {**old, "valence_moved": 0.85}
    with pytest.raises(SystemExit, match="did not reproduce.*vader_moved 0.9 → 0.8"):
        add_judges(path, old, {**rerun, "vader_moved": 0.8})
    assert json.loads(path.read_text())["verdicts"][1] == old  # refused: nothing written
    assert add_judges(path, old, rerun) == rerun
    assert json.loads(path.read_text())["verdicts"] == [{**old, "emotion": "happy"}, rerun]
    with pytest.raises(SystemExit, match="no verdict for 'calm' on the third held-out set"):
        main(["--rejudge", "third", "--emotion", "calm"])  # refused before any model runs
