from core.lens import logit_lens, token_label


def test_logit_lens_returns_ranked_distinct_tokens(lm, ev):
    up, down = logit_lens(lm, ev.at()[ev.index("happy")], 15)
    assert len(up) == len(down) == 15 and up[0].logit > down[0].logit
    assert [t.logit for t in up] == sorted((t.logit for t in up), reverse=True)
    assert len({t.token_id for t in up}) == 15 and len({t.label for t in up}) == 15  # no two bars merge


def test_partial_characters_get_their_raw_token_not_a_replacement_char(lm):
    ids = lm.tokenizer("🎉", add_special_tokens=False).input_ids
    assert len(ids) > 1  # an emoji is several byte tokens here
    labels = [token_label(lm.tokenizer, i) for i in ids]
    assert all("\ufffd" not in l for l in labels) and len(set(labels)) == len(labels)
    assert token_label(lm.tokenizer, lm.tokenizer(" happy", add_special_tokens=False).input_ids[0]) == "' happy'"
