"""Browser timings of the transcript viewer, each beside a bare forward pass timed in the same run.

Usage: .venv/bin/python tools/browser_bench.py [--model M] [--out results.json] [--sizes 200,2600]
Measures, in Debian's Chromium against a local `streamlit run`:
  - time to first highlights after pasting a ~200-token and a ~2,600-token transcript,
    against a bare forward pass of the same tokens (goal: ≤ 2× forward + 1 s);
  - switching the highlighted emotion, the colour scale and the smoothing at ~2,600 tokens (goal ≤ 0.3 s);
  - ten layer steps (goal: no model re-run);
  - presentation mode: Next (the ArrowRight key) onto examples not yet shown, to their highlights
    (goal ≤ 1 s: the next slide is read ahead while the current one is shown).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from pathlib import Path

from tools.browser import app_server, chromium, token_colours, token_texts, wait_for


def transcripts(lm, targets=(200, 2600)) -> list[str]:
    """Plain User:/Assistant: transcripts of about the target lengths, built from the examples."""
    from core.alignment import prepare, tokenize
    from core.corpus import load_examples

    turns = [m for ex in load_examples() for m in ex.messages]
    out = []
    for target in targets:
        text, i = "", 0
        while True:
            m = turns[i % len(turns)]
            text += f"{m['role'].title()}: {m['content']}\n"
            i += 1
            n = len(tokenize(lm, *prepare(lm, text))[1])
            if n >= target:
                break
        out.append(text)
    return out


def bare_forward_s(lm, text: str) -> tuple[int, float]:
    import torch

    from core.alignment import prepare, tokenize

    enc = tokenize(lm, *prepare(lm, text))[0]
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        with torch.inference_mode():
            lm.model(**enc, use_cache=False)
        best = min(best, time.perf_counter() - start)
    return enc["input_ids"].shape[1], best


def changed(page, before):
    now = token_colours(page)
    return now if now and now != before else None


def timed(page, action, before) -> float:
    start = time.perf_counter()
    action()
    wait_for(lambda: changed(page, before))
    return time.perf_counter() - start


def component_select(page, name):
    loc = page.locator(f"select.el-{name}")
    return loc if loc.count() else None


def run(model: str, sizes=(200, 2600)) -> dict:
    from core import load_model

    lm = load_model(model)
    short, long = transcripts(lm, sizes)
    sizes = {}
    for label, text in (("short", short), ("long", long)):
        sizes[label] = bare_forward_s(lm, text)
    del lm
    res = {"model": model, "tokens": {k: v[0] for k, v in sizes.items()}, "bare_forward_s": {k: round(v[1], 3) for k, v in sizes.items()}}
    with app_server(model) as url, chromium() as page:
        page.goto(url + "/Transcript_viewer", timeout=120_000)
        wait_for(lambda: token_colours(page), timeout=600)  # the model loaded, an example drawn
        page.get_by_text("Paste", exact=True).click()
        page.locator("textarea").wait_for()
        first = {}
        for label, text in (("short", short), ("long", long)):
            marker = uuid.uuid4().hex[:8]
            text = text + f"User: thanks {marker}\n"  # never cached before
            page.locator("textarea").fill(text)
            start = time.perf_counter()
            page.locator("textarea").press("Control+Enter")
            wait_for(lambda: marker in "".join(token_texts(page)), timeout=600)
            first[label] = round(time.perf_counter() - start, 3)
        res["first_highlights_s"] = first
        res["first_vs_forward"] = {k: round(first[k] / res["bare_forward_s"][k], 2) for k in first}
        time.sleep(1)
        switches = []
        for emotion in ("calm", "desperate", "happy", "angry"):
            before = token_colours(page)
            sel = component_select(page, "emotion")
            if sel:
                switches.append(timed(page, lambda: sel.select_option(emotion), before))
            else:
                box = page.get_by_label("Highlight emotion")

                def pick():
                    box.click()
                    page.keyboard.type(emotion)
                    page.keyboard.press("Enter")

                switches.append(timed(page, pick, before))
        res["switch_emotion_s"] = round(statistics.median(switches), 3)
        sel = component_select(page, "mode")
        before = token_colours(page)
        if sel:
            other = "transcript" if sel.input_value() == "z" else "z"
            res["switch_scale_s"] = round(timed(page, lambda: sel.select_option(other), before), 3)
        else:
            res["switch_scale_s"] = round(timed(page, lambda: page.get_by_text("z (full colour at ±3)").click(), before), 3)
        # the token reading does not depend on the sidebar's layer: colour by the summary reading, which does
        page.get_by_text("the reading and layer above").click()
        time.sleep(1)
        page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=300_000)
        slider = (
            page.get_by_role("slider", name="Layer")
            if page.get_by_role("slider", name="Layer").count()
            else page.locator("[data-testid='stSidebar'] [role='slider']").first
        )
        start = time.perf_counter()
        for _ in range(10):
            before = token_colours(page)
            slider.focus()
            slider.press("ArrowLeft")
            wait_for(lambda: changed(page, before), timeout=120)
        res["ten_layer_steps_s"] = round(time.perf_counter() - start, 2)
        res["next_slide_s"] = next_slides(page)
    return res


def next_slides(page, n: int = 4) -> dict:
    """Median and worst time from ArrowRight to the next slide's highlights, over ``n`` slides."""
    page.get_by_text("Presentation mode").click()
    wait_for(lambda: token_texts(page, "present"), timeout=600)
    time.sleep(3)  # the presenter talks; the next slide is read meanwhile
    times = []
    for _ in range(n):
        shown = "".join(token_texts(page, "present"))
        start = time.perf_counter()
        page.keyboard.press("ArrowRight")
        wait_for(lambda: "".join(token_texts(page, "present")) not in ("", shown), timeout=600)
        times.append(time.perf_counter() - start)
        time.sleep(3)
    return {"median": round(statistics.median(times), 3), "max": round(max(times), 3), "slides": n}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="gemma3-270m")
    ap.add_argument("--out")
    ap.add_argument("--sizes", default="200,2600", help="the short and the long transcript's tokens (the model issue's: 400,2000)")
    args = ap.parse_args()
    res = run(args.model, tuple(int(n) for n in args.sizes.split(",")))
    print(json.dumps(res, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
