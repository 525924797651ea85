"""The bench reports ratios taken in one run; here its plumbing, not its timings (no timed assertions)."""

import pytest

from core import bench


@pytest.mark.fast
def test_best_of_takes_the_least_disturbed_timing():
    calls = []
    seconds = bench._best(lambda: calls.append(1), repeat=4)
    assert len(calls) == 4 and 0 <= seconds < 1


@pytest.mark.fast
def test_the_table_shows_every_figure_with_its_ratio():
    r = {
        "model": "m",
        "machine": "x86_64, 2 cores",
        "score_vs_forward": {"tokens": 1000, "score_s": 0.5, "bare_forward_s": 0.4, "ratio": 1.25},
        "switch_vs_rescore": {"switch_s": 0.01, "rescore_s": 0.5, "ratio": 0.02},
        "build_vs_forward": {
            "stories": 48,
            "tokens": 5000,
            "build_s": 6.0,
            "bare_forward_s": 5.0,
            "ratio": 1.2,
            "projected_full_build_min": 8.5,
        },
        "generation": {
            "max_new_tokens": 48,
            "plain_tok_s": 17.0,
            "steered_tok_s": 16.8,
            "steered_ratio": 0.988,
            "live_tok_s": 16.5,
            "live_overhead": 0.03,
            "both_streamed_tok_s": 16.9,
            "both_ratio": 1.006,
        },
        "memory_8000_tokens": {"rss_after_load_mb": 900, "peak_rss_mb": 1500, "scoring_extra_mb": 600, "ratio": 1.67},
        "warm_load_from_process_start_s": {"median": 4.2, "min": 4.0, "max": 4.5},
    }
    table = bench.to_table(r)
    for ratio in ("1.25", "0.02", "1.2", "0.988", "+3%", "1.006", "1.67"):
        assert f"| {ratio} |" in table, ratio
    assert "Generate both" in table and "median 4.2 s" in table


def test_a_text_of_the_asked_length_comes_from_the_corpus(lm):
    text = bench._text_of(lm, 300)
    assert abs(len(lm.tokenizer(text).input_ids) - 300) <= 2
