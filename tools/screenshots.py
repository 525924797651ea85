"""Regenerate the README's screenshots: start the app, drive Debian's Chromium with Playwright.

Needs `apt-get install chromium fonts-noto-cjk fonts-noto-color-emoji` and the `playwright`
package (in requirements.txt). Usage: .venv/bin/python tools/screenshots.py [out_dir]
"""

import sys
import time
from pathlib import Path

from tools.browser import ROOT, app_server, chromium, token_texts, wait_for

# (url path, file name, ready when this returns something truthy)
SHOTS = [
    ("", "home", lambda p: p.locator("[data-testid='stMetric']").count()),
    ("Transcript_viewer", "viewer", lambda p: token_texts(p, "viewer")),
    ("Emotion_space", "pca", lambda p: p.locator(".js-plotly-plot").count()),
    ("Clusters", "umap", lambda p: p.locator(".js-plotly-plot").count()),
    ("Similarity", "similarity", lambda p: p.locator(".js-plotly-plot").count()),
    ("Layers", "layers", lambda p: p.locator(".js-plotly-plot").count()),
]


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with app_server() as url, chromium() as page:
        for path, name, ready in SHOTS:
            page.goto(f"{url}/{path}", timeout=120_000)
            wait_for(lambda: ready(page), timeout=600)
            time.sleep(4)
            page.screenshot(path=str(out / f"{name}.png"), full_page=False)
            print("saved", out / f"{name}.png")
        page.goto(f"{url}/Transcript_viewer", timeout=120_000)
        wait_for(lambda: token_texts(page, "viewer"), timeout=600)
        page.get_by_text("Presentation mode").click()
        wait_for(lambda: token_texts(page, "present"), timeout=600)
        time.sleep(4)
        page.screenshot(path=str(out / "presentation.png"), full_page=False)
        print("saved", out / "presentation.png")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs")
