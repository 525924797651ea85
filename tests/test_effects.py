"""The three measures of a steered reply, on the real model."""

import numpy as np
import pytest

from core.effects import reply_perplexity, reply_reading, sweep, vader_compound
from core.ratings import word_valence
from core.steering import steer_generate

PROMPT = "User: How was your day?"


def test_the_judge_and_the_fluency_measure_tell_texts_apart(lm):
    assert vader_compound("What a wonderful, happy day!") > 0.5 > -0.5 > vader_compound("This is awful and I hate it.")
    fluent = reply_perplexity(lm, PROMPT, "It was good, thank you. I went for a walk in the park.")
    salad = reply_perplexity(lm, PROMPT, "walk good park the thank it went for was I, you. in a")
    assert fluent < salad


def test_the_readout_reads_the_reply_not_the_prompt(lm, ev):
    scared = reply_reading(lm, ev, PROMPT, "Terrible. Someone followed me home and I was shaking with fear.", ["afraid"])
    calm = reply_reading(lm, ev, PROMPT, "Quiet and easy. I read a book by the window with a cup of tea.", ["afraid"])
    assert scared["afraid"] > calm["afraid"]


def test_sweep_has_the_baseline_and_one_row_per_strength(lm, ev):
    rows = sweep(lm, ev, PROMPT, "sad", [0.5, -0.5], seed=1, max_new_tokens=12)
    assert [r["strength"] for r in rows] == [-0.5, 0.0, 0.5]
    base = rows[1]
    assert base["reply"] == steer_generate(lm, ev, PROMPT, {}, max_new_tokens=12, seed=1)
    assert base["perplexity_ratio"] == 1.0 and all(np.isfinite(r["perplexity"]) for r in rows)
    assert {"reading", "vader", "valence", "perplexity"} <= set(base)


def test_one_pass_measure_equals_the_separate_measures(lm, ev):
    from core.effects import measure

    reply = "It was lovely, thanks. We walked by the river and had cake."
    m = measure(lm, ev, PROMPT, reply, "happy")
    assert abs(m["reading"] - reply_reading(lm, ev, PROMPT, reply, ["happy"])["happy"]) < 1e-4
    assert abs(m["perplexity"] - reply_perplexity(lm, PROMPT, reply)) < 1e-3 * m["perplexity"]
    assert m["vader"] == vader_compound(reply) and m["valence"] == word_valence(reply)


def test_reading_a_reply_back_takes_one_pass_and_equals_scoring_and_measuring_apart(lm, ev):
    from core import score
    from core.effects import conversation, measure, read_reply

    reply = "Oh no, I'm so sorry to hear that. That sounds really frightening."
    ts, m = read_reply(lm, ev, PROMPT, reply, "afraid")
    apart = score(lm, ev, conversation(PROMPT, reply))
    assert ts.tokens == apart.tokens and np.allclose(ts.z, apart.z, atol=1e-4)
    assert np.allclose(ts.token_z, apart.token_z, atol=1e-4, equal_nan=True)
    assert m == pytest.approx(measure(lm, ev, PROMPT, reply, "afraid"))
