"""Drive the app in a real browser: start `streamlit run`, open Debian's Chromium with Playwright.

Needs `apt-get install chromium fonts-noto-cjk fonts-noto-color-emoji` and the `playwright`
package (no `playwright install`: it uses /usr/bin/chromium). Shared by the end-to-end
test, the browser bench and the screenshot tool.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Elements matching a selector anywhere on the page, also inside components' (open) shadow roots.
DEEP_JS = """(sel) => {
  const out = [];
  const walk = (root) => {
    root.querySelectorAll(sel).forEach(e => out.push(e));
    root.querySelectorAll('*').forEach(e => { if (e.shadowRoot) walk(e.shadowRoot); });
  };
  walk(document);
  return out;
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def app_server(model: str | None = None, log: Path | None = None, port: int | None = None, info: dict | None = None):
    """A headless `streamlit run app.py` on a free port (or ``port``); yields its base URL.
    ``info`` receives the server's process id (``pid``), for memory figures."""
    port = port or free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    if model:
        env["EMOTION_LENS_MODEL"] = model
    out = open(log, "w") if log else subprocess.DEVNULL
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    if info is not None:
        info["pid"] = proc.pid
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError("streamlit exited early")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def chromium(width: int = 1400, height: int = 1000):
    """A Playwright page in Debian's Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def _tokens(view: str | None) -> str:
    return f".el-view[data-key='{view}'] .el-tok" if view else ".el-tok"


def deep(page, selector: str, js: str = "e => e"):
    """Evaluate ``js`` on every element matching ``selector``, shadow roots included."""
    return page.evaluate(f"(sel) => ({DEEP_JS})(sel).map({js})", selector)


def token_colours(page, view: str | None = None) -> list[str]:
    """Background of every highlighted token (of one view, by its key), in page order."""
    return deep(page, _tokens(view), "e => e.style.background || e.style.backgroundColor")


def token_texts(page, view: str | None = None) -> list[str]:
    return deep(page, _tokens(view), "e => e.textContent")


def idle(page) -> None:
    """Until Streamlit has finished running the script."""
    page.wait_for_timeout(300)
    page.wait_for_selector("[data-testid='stStatusWidget']", state="detached", timeout=300_000)


def wait_for(predicate, timeout: float = 300, poll: float = 0.02):
    """Poll ``predicate`` until it returns something truthy; its value."""
    end = time.perf_counter() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.perf_counter() > end:
            raise TimeoutError("the page did not get there in time")
        time.sleep(poll)
