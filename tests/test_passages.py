"""Passages with known emotional spans: every token labelled as the tokenizer splits it."""

import numpy as np

from core import corpus
from core.alignment import prepare, tokenize
from core.passages import MARKER, NEUTRAL, after_exchange, embed, every_nth_story, neutral_sentences, token_labels


def labelled(lm, p):
    text, segments = prepare(lm, list(p.turns))
    _, tokens, offsets, _, turns = tokenize(lm, text, segments)
    return tokens, token_labels(p, text, offsets, turns)


def test_the_emotional_piece_and_only_it_carries_the_label(lm):
    piece = "Her hands shook so hard she dropped the keys twice."
    for form in ("plain", "chat"):
        p = embed(piece, 7, form, "test:" + form)
        tokens, labels = labelled(lm, p)
        assert "".join(t for t, l in zip(tokens, labels) if l == 7).strip() == piece
        assert (labels == NEUTRAL).sum() > 10 and labels[0] == MARKER
        if form == "chat":  # template tokens are markers, never neutral words
            assert all(labels[i] == MARKER for i, t in enumerate(tokens) if t in ("<|im_start|>", "<|im_end|>"))


def test_a_chat_message_follows_a_neutral_exchange(lm):
    p = after_exchange("I can't stop shaking, the test results are tomorrow.", 3, "test:x")
    tokens, labels = labelled(lm, p)
    assert [t.role for t in p.turns] == ["user", "assistant", "user"]
    assert (labels == 3).sum() > 5 and (labels == NEUTRAL).sum() > 10
    assert np.flatnonzero(labels == 3).min() > np.flatnonzero(labels == NEUTRAL).max()


def test_neutral_sentences_are_prose_and_draws_are_stable():
    pool = neutral_sentences()
    assert len(pool) > 200 and not any("`" in s or s.startswith("-") for s in pool)
    assert embed("x.", 0, "plain", "k").turns == embed("x.", 0, "plain", "k").turns


def test_every_nth_story_keeps_a_third_of_each_emotion():
    stories = corpus.load_stories()
    kept = every_nth_story(stories)
    per = {e: sum(s.emotion == e for s in kept) for e in corpus.emotions()}
    assert set(per.values()) == {8}
