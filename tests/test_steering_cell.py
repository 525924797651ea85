"""The exploratory cell tool: one set-up's effect on the choosing prompts, as the study counts it."""
import pytest


def test_a_cell_reads_sad_steering_on_the_choosing_prompts_and_says_how_it_steered(capsys):
    from core.effects import SETUPS
    from tools.steering_cell import main
    name = "contrast, spread over layers at 27–53% depth"
    [row] = main(["--setup", name, "--emotion", "sad", "--strength", "1.0", "--tokens", "16", "--prompts", "1",
                  "--against", "0.5", "--positions", "generated"])
    assert row["pairs"] == 3 and row["emotion"] == "sad" and row["strength"] == 1.0
    assert row["reading_moved"] >= 2 / 3                 # a strong push: the readout reads it sadder
    assert row["median_perplexity_ratio"] > 1.0          # and the text is less like the model's own
    out = capsys.readouterr().out
    assert "layers 8–16" in out and "against 0.5" in out and "generated positions" in out and "16 tokens" in out
    assert "against" not in SETUPS[name] and SETUPS[name]["positions"] == "all"     # the study's set-up is untouched


def test_a_cell_refuses_an_unknown_set_up_with_a_message(capsys):
    from tools.steering_cell import main
    with pytest.raises(SystemExit):
        main(["--setup", "sideways", "--emotion", "sad", "--strength", "0.4"])
    assert "invalid choice" in capsys.readouterr().err
