"""Tokens and the characters they show: properties over hostile input, on both shipped tokenizers."""

import pytest
from hypothesis import given

from core import EmotionLensError, load_model
from core.alignment import prepare, tokenize
from strategies import hostile_text


@pytest.fixture(scope="module", params=["smollm2-135m-instruct", "gemma3-270m"])
def model(request, lm):
    return lm if request.param == lm.name else load_model(request.param)


@given(text=hostile_text)
def test_every_character_is_shown_by_exactly_one_token_in_order(model, text):
    try:
        rendered, segments = prepare(model, text)
    except EmotionLensError:
        return
    _, tokens, offsets, speakers, turns = tokenize(model, rendered, segments)
    spans = [(a, b) for a, b in offsets if b > a]
    assert spans[0][0] == 0 and spans[-1][1] == len(rendered)
    assert all(b == c for (_, b), (c, _) in zip(spans, spans[1:]))  # no gap, no overlap
    assert "".join(t for t, (a, b) in zip(tokens, offsets) if b > a) == rendered
    assert len(speakers) == len(tokens) and all(t.start < t.end for t in turns)
