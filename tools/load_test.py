"""Many users on one server: 8 browser sessions (Playwright contexts) against one `streamlit run`.

Usage: .venv/bin/python -m tools.load_test [--model M] [--tokens 2000] [--out results.json]

Six sessions read different ~2,000-token transcripts in the viewer, one generates a steered and a
plain reply (Steering), one runs the Live monitor. Each runs once alone on a fresh server (the
single-user figures and the reference results), then all eight at once on another fresh server
(so no reading comes from the first one's cache). Reported: per-session latency, p50/p95 against
the single user, the server's peak RSS, who saw "Queued behind", and whether every session's
result equals its run alone (no steering leaks into anyone's reading). Localhost only; it stops
by itself. The test suite runs it (tests/test_load.py).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

from tools.browser import app_server, deep, idle, token_colours, token_texts, wait_for

ENDED = re.compile("reached \\d+ tokens|ended its reply|began another turn|time limit", re.I)  # the page capitalises it


def transcripts(lm, n: int, tokens: int) -> list[str]:
    """``n`` different chats of about ``tokens`` tokens each, from the shipped examples and stories,
    each opened by a line that names it (so a session can tell its own highlights)."""
    from core.alignment import prepare, tokenize
    from core.corpus import load_examples, load_stories

    turns = [(m["role"].title(), m["content"]) for ex in load_examples() for m in ex.messages]
    stories = load_stories()
    out = []
    for k in range(n):
        text, i = f"User: This is transcript number {k + 1}.\n", 0
        while len(tokenize(lm, *prepare(lm, text))[1]) < tokens:
            role, content = turns[(i + 7 * k) % len(turns)]
            story = stories[(37 * k + i) % len(stories)].text
            text += f"{role}: {content} {story}\n" if role == "User" else f"{role}: {content}\n"
            i += 1
        out.append(text)
    return out


class Session:
    """One user: a browser context on one page, an action, and what counts as its result."""

    def __init__(self, kind: str, text: str | None = None):
        self.kind, self.text, self.page = kind, text, None
        self.started = self.latency = self.result = None
        self.queued = False

    def open(self, browser, url: str) -> None:
        self.page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        path, ready = {
            "viewer": ("Transcript_viewer", lambda: token_texts(self.page, "viewer")),
            "steering": ("Steering", lambda: self.page.get_by_role("button", name="Generate both").count()),
            "live": ("Live", lambda: self.page.get_by_role("button", name="Start").count()),
        }[self.kind]
        self.page.goto(f"{url}/{path}", timeout=300_000)
        wait_for(ready, timeout=600)
        idle(self.page)
        if self.kind == "viewer":
            self.page.get_by_text("Paste", exact=True).click()
            self.page.locator("textarea").fill(self.text)

    def start(self) -> None:
        self.started = time.perf_counter()
        if self.kind == "viewer":
            self.page.locator("textarea").press("Control+Enter")
        else:
            self.page.get_by_role("button", name="Generate both" if self.kind == "steering" else "Start").click()

    def look(self) -> None:
        """Note whether the page tells its user they wait behind others (cheap: runs every round)."""
        if self.latency is None and not self.queued:
            self.queued = self.page.evaluate("document.body.innerText.includes('Queued behind')")

    def poll(self) -> bool:
        """True once the result is on the page (and recorded)."""
        if self.latency is not None:
            return True
        if self.kind == "viewer":
            name = self.text.split("\n", 1)[0].split("User: ", 1)[1]
            done = name in "".join(token_texts(self.page, "viewer")[:40])
            result = token_colours(self.page, "viewer") if done else None
        elif self.kind == "steering":
            views = [token_texts(self.page, v) for v in ("steer_base", "steer_steered")]
            done = all(views)
            result = views
        else:
            done = bool(self.page.get_by_text(ENDED).count())
            result = deep(self.page, ".el-live .el-tok", "e => e.textContent") if done else None
        if done:
            self.latency, self.result = time.perf_counter() - self.started, result
        return done

    def close(self) -> None:
        self.page.context.close()


def peak_rss_mb(pid: int) -> float:
    """The server's peak resident memory (VmHWM), its model included."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status)[1]) / 1024


def phase(
    browser, model: str, specs: list[tuple[str, str | None]], together: bool, log: Path | None, shot: Path | None = None
) -> tuple[list[Session], float]:
    info: dict = {}
    with app_server(model, log=log, info=info) as url:
        sessions = [Session(kind, text) for kind, text in specs]
        for s in sessions:
            s.open(browser, url)
        print(f"{len(sessions)} sessions open; {'all at once' if together else 'one at a time'}", file=sys.stderr, flush=True)
        deadline = time.perf_counter() + 900
        if together:
            for s in sessions:
                s.start()
            while True:
                for s in sessions:
                    s.look()
                    if shot and s.queued and not shot.exists():  # what a waiting user sees
                        s.page.screenshot(path=str(shot))
                if all([s.poll() for s in sessions]):  # a list: every session is polled every round
                    break
                if time.perf_counter() > deadline:
                    raise TimeoutError("not every session finished in 15 minutes")
                time.sleep(0.05)
        else:
            for s in sessions:
                s.start()
                wait_for(s.poll, timeout=600, poll=0.05)
        rss = peak_rss_mb(info["pid"])
        for s in sessions:
            s.close()
    return sessions, rss


def run(
    model: str = "smollm2-135m-instruct", tokens: int = 2000, viewers: int = 6, log: Path | None = None, shot: Path | None = None
) -> dict:
    from core import load_model
    from tools.browser import CHROMIUM, FLAGS

    lm = load_model(model)
    specs = [("viewer", t) for t in transcripts(lm, viewers, tokens)] + [("steering", None), ("live", None)]
    del lm
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            alone, rss_alone = phase(browser, model, specs, together=False, log=log)
            together, rss_together = phase(browser, model, specs, together=True, log=log, shot=shot)
        finally:
            browser.close()
    single = [s.latency for s in alone if s.kind == "viewer"]
    many = [s.latency for s in together if s.kind == "viewer"]
    p95 = lambda xs: sorted(xs)[max(0, round(0.95 * len(xs)) - 1)]
    return {
        "model": model,
        "sessions": len(specs),
        "viewer_tokens": tokens,
        "single_user_s": {"p50": statistics.median(single), "p95": p95(single)},
        "eight_users_s": {"p50": statistics.median(many), "p95": p95(many)},
        "p50_ratio": statistics.median(many) / statistics.median(single),
        "p95_ratio": p95(many) / statistics.median(single),
        "per_session": [
            {
                "kind": a.kind,
                "alone_s": round(a.latency, 2),
                "together_s": round(b.latency, 2),
                "queued": b.queued,
                "same": a.result == b.result,
            }
            for a, b in zip(alone, together)
        ],
        "all_results_equal_alone": all(a.result == b.result for a, b in zip(alone, together)),
        "saw_queued": sum(b.queued for b in together),
        "peak_rss_mb": {"alone": round(rss_alone), "eight_users": round(rss_together)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--tokens", type=int, default=2000)
    parser.add_argument("--out", default=None)
    parser.add_argument("--log", default=None, help="the server's output")
    args = parser.parse_args()
    results = run(args.model, args.tokens, log=Path(args.log) if args.log else None)
    text = json.dumps(results, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
