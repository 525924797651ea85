"""A corpus of chat transcripts to scan, made from the shipped corpus: each is a neutral dialogue
followed by a user telling one of the stories and the assistant answering with a neutral reply,
so each transcript has one emotional turn. Two malformed records are mixed in (a line cut short
and an unknown role), as real logs have.

    .venv/bin/python -m tools.make_corpus --n 1000 --out corpus.jsonl

Each record: {"id": "t00042", "label": <the story's emotion>, "messages": [...]}; the scan
ignores "label", which is there to check what it finds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from core import corpus


def transcripts(n: int) -> list[dict]:
    stories, dialogues = corpus.load_stories(), corpus.load_neutral()
    out = []
    for i in range(n):
        story = stories[(i * 7919) % len(stories)]  # a stride prime to the corpus size: every emotion, mixed
        talk = dialogues[i % len(dialogues)]
        reply = next(m["content"] for m in dialogues[(i + 1) % len(dialogues)] if m["role"] == "assistant")
        messages = [dict(m) for m in talk] + [{"role": "user", "content": story.text}, {"role": "assistant", "content": reply}]
        out.append({"id": f"t{i:05d}", "label": story.emotion, "messages": messages})
    return out


def write(path: Path, n: int) -> None:
    lines = [json.dumps(t, ensure_ascii=False) for t in transcripts(n)]
    lines.insert(n // 3, '{"id": "bad-cut", "messages": [{"role": "user", "content": "the log was cut he')
    lines.insert(2 * n // 3, json.dumps({"id": "bad-role", "messages": [{"role": "narrator", "content": "Once upon a time."}]}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    write(args.out, args.n)
    print(f"wrote {args.n} transcripts and 2 malformed records to {args.out}")
