import json

import pytest

from core import EmotionLensError
from core.transcript import MAX_CHARS, Turn, parse_transcript, render


def test_plain_text_is_one_turn():
    assert parse_transcript("  hello there  ") == [Turn("text", "hello there")]


def test_role_markers():
    turns = parse_transcript("System: be brief\nHuman: hi\nthere\nAI: hello\nUser: bye")
    assert [t.role for t in turns] == ["system", "user", "assistant", "user"]
    assert turns[1].content == "hi\nthere"


def test_json_messages_and_jsonl():
    msgs = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    assert [t.role for t in parse_transcript(json.dumps(msgs))] == ["user", "assistant"]
    assert [t.role for t in parse_transcript(json.dumps({"messages": msgs}))] == ["user", "assistant"]
    assert len(parse_transcript("\n".join(json.dumps(m) for m in msgs))) == 2


@pytest.mark.parametrize(
    "bad, message",
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ('[{"role": "user", "content": "hi"', "invalid JSON"),
        ('[{"role": "wizard", "content": "hi"}]', "unknown role"),
        ('[{"role": "user"}]', "content"),
        ("a\x00b", "binary"),
        ("x" * (MAX_CHARS + 1), "limit"),
        ("[]", "non-empty"),
    ],
)
def test_bad_input(bad, message):
    with pytest.raises(EmotionLensError, match=message):
        parse_transcript(bad)


def test_render_with_chat_template_keeps_speakers(lm):
    turns = parse_transcript("User: my back hurts\nAssistant: sorry to hear that")
    text, segments = render(turns, lm.chat_template, lm.tokenizer)
    assert "<|im_start|>assistant" in text
    assert [s.role for s in segments] == ["system", "user", "assistant"]  # the template's own system prompt
    assert text[segments[2].content_start :].startswith("sorry to hear that")
    assert text[segments[0].content_start : segments[0].words_end].startswith("You are a helpful")
    assert segments[0].end == segments[1].start and segments[-1].end == len(text)


def test_render_without_template_uses_plain_labels():
    text, segments = render([Turn("user", "hi"), Turn("assistant", "hello")])
    assert text == "User: hi\nAssistant: hello"
    assert text[segments[1].content_start :] == "hello"
