"""Hostile input for the property tests (hypothesis): any unicode, with the pieces that break
parsers, tokenisers and HTML most often mixed in on purpose."""

from __future__ import annotations

import json

from hypothesis import strategies as st

PIECES = [
    "User:",
    "Assistant:",
    "\nUser: ",
    "\nAssistant: ",
    "system:",
    "<script>alert(1)</script>",
    "</script><img src=x onerror=alert(1)>",
    "<!--",
    "]]>",
    "&amp;",
    "\"'`",
    "مرحبا بالعالم",  # right to left
    "\u202eevil\u202c",  # bidi override
    "👩\u200d👩\u200d👧",  # ZWJ sequence
    "e\u0301\u0308",  # combining marks
    "\u0000",
    "\ud800",  # a lone surrogate
    "\udfff",
    "\r\n",
    "\u2028\u2029",
    "\ufeff",
    "日本語のテキスト",
    "=1+2",
    "-5",
    "\t",
    "[",
    '{"role": "user", "content": "hi"}',
]

# every code point, surrogates and control characters included
any_char = st.characters(codec=None, exclude_categories=())
hostile_text = st.lists(st.one_of(st.sampled_from(PIECES), st.text(any_char, max_size=12)), max_size=12).map("".join)
# text a browser or a UTF-8 file can carry: no NUL, no lone surrogates
valid_text = hostile_text.map(lambda s: "".join(c for c in s if c != "\x00" and not 0xD800 <= ord(c) <= 0xDFFF))

roles = st.one_of(st.sampled_from(["user", "assistant", "system", "User", "AI", "human"]), st.text(max_size=8), st.integers(), st.none())
json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(any_char, max_size=10))
json_value = st.recursive(
    json_leaf, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12
)
message = st.fixed_dictionaries({"role": roles, "content": st.one_of(hostile_text, json_value)}, optional={"name": json_value})
messages = st.one_of(st.lists(message, max_size=5), st.fixed_dictionaries({"messages": st.lists(message, max_size=5)}), json_value)


@st.composite
def json_upload(draw) -> str:
    """A JSON or JSONL transcript as a user might upload it: whole, truncated, or nested deep."""
    value = draw(messages)
    form = draw(st.sampled_from(["json", "jsonl", "truncated", "nested"]))
    if form == "jsonl" and isinstance(value, list):
        return "\n".join(json.dumps(v) for v in value)
    text = json.dumps(value, ensure_ascii=draw(st.booleans()))
    if form == "truncated":
        return text[: draw(st.integers(0, max(0, len(text) - 1)))]
    if form == "nested":
        depth = draw(st.sampled_from([10, 1_000, 100_000]))
        return "[" * depth + text + "]" * draw(st.sampled_from([0, depth]))
    return text
