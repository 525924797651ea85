"""The hand-written corpus in ``assets/corpus``: loading, schema checks and quality checks.

Every loader raises ``CorpusError`` naming the file and line, so a broken contribution is
found at once rather than as a strange vector later.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations
from pathlib import Path

from .errors import EmotionLensError
from .paths import CORPUS, EXAMPLES

MIN_STORIES = 8
MIN_WORDS, MAX_WORDS = 60, 150
MIN_NEUTRAL = 120
ROLES = ("system", "user", "assistant")
# Senses of an emotion word that are not the emotion ("a kind of", "the patient").
OTHER_SENSES = {
    "kind": r"\b(?:kinds? of|a kind|this kind|that kind|what kind|any kind|some kind|one kind|the kind|mankind|humankind)\b",
    "patient": r"\b(?:a|the|my|his|her|each|every|new|next|another|one|first|last|young|elderly|old) patients?\b|\bpatients\b",
    "safe": r"\b(?:a|the|wall|hotel) safe\b",
    "content": r"\b(?:the|its|table of) contents?\b",
    "alert": r"\b(?:an|the|weather|flood|storm|email) alerts?\b",
}


class CorpusError(EmotionLensError):
    pass


@dataclass(frozen=True)
class Story:
    emotion: str
    topic: str
    person: str
    text: str
    where: str  # "file:line", for messages

    @property
    def n_words(self) -> int:
        return len(self.text.split())


@dataclass(frozen=True)
class FormatItem:
    """A first-person chat message or a two-speaker dialogue that implies one emotion."""

    emotion: str
    format: str  # "chat" or "dialogue"
    text: str
    where: str


@dataclass(frozen=True)
class Example:
    slug: str
    title: str
    caption: str
    messages: tuple


def _lines(path: Path) -> list[str]:
    return [l.strip() for l in path.read_text(encoding="utf-8").splitlines() if l.strip()]


@lru_cache(maxsize=None)
def emotions() -> tuple[str, ...]:
    return tuple(_lines(CORPUS / "emotions.txt"))


@lru_cache(maxsize=None)
def topics() -> tuple[str, ...]:
    return tuple(_lines(CORPUS / "topics.txt"))


def _jsonl(path: Path):
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise CorpusError(f"{path.name}:{i}: invalid JSON ({exc})") from None
        if not isinstance(obj, dict):
            raise CorpusError(f"{path.name}:{i}: expected a JSON object")
        yield f"{path.name}:{i}", obj


def story_files(root: Path = CORPUS) -> list[Path]:
    return sorted(root.glob("stories*.jsonl"))


def load_stories(root: Path = CORPUS) -> list[Story]:
    known, topic_set = set(emotions()), set(topics())
    out = []
    for path in story_files(root):
        for where, obj in _jsonl(path):
            if set(obj) != {"emotion", "topic", "person", "text"}:
                raise CorpusError(f"{where}: keys must be emotion, topic, person, text")
            if obj["emotion"] not in known:
                raise CorpusError(f"{where}: unknown emotion {obj['emotion']!r}")
            if obj["topic"] not in topic_set:
                raise CorpusError(f"{where}: topic {obj['topic']!r} is not in topics.txt")
            if obj["person"] not in ("first", "third"):
                raise CorpusError(f"{where}: person must be 'first' or 'third'")
            if not isinstance(obj["text"], str) or not obj["text"].strip():
                raise CorpusError(f"{where}: empty text")
            out.append(Story(obj["emotion"], obj["topic"], obj["person"], obj["text"].strip(), where))
    if not out:
        raise CorpusError(f"no stories found in {root} (stories*.jsonl)")
    return out


def load_formats(root: Path = CORPUS) -> list[FormatItem]:
    """The chat messages and dialogues (``formats*.jsonl``) that teach the token-level reading
    how emotion reads in first and second person, not only in stories."""
    known = set(emotions())
    out = []
    for path in sorted(root.glob("formats*.jsonl")):
        for where, obj in _jsonl(path):
            if set(obj) != {"emotion", "format", "text"} or obj["format"] not in ("chat", "dialogue"):
                raise CorpusError(f"{where}: keys must be emotion, format (chat or dialogue), text")
            if obj["emotion"] not in known:
                raise CorpusError(f"{where}: unknown emotion {obj['emotion']!r}")
            if not isinstance(obj["text"], str) or not obj["text"].strip():
                raise CorpusError(f"{where}: empty text")
            out.append(FormatItem(obj["emotion"], obj["format"], obj["text"].strip(), where))
    return out


def check_messages(messages, where: str) -> list[dict]:
    if not isinstance(messages, list) or not messages:
        raise CorpusError(f"{where}: 'messages' must be a non-empty list")
    for m in messages:
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise CorpusError(f"{where}: each message needs a role ({', '.join(ROLES)}) and text content")
    return messages


def load_neutral(root: Path = CORPUS) -> list[list[dict]]:
    out = []
    for path in sorted(root.glob("neutral*.jsonl")):
        for where, obj in _jsonl(path):
            out.append(check_messages(obj.get("messages"), where))
    return out


def load_examples(root: Path = EXAMPLES) -> list[Example]:
    out = []
    for path in sorted(root.glob("*.json")):
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise CorpusError(f"{path.name}: invalid JSON ({exc})") from None
        for key in ("title", "caption", "messages"):
            if key not in obj:
                raise CorpusError(f"{path.name}: missing '{key}'")
        out.append(Example(path.stem, obj["title"], obj["caption"], tuple(check_messages(obj["messages"], path.name))))
    return out


# --- validation set -------------------------------------------------------------------


@dataclass
class ValidationSet:
    implicit: list[dict] = field(default_factory=list)  # {emotion, text}
    sweeps: list[dict] = field(default_factory=list)  # {name, template, values, rising, falling}
    negation: list[dict] = field(default_factory=list)  # {emotion, positive, negated}
    two_person: list[dict] = field(default_factory=list)  # {segments: [{person, emotion, text}]}
    embedded: list[dict] = field(default_factory=list)  # {emotion, form, before, sentence, after}
    neutral_chats: list[list[dict]] = field(default_factory=list)  # messages


def _known(emotion, where):
    if emotion not in set(emotions()):
        raise CorpusError(f"{where}: unknown emotion {emotion!r}")
    return emotion


def load_validation(root: Path = CORPUS / "validation") -> ValidationSet:
    vs = ValidationSet()
    for where, obj in _jsonl(root / "implicit.jsonl"):
        _known(obj.get("emotion"), where)
        if not isinstance(obj.get("text"), str):
            raise CorpusError(f"{where}: missing text")
        vs.implicit.append(obj)
    try:
        sweeps = json.loads((root / "sweeps.json").read_text(encoding="utf-8"))
    except ValueError as exc:
        raise CorpusError(f"sweeps.json: invalid JSON ({exc})") from None
    for i, s in enumerate(sweeps):
        where = f"sweeps.json[{i}]"
        if "{X}" not in s.get("template", "") or len(s.get("values", [])) < 3:
            raise CorpusError(f"{where}: needs a template with {{X}} and at least 3 values")
        for e in s.get("rising", []) + s.get("falling", []):
            _known(e, where)
        if not (s.get("rising") or s.get("falling")):
            raise CorpusError(f"{where}: names no rising or falling emotion")
        vs.sweeps.append(s)
    for where, obj in _jsonl(root / "negation.jsonl"):
        _known(obj.get("emotion"), where)
        if not (isinstance(obj.get("positive"), str) and isinstance(obj.get("negated"), str)):
            raise CorpusError(f"{where}: needs 'positive' and 'negated' texts")
        vs.negation.append(obj)
    for where, obj in _jsonl(root / "two_person.jsonl"):
        segs = obj.get("segments")
        if not isinstance(segs, list) or len(segs) < 2:
            raise CorpusError(f"{where}: needs at least two segments")
        for s in segs:
            _known(s.get("emotion"), where)
        vs.two_person.append(obj)
    for path in sorted(root.glob("embedded*.jsonl")):
        for where, obj in _jsonl(path):
            _known(obj.get("emotion"), where)
            if obj.get("form") not in ("plain", "chat") or not all(
                isinstance(obj.get(k), str) and obj[k].strip() for k in ("before", "sentence", "after")
            ):
                raise CorpusError(f"{where}: needs form (plain or chat), before, sentence and after")
            vs.embedded.append(obj)
    if (root / "neutral_chats.jsonl").exists():
        for where, obj in _jsonl(root / "neutral_chats.jsonl"):
            vs.neutral_chats.append(check_messages(obj.get("messages"), where))
    return vs


# --- quality checks -------------------------------------------------------------------


def names_own_emotion(emotion: str, text: str) -> bool:
    """Whether the story uses its own emotion word (other senses such as "a kind of" aside)."""
    text = text.lower()
    if emotion in OTHER_SENSES:
        text = re.sub(OTHER_SENSES[emotion], " ", text)
    return re.search(r"(?<![\w-])" + re.escape(emotion) + r"(?![\w-])", text) is not None


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def five_grams(text: str) -> set[tuple]:
    w = _words(text)
    return {tuple(w[i : i + 5]) for i in range(len(w) - 4)}


def near_duplicates(texts: list[str], threshold: float = 0.5) -> list[tuple[int, int, float]]:
    """Pairs sharing more than ``threshold`` of the smaller text's word 5-grams."""
    grams = [five_grams(t) for t in texts]
    index = defaultdict(list)
    for i, g in enumerate(grams):
        for gram in g:
            index[gram].append(i)
    shared: Counter[tuple[int, int]] = Counter()
    for ids in index.values():
        if len(ids) > 1:
            for i, j in combinations(ids, 2):
                shared[i, j] += 1
    out: list[tuple[int, int, float]] = []
    for (i, j), n in shared.items():
        frac = n / max(1, min(len(grams[i]), len(grams[j])))
        if frac > threshold:
            out.append((i, j, frac))
    return out


@dataclass
class CorpusReport:
    n_stories: int
    n_words: int
    per_emotion: dict
    own_word: list
    short_or_long: list
    duplicates: list
    n_neutral: int
    problems: list

    @property
    def own_word_rate(self) -> float:
        return len(self.own_word) / max(1, self.n_stories)


def check_corpus(root: Path = CORPUS) -> CorpusReport:
    """Counts and quality figures over the shipped corpus; ``problems`` lists what fails the bar."""
    stories = load_stories(root)
    per = Counter(s.emotion for s in stories)
    problems = []
    if list(emotions()) != _lines(root / "emotions.txt") or len(emotions()) != 171:
        problems.append("emotions.txt must list the 171 emotions")
    for e in emotions():
        if per[e] < MIN_STORIES:
            problems.append(f"{e}: {per[e]} stories (need {MIN_STORIES})")
    own = [s.where for s in stories if names_own_emotion(s.emotion, s.text)]
    bad_len = [s.where for s in stories if not MIN_WORDS <= s.n_words <= MAX_WORDS]
    dups = [(stories[i].where, stories[j].where, round(f, 2)) for i, j, f in near_duplicates([s.text for s in stories])]
    if len(own) > 0.03 * len(stories):
        problems.append(f"{len(own)} stories name their own emotion (more than 3%)")
    problems += [f"{w}: not {MIN_WORDS}-{MAX_WORDS} words" for w in bad_len]
    problems += [f"{a} and {b} share {f:.0%} of their 5-grams" for a, b, f in dups]
    neutral = load_neutral(root)
    if len(neutral) < MIN_NEUTRAL:
        problems.append(f"{len(neutral)} neutral dialogues (need {MIN_NEUTRAL})")
    return CorpusReport(len(stories), sum(s.n_words for s in stories), dict(per), own, bad_len, dups, len(neutral), problems)


def corpus_hash(root: Path = CORPUS) -> str:
    """Hash of everything the build reads; vectors record it to detect a changed corpus."""
    digest = hashlib.sha256()
    for path in [root / "emotions.txt", *story_files(root), *sorted(root.glob("neutral*.jsonl"))]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def chat_corpus(n: int) -> list[dict]:
    """``n`` chat transcripts made from this corpus, for scanning: each is a neutral dialogue, then
    a user telling one story and the assistant answering with another dialogue's neutral reply.
    Stories are taken at a stride prime to their number, so every emotion comes up, mixed. Each
    record carries its story's emotion as "label", which a scan ignores."""
    stories, dialogues = load_stories(), load_neutral()
    out = []
    for i in range(n):
        story = stories[(i * 7919) % len(stories)]
        talk = dialogues[i % len(dialogues)]
        reply = next(m["content"] for m in dialogues[(i + 1) % len(dialogues)] if m["role"] == "assistant")
        messages = [dict(m) for m in talk] + [{"role": "user", "content": story.text}, {"role": "assistant", "content": reply}]
        out.append({"id": f"t{i:05d}", "label": story.emotion, "messages": messages})
    return out


def write_chat_corpus(path: Path, n: int) -> None:
    """``chat_corpus(n)`` as JSONL, with two malformed records mixed in as real logs have them:
    a line cut short (a third of the way) and an unknown role (two thirds)."""
    lines = [json.dumps(t, ensure_ascii=False) for t in chat_corpus(n)]
    lines.insert(n // 3, '{"id": "bad-cut", "messages": [{"role": "user", "content": "the log was cut he')
    lines.insert(2 * n // 3, json.dumps({"id": "bad-role", "messages": [{"role": "narrator", "content": "Once upon a time."}]}))
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
