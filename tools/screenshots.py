"""Regenerate the README's screenshots: start the app, drive Debian's Chromium with Playwright.

Needs `apt-get install chromium` and `pip install playwright` (no `playwright install`:
it uses /usr/bin/chromium). Usage: .venv/bin/python tools/screenshots.py [out_dir]
"""
import socket
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
# (url path, file name, an element that exists once the page has drawn)
SHOTS = [("", "home", "[data-testid='stMetric']"), ("Transcript_viewer", "viewer", "div.el-transcript"),
         ("Emotion_space", "pca", ".js-plotly-plot"), ("Clusters", "umap", ".js-plotly-plot"),
         ("Similarity", "similarity", ".js-plotly-plot"), ("Layers", "layers", ".js-plotly-plot")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    app = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                            "--server.port", str(port), "--server.address", "127.0.0.1"], cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for path, name, ready in SHOTS:
                for _ in range(60):
                    try:
                        page.goto(f"http://127.0.0.1:{port}/{path}", timeout=30_000)
                        break
                    except Exception:
                        time.sleep(1)
                page.wait_for_selector(ready, timeout=240_000)
                time.sleep(4)
                page.screenshot(path=str(out / f"{name}.png"), full_page=False)
                print("saved", out / f"{name}.png")
            browser.close()
    finally:
        app.terminate()
        app.wait(timeout=30)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs")
