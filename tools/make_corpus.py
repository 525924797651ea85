"""Write a corpus of chat transcripts to scan (``core.corpus.write_chat_corpus``): each a neutral
dialogue, a user telling one of the stories and a neutral reply, with two malformed records.

    .venv/bin/python -m tools.make_corpus --n 1000 --out corpus.jsonl
"""

from __future__ import annotations

import argparse
from pathlib import Path

from core.corpus import write_chat_corpus

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    write_chat_corpus(args.out, args.n)
    print(f"wrote {args.n} transcripts and 2 malformed records to {args.out}")
