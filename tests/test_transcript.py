import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import EmotionLensError
from core.transcript import MAX_CHARS, Turn, decode_text_file, parse_transcript, read_transcript_file, render
from strategies import hostile_text, json_upload, valid_text


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


# --- properties over hostile input (hypothesis; tests/strategies.py) -------------------------


def _parsed_or_refused(data, json_only=False):
    """Turns, or one clear EmotionLensError: anything else escaping is a bug."""
    try:
        return parse_transcript(data, json_only=json_only)
    except EmotionLensError as exc:
        assert str(exc) and "\n" not in str(exc).strip()
        return None


@given(hostile_text)
def test_any_text_parses_into_turns_holding_every_character_once_in_order(text):
    turns = _parsed_or_refused(text)
    if turns is None or text.lstrip()[:1] in "[{":
        return
    # Without spaces, the input is exactly each turn's marker ("User:", "AI:"…) and words, in order.
    names = {"user": "user|human", "assistant": "assistant|ai", "system": "system", "text": ""}
    squeeze = lambda s: "".join(c for c in s if not c.isspace())  # what str.strip() removes
    pattern = "".join((f"(?:{names[t.role]}):" if t.role != "text" else "") + re.escape(squeeze(t.content)) for t in turns)
    assert re.fullmatch(pattern, squeeze(text), re.I | re.S), (turns, text)


@given(hostile_text)
def test_rendered_text_holds_each_turns_words_where_its_segment_says(text):
    turns = _parsed_or_refused(text)
    if turns is None:
        return
    rendered, segments = render(turns)
    content = {s.turn: t.content for s, t in zip(segments, turns)}
    for seg in segments:
        assert rendered[seg.content_start : seg.words_end] == content[seg.turn]
    assert segments[0].start == 0 and segments[-1].end == len(rendered)
    assert all(a.end == b.start for a, b in zip(segments, segments[1:]))


@given(json_upload())
def test_any_json_upload_parses_or_gets_one_clear_message(text):
    turns = _parsed_or_refused(text, json_only=True)  # as a .json/.jsonl upload is read
    assert turns is None or all(t.role in ("system", "user", "assistant") for t in turns)
    try:
        assert read_transcript_file(text.encode("utf-8", "surrogatepass"), "chat.jsonl") == text
    except EmotionLensError as exc:
        assert str(exc).startswith("chat.jsonl") and turns is None


@given(st.binary(max_size=200) | valid_text.map(lambda s: s.encode("utf-8")))
def test_any_bytes_decode_to_text_or_one_clear_message(data):
    try:
        text = decode_text_file(data, "upload.txt")
    except EmotionLensError as exc:
        assert "upload.txt" in str(exc)
        return
    assert text.encode("utf-8") in (data, data.removeprefix(b"\xef\xbb\xbf"))


def test_a_megabyte_single_line_is_refused_with_its_size_not_read():
    line = "é" * 600_000  # 1.2 MB of UTF-8 on one line
    with pytest.raises(EmotionLensError, match="limit is 1,000 KB"):
        decode_text_file(line.encode(), "long.txt")
    with pytest.raises(EmotionLensError, match="limit is 200,000"):
        parse_transcript(line)
    with pytest.raises(EmotionLensError, match="limit is 200,000"):
        parse_transcript([{"role": "user", "content": line}])
