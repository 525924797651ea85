"""Turn user input (plain text, ``User:``-style turns, JSON chat) into model text + speakers.

Transcripts are hostile input: they are parsed, never evaluated, and bounded in size.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .errors import EmotionLensError

MAX_CHARS = 200_000
MAX_FILE_BYTES = 1_000_000
ROLE_NAMES = {"user": "user", "human": "user", "person": "user", "assistant": "assistant", "ai": "assistant", "system": "system"}
_MARKER = re.compile(r"^[ \t]*(User|Human|Assistant|AI|System)[ \t]*:[ \t]?", re.I | re.M)
TEXT = "text"  # the speaker of plain, unmarked text


@dataclass(frozen=True)
class Turn:
    role: str  # "system", "user", "assistant", or "text" for plain input
    content: str


@dataclass(frozen=True)
class Segment:
    """A character range of the rendered text and who is speaking there."""

    role: str
    start: int
    end: int
    content_start: int  # where the turn's own words begin (after any template header)
    turn: int
    content_end: int = -1  # where they end (before any closing template tokens); -1: at ``end``

    @property
    def words_end(self) -> int:
        return self.end if self.content_end < 0 else self.content_end


def decode_text_file(data: bytes, name: str, limit: int = MAX_FILE_BYTES) -> str:
    """Bytes a user supplied → text; refused clearly if too large, binary or not UTF-8."""
    if len(data) > limit:
        raise EmotionLensError(f"{name} is {len(data) // 1000:,} KB; the limit is {limit // 1000:,} KB")
    if b"\x00" in data:
        raise EmotionLensError(f"{name} is a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise EmotionLensError(f"{name} is not UTF-8 text") from None


def read_transcript_file(data: bytes, name: str) -> str:
    """An uploaded transcript's text, checked now: a .json/.jsonl file must hold a JSON chat."""
    text = decode_text_file(data, name)
    if name.lower().endswith((".json", ".jsonl")):
        try:
            parse_transcript(text, json_only=True)
        except EmotionLensError as exc:
            raise EmotionLensError(f"{name}: {exc}") from None
    return text


def _check_text(text: str, what: str = "input") -> None:
    if "\x00" in text:
        raise EmotionLensError(f"{what} looks binary (it contains NUL bytes): give text or JSON")
    lone = next((c for c in text if "\ud800" <= c <= "\udfff"), None)
    if lone is not None:
        raise EmotionLensError(f"{what} is not valid text: it contains a lone surrogate (U+{ord(lone):04X})")


def _messages(obj) -> list[Turn]:
    if isinstance(obj, dict) and "messages" in obj:
        obj = obj["messages"]
    if not isinstance(obj, list) or not obj:
        raise EmotionLensError('a JSON transcript must be a non-empty list of {"role", "content"} messages')
    turns = []
    for i, m in enumerate(obj):
        if not isinstance(m, dict) or not isinstance(m.get("content"), str):
            raise EmotionLensError(f'JSON message {i + 1} needs a text "content"')
        role = ROLE_NAMES.get(str(m.get("role", "")).strip().lower())
        if role is None:
            raise EmotionLensError(f"JSON message {i + 1} has an unknown role {str(m.get('role'))[:30]!r} (use system, user or assistant)")
        _check_text(m["content"], f"JSON message {i + 1}")
        turns.append(Turn(role, m["content"]))
    total = sum(len(t.content) for t in turns)
    if total > MAX_CHARS:
        raise EmotionLensError(f"the messages hold {total:,} characters; the limit is {MAX_CHARS:,}")
    return turns


def _json(text: str):
    """The parsed JSON value, or the reason it is not JSON (nesting too deep counts as not JSON)."""
    try:
        return json.loads(text), None
    except (ValueError, RecursionError) as exc:
        return None, (str(exc) if isinstance(exc, ValueError) else "nested too deep")


def parse_transcript(data: str | list | dict, json_only: bool = False) -> list[Turn]:
    """Parse any accepted input form into turns. Plain text becomes one ``text`` turn; text that
    is a JSON list or object is a chat, and so is text that starts like one (JSON lines).
    ``json_only`` (a .json or .jsonl file) refuses text that is not a JSON chat."""
    if isinstance(data, (list, dict)):
        return _messages(data)
    if not isinstance(data, str):
        raise EmotionLensError("input must be text or a list of chat messages")
    if len(data) > MAX_CHARS:
        raise EmotionLensError(f"input is {len(data):,} characters; the limit is {MAX_CHARS:,}")
    _check_text(data)
    text = data.strip()
    if not text:
        raise EmotionLensError("input is empty")
    if text[:1] in "[{":
        value, error = _json(text)
        if isinstance(value, (list, dict)):
            return _messages(value)
        if error and (json_only or re.match(r"^[\[{]\s*[{\"\]]", text)):
            # Maybe JSON lines: one message per line.
            lines = [_json(l) for l in text.splitlines() if l.strip()]
            if all(e is None for _, e in lines):
                return _messages([v for v, _ in lines])
            raise EmotionLensError(f"invalid JSON transcript: {error}")
    if json_only:
        raise EmotionLensError('not a JSON chat: expected a list of {"role", "content"} messages, or one per line')
    markers = list(_MARKER.finditer(text))
    if not markers:
        return [Turn(TEXT, text)]
    turns = []
    if text[: markers[0].start()].strip():
        turns.append(Turn(TEXT, text[: markers[0].start()].strip()))
    for m, nxt in zip(markers, markers[1:] + [None]):
        body = text[m.end() : nxt.start() if nxt else len(text)].strip()
        turns.append(Turn(ROLE_NAMES[m.group(1).lower()], body))
    return turns


def _plain_chat(turns: list[Turn]) -> list[str]:
    """Fallback rendering for models without a chat template: ``User: …`` blocks."""
    label = {"user": "User", "assistant": "Assistant", "system": "System"}
    return [t.content if t.role == TEXT else f"{label[t.role]}: {t.content}" for t in turns]


_PROBE = "\u2063probe\u2063"  # text no template would add by itself


def _template_system(tokenizer, first: Turn, piece: str) -> tuple[str, Turn] | None:
    """The system block a chat template adds on its own (SmolLM2: "You are a helpful AI
    assistant…") before the first message, and that block's text as a system turn; None if none.

    Found by rendering the first message after an explicit system message: what the template
    adds for the message itself is then known, and whatever precedes it in ``piece`` is its own.
    """
    try:
        alone = tokenizer.apply_chat_template([{"role": "system", "content": _PROBE}], tokenize=False)
        both = tokenizer.apply_chat_template(
            [{"role": "system", "content": _PROBE}, {"role": first.role, "content": first.content}], tokenize=False
        )
    except Exception:  # templates that refuse a system message add none of their own
        return None
    if not both.startswith(alone) or _PROBE not in alone:
        return None
    own = both[len(alone) :]
    if not own or piece == own or not piece.endswith(own):
        return None
    block = piece[: len(piece) - len(own)]
    head, tail = alone.split(_PROBE, 1)
    text = block[len(head) : len(block) - len(tail)] if block.startswith(head) and block.endswith(tail) else block
    return block, Turn("system", text)


def render(turns: list[Turn], chat_template=None, tokenizer=None, open_reply: bool = False) -> tuple[str, list[Segment]]:
    """The text the model reads, and which speaker owns each character range.

    With a chat template, each turn's segment is what adding that turn adds to the
    rendered prefix, so template headers belong to the turn they open. ``open_reply`` ends
    the text with the Assistant's header and no words: where the model is about to answer
    (the paper's "Assistant colon" position), as a last, empty assistant segment.
    """
    if len(turns) == 1 and turns[0].role == TEXT and not open_reply:
        return turns[0].content, [Segment(TEXT, 0, len(turns[0].content), 0, 0)]
    use_template = chat_template and tokenizer is not None and all(t.role != TEXT for t in turns)
    pieces: list[str] = []
    if use_template:
        msgs = [{"role": t.role, "content": t.content} for t in turns]
        previous = ""
        for k in range(1, len(msgs) + 1):
            full = tokenizer.apply_chat_template(msgs[:k], tokenize=False)
            if not full.startswith(previous):
                use_template = False  # template is not prefix-stable: fall back to plain form
                break
            pieces.append(full[len(previous) :])
            previous = full
        if use_template and open_reply:
            full = tokenizer.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
            use_template = full.startswith(previous) and len(full) > len(previous)
            pieces.append(full[len(previous) :])
    if not use_template:
        plain = _plain_chat(turns)
        if open_reply:
            plain.append("Assistant:")
        pieces = [p + ("\n" if i < len(plain) - 1 else "") for i, p in enumerate(plain)]
    if open_reply:
        turns = [*turns, Turn("assistant", "")]
    if use_template and turns[0].role != "system":
        default = _template_system(tokenizer, turns[0], pieces[0])
        if default:
            block, system = default
            turns, pieces = [system, *turns], [block, pieces[0][len(block) :], *pieces[1:]]
    segments, pos = [], 0
    for i, (turn, piece) in enumerate(zip(turns, pieces)):
        at = piece.rfind(turn.content) if turn.content else len(piece)
        start = pos + max(at, 0)
        segments.append(Segment(turn.role, pos, pos + len(piece), start, i, start + len(turn.content)))
        pos += len(piece)
    return "".join(pieces), segments
