"""Held-out verdicts as the app says them (core.verdicts)."""

import pytest

pytestmark = pytest.mark.fast


def test_the_goal_needs_both_measures_at_90_percent_within_twice_the_perplexity():
    from core.verdicts import goal_met

    row = {"vader_moved": 0.9, "reading_moved": 0.96, "median_perplexity_ratio": 2.0}
    assert goal_met(row)
    assert not goal_met({**row, "vader_moved": 0.89})
    assert not goal_met({**row, "reading_moved": 0.5})
    assert not goal_met({**row, "median_perplexity_ratio": 2.01})


def test_held_out_totals_add_up_every_verdict_of_an_emotion_tried_more_than_once():
    from core.steering_preset import load_preset
    from core.vectors import EmotionVectors, vectors_dir
    from core.verdicts import held_out_totals, totals_text

    shipped = list(load_preset(EmotionVectors.load(vectors_dir("smollm2-135m-instruct"))).verdicts)
    totals = held_out_totals(shipped)
    assert set(totals) == {"sad"}  # "happy" was held out once
    sad = [r for r in shipped if r["emotion"] == "sad"]
    assert totals["sad"]["verdicts"] == len(sad) >= 3 and totals["sad"]["pairs"] == 96 * len(sad)
    assert totals["sad"]["vader"] == sum(round(r["vader_moved"] * 96) for r in sad) < 0.9 * totals["sad"]["pairs"]
    assert held_out_totals([{"emotion": "calm", "pairs": 24, "vader_moved": 0.5, "reading_moved": 1.0}] * 2) == {
        "calm": {"verdicts": 2, "pairs": 48, "vader": 24, "reading": 48}
    }
    assert (
        totals_text("calm", {"verdicts": 2, "pairs": 48, "vader": 24, "reading": 47})
        == "The 2 held-out verdicts on **calm** together: the judge moved in 24 of 48 pairs (50.0%), the readout in 47 (97.9%)."
    )


def test_the_plain_summary_pools_each_emotions_verdicts_in_tries_out_of_ten():
    from core.steering_preset import load_preset
    from core.vectors import EmotionVectors, vectors_dir
    from core.verdicts import plain_totals

    rows = [
        {"emotion": "happy", "pairs": 96, "vader_moved": 0.9, "expected": 1},
        {"emotion": "sad", "pairs": 96, "vader_moved": 0.8, "expected": -1},
        {"emotion": "sad", "pairs": 96, "vader_moved": 0.6, "expected": -1},
    ]
    text = plain_totals(rows)
    assert "**happy** made replies more positive in 9 of 10 tries" in text
    assert "**sad** made replies more negative in 7 of 10 tries" in text
    shipped = plain_totals(list(load_preset(EmotionVectors.load(vectors_dir("smollm2-135m-instruct"))).verdicts))
    assert "**happy**" in shipped and "**sad**" in shipped and plain_totals([]) == ""
