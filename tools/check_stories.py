"""Check a new story file against the corpus rules before it joins assets/corpus.

    python3 tools/check_stories.py assets/corpus/stories_08.jsonl

Runs on plain python3 (no venv needed). Checks schema, 60-150 words, the emotion word absent
from its own story, topics from topics.txt and not already used by the same emotion in
another file, first/third-person balance per emotion, and near-duplicates: no story may share
more than 15% of its word 5-grams with any other story or with any validation text.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "assets" / "corpus"
STRICT = 0.15


def _corpus_module():
    """core/corpus.py loaded on its own, so that torch is not needed for the check."""
    import types

    pkg = types.ModuleType("core")
    pkg.__path__ = [str(ROOT / "core")]
    sys.modules.setdefault("core", pkg)
    for name in ("errors", "paths", "corpus"):
        spec = importlib.util.spec_from_file_location(f"core.{name}", ROOT / "core" / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[f"core.{name}"] = mod
        spec.loader.exec_module(mod)
    return sys.modules["core.corpus"]


def validation_texts() -> list[str]:
    root = CORPUS / "validation"
    out = []
    for name in ("implicit.jsonl", "negation.jsonl", "two_person.jsonl"):
        for line in (root / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                obj = json.loads(line)
                out += [obj.get("text", ""), obj.get("positive", ""), obj.get("negated", "")]
                out += [s["text"] for s in obj.get("segments", [])]
    return [t for t in out if t]


def check(path: Path) -> list[str]:
    corpus = _corpus_module()
    emotions, topics = set(corpus.emotions()), set(corpus.topics())
    problems, new = [], []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path.name}:{i}"
        try:
            obj = json.loads(line)
        except ValueError as exc:
            problems.append(f"{where}: invalid JSON ({exc})")
            continue
        if not isinstance(obj, dict) or set(obj) != {"emotion", "topic", "person", "text"}:
            problems.append(f"{where}: keys must be exactly emotion, topic, person, text")
            continue
        if obj["emotion"] not in emotions:
            problems.append(f"{where}: unknown emotion {obj['emotion']!r}")
        if obj["topic"] not in topics:
            problems.append(f"{where}: topic {obj['topic']!r} is not in topics.txt")
        if obj["person"] not in ("first", "third"):
            problems.append(f"{where}: person must be 'first' or 'third'")
        n = len(obj["text"].split())
        if not corpus.MIN_WORDS <= n <= corpus.MAX_WORDS:
            problems.append(f"{where}: {n} words (need {corpus.MIN_WORDS}-{corpus.MAX_WORDS})")
        if corpus.names_own_emotion(obj["emotion"], obj["text"]):
            problems.append(f"{where}: names its own emotion '{obj['emotion']}'")
        new.append((where, obj))
    others = [s for s in corpus.load_stories() if Path(s.where.split(":")[0]).name != path.name]
    used = defaultdict(set)
    for s in others:
        used[s.emotion].add(s.topic)
    seen = defaultdict(set)
    person = defaultdict(Counter)
    for where, obj in new:
        e, t = obj["emotion"], obj["topic"]
        if t in used[e] or t in seen[e]:
            problems.append(f"{where}: topic {t!r} already used for '{e}'")
        seen[e].add(t)
        person[e][obj["person"]] += 1
    for e, c in person.items():
        if abs(c["first"] - c["third"]) > 2:
            problems.append(f"{e}: {c['first']} first-person vs {c['third']} third-person stories (balance them)")
    texts = [obj["text"] for _, obj in new]
    ref = [s.text for s in others] + validation_texts()
    labels = [w for w, _ in new] + [s.where for s in others] + ["validation"] * (len(ref) - len(others))
    for i, j, f in corpus.near_duplicates(texts + ref, STRICT):
        if i < len(texts):
            problems.append(f"{labels[i]} shares {f:.0%} of its 5-grams with {labels[j]}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    problems = check(Path(argv[0]))
    for p in problems:
        print(p)
    counts = Counter(json.loads(l)["emotion"] for l in Path(argv[0]).read_text().splitlines() if l.strip())
    print(f"{sum(counts.values())} stories over {len(counts)} emotions; {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
