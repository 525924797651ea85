"""End to end in a real browser: `streamlit run app.py` driven through Debian's Chromium.

Skipped where Chromium or Playwright is missing, unless EMOTION_LENS_REQUIRE_BROWSER=1
(set by .ci/run, which installs them), where a missing browser fails. Screenshots are kept
in tests/artifacts/ (or $EMOTION_LENS_ARTIFACTS).
"""

import os
import re
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT

if not os.environ.get("EMOTION_LENS_REQUIRE_BROWSER"):
    pytest.importorskip("playwright", reason="pip install playwright")
from tools.browser import CHROMIUM, app_server, chromium, deep, idle, token_colours, token_texts, wait_for  # noqa: E402

if not Path(CHROMIUM).exists():
    if os.environ.get("EMOTION_LENS_REQUIRE_BROWSER"):
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium fonts-noto-cjk fonts-noto-color-emoji")
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)

MODEL = "smollm2-135m-instruct"
ARTIFACTS = Path(os.environ.get("EMOTION_LENS_ARTIFACTS", ROOT / "tests" / "artifacts"))
PAGES = {
    "": "Emotion Lens",
    "Transcript_viewer": "Transcript viewer",
    "Emotion_space": "Emotion space (PCA)",
    "Clusters": "Clusters (UMAP + k-means)",
    "Similarity": "Similarity between emotions",
    "Layers": "Across layers",
    "Logit_lens": "Logit lens",
    "Compare_models": "Compare models",
    "Steering": "Steering",
    "Live": "Live monitoring",
    "Corpus": "Corpus",
}
MIXED = "User: 明日の手術が怖い。Die Ärzte sagen, alles wird gut 🎉🥳\nAssistant: 大丈夫です。Viel Glück! 👍"
HOSTILE = (
    "User: <img src=x onerror=alert(1)> </div><script>alert(2)</script> "
    '<a href="javascript:alert(3)">click</a>\nAssistant: I will not run that.'
)


@pytest.fixture(scope="module")
def page():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with app_server(MODEL, log=ARTIFACTS / "server.log") as url, chromium() as pg:
        pg.base_url = url
        pg.problems = []
        pg.dialogs = []
        pg.on("pageerror", lambda e: pg.problems.append(str(e)))
        pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
        yield pg


def shot(page, name):
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def open_page(page, path, ready):
    page.goto(f"{page.base_url}/{path}", timeout=120_000)
    wait_for(ready, timeout=600)


def paste(page, text):
    page.get_by_text("Paste", exact=True).click()
    box = page.locator("textarea")
    box.fill(text)
    box.press("Control+Enter")


def alpha(css: str) -> tuple[str, float]:
    """('red'|'blue'|'none', alpha) of an rgba() background."""
    m = re.match(r"rgba?\((\d+),\s*(\d+),\s*(\d+)(?:,\s*([\d.]+))?\)", css)
    r, a = int(m.group(1)), float(m.group(4) if m.group(4) is not None else 1)
    return ("red" if r == 178 else "blue") if a > 0 else "none", a


def signed(css: list[str]) -> np.ndarray:
    return np.array([(-1 if k == "blue" else 1) * a / 0.85 for k, a in map(alpha, css)])


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_opens_without_an_exception(page, path):
    title = PAGES[path]
    open_page(page, path, lambda: page.get_by_role("heading", name=title).count())
    idle(page)
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator("[data-testid='stSidebarNav'] a").first.inner_text().split()[-1] == "Home"
    if path not in ("", "Transcript_viewer", "Steering", "Live", "Corpus"):  # these wait for a click or a folder
        wait_for(lambda: page.locator(".js-plotly-plot").count(), timeout=300)
    shot(page, f"page-{path or 'home'}")
    assert not page.problems, page.problems


def test_mixed_scripts_show_each_character_once_and_colours_match_python(page, lm, ev):
    from core import score
    from core.render import display_values

    open_page(page, "Transcript_viewer", lambda: token_texts(page, "viewer"))
    paste(page, MIXED)
    wait_for(lambda: "Viel" in "".join(token_texts(page, "viewer")), timeout=300)
    shown = "".join(token_texts(page, "viewer"))
    for word in ("明日の手術が怖い", "Ärzte", "🎉🥳", "大丈夫です", "Glück", "👍"):
        assert shown.count(word) == 1, (word, shown)
    ts = score(lm, ev, MIXED)
    # grey tokens (chat markers, the sink) are uncoloured: NaN in Python, transparent in the browser
    assert np.abs(signed(token_colours(page, "viewer")) - np.nan_to_num(display_values(ts, "afraid"))).max() < 0.01
    # switching in the browser recolours exactly as Python would, without the model; each choice
    # is reported back to the app (exports follow it), so a short rerun follows each: let it end
    for name, value in (("emotion", "calm"), ("mode", "z"), ("smooth", "5")):
        page.locator(f".el-view[data-key='viewer'] select.el-{name}").select_option(value)
        idle(page)
    expected = np.nan_to_num(display_values(ts, "calm", "z", 5))
    wait_for(lambda: np.abs(signed(token_colours(page, "viewer")) - expected).max() < 0.01, timeout=10)
    page.locator(".el-view[data-key='viewer'] .el-turn.user .el-tok:not(.el-hdr)").nth(2).hover()
    card = page.locator(".el-view[data-key='viewer'] .el-card")
    wait_for(lambda: card.is_visible(), timeout=5)
    text = card.inner_text()  # read once: the card can close between two reads
    assert "calm" in text and "highest z here" in text
    shot(page, "viewer-mixed-scripts")
    assert not page.problems, page.problems


def test_a_hostile_transcript_stays_text(page):
    open_page(page, "Transcript_viewer", lambda: token_texts(page, "viewer"))
    paste(page, HOSTILE)
    wait_for(lambda: "onerror" in "".join(token_texts(page, "viewer")), timeout=300)
    idle(page)
    page.wait_for_timeout(500)
    shown = "".join(token_texts(page, "viewer"))
    assert "<img src=x onerror=alert(1)>" in shown and "</div><script>alert(2)</script>" in shown
    assert not deep(page, "img[src='x'], a[href^='javascript']", "e => e.outerHTML")
    assert not page.dialogs, page.dialogs
    shot(page, "viewer-hostile")


def test_compare_draws_a_negative_side(page):
    open_page(page, "Transcript_viewer", lambda: token_texts(page, "viewer"))
    page.get_by_role("tab", name="Compare").click()
    xs = wait_for(
        lambda: page.evaluate("""() => {
        for (const gd of document.querySelectorAll('.js-plotly-plot')) {
            const t = gd.layout && gd.layout.title && gd.layout.title.text;
            if (t && t.includes('right minus left') && gd.data.length) return Array.from(gd.data[0].x);
        }
        return null; }"""),
        timeout=120,
    )
    assert min(xs) < 0 < max(xs)
    assert token_texts(page, "cmp_a") and token_texts(page, "cmp_b")
    idle(page)
    shot(page, "viewer-compare")


def test_presentation_mode_shows_a_pasted_transcript(page):
    open_page(page, "Transcript_viewer", lambda: token_texts(page, "viewer"))
    paste(page, "User: My cat died this morning and I can't stop crying.\nAssistant: I'm so sorry.")
    wait_for(lambda: "crying" in "".join(token_texts(page, "viewer")), timeout=300)
    idle(page)
    page.get_by_text("Presentation mode").click()
    wait_for(lambda: "crying" in "".join(token_texts(page, "present")), timeout=300)
    assert page.get_by_role("heading", name="Your transcript").count() == 1
    assert not page.locator("[data-testid='stSidebar']").is_visible()
    assert not any(deep(page, ".el-view[data-key='present'] .el-hdr", "e => e.offsetParent !== null"))
    legend = deep(page, ".el-view[data-key='present'] .el-legend-text", "e => e.textContent")[0]
    assert "stronger than in typical text" in legend and "percentile" not in legend
    idle(page)
    shot(page, "presentation-own-transcript")
    page.get_by_role("button", name=re.compile("Next")).click()
    wait_for(lambda: page.get_by_role("heading", name="Your transcript").count() == 0, timeout=120)
    wait_for(lambda: token_texts(page, "present") and "crying" not in "".join(token_texts(page, "present")), timeout=300)
    idle(page)
    shot(page, "presentation-next")
    page.get_by_role("button", name="Exit").click()
    wait_for(lambda: page.locator("[data-testid='stSidebar']").is_visible(), timeout=60)


def test_the_exported_page_works_offline_and_recolours(page, lm, ev, tmp_path):
    from core import score
    from core.render import display_values, highlight_payload, interactive_html

    ts = score(lm, ev, HOSTILE)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "export.html"
    path.write_text(interactive_html("Emotion Lens export", highlight_payload(ts, "afraid", key="export")))
    pg = page.context.browser.new_page()  # the same browser, a fresh tab
    try:
        dialogs, requests = [], []
        pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        pg.on("request", lambda r: requests.append(r.url))
        pg.goto(path.as_uri())
        assert "".join(token_texts(pg, "export")) == "".join(ts.tokens)
        assert np.abs(signed(token_colours(pg, "export")) - np.nan_to_num(display_values(ts, "afraid"))).max() < 0.01
        pg.locator("select.el-emotion").select_option("calm")
        expected = np.nan_to_num(display_values(ts, "calm"))
        wait_for(lambda: np.abs(signed(token_colours(pg, "export")) - expected).max() < 0.01, timeout=10)
        assert not dialogs and not deep(pg, "img[src='x']")
        assert requests == [path.as_uri()]  # nothing fetched: it works offline
        pg.screenshot(path=str(ARTIFACTS / "export-offline.png"), full_page=True)
    finally:
        pg.close()


def test_steering_read_back_recolours_both_replies_over_a_choice_made_in_the_browser(page):
    open_page(page, "Steering", lambda: page.get_by_role("button", name="Generate both").count())
    idle(page)
    steer = page.locator("div[data-testid='stMultiSelect'] input").first
    steer.click()
    steer.type("sad", delay=50)
    page.get_by_role("option", name="sad", exact=True).click()
    page.keyboard.press("Escape")
    idle(page)
    page.get_by_role("button", name="Generate both").click()
    views = ("steer_base", "steer_steered")
    emotion = lambda: [deep(page, f".el-view[data-key='{v}']", "e => e.dataset.emotion") for v in views]
    wait_for(lambda: emotion() == [["calm"], ["calm"]], timeout=300)  # calm and sad start equal: the first
    page.locator(".el-view[data-key='steer_base'] select.el-emotion").select_option("afraid")
    wait_for(lambda: emotion() == [["afraid"], ["calm"]], timeout=10)
    idle(page)
    read_back, listbox = page.get_by_role("combobox", name="Read back"), page.get_by_role("listbox")

    def opened():
        if not listbox.count():
            read_back.click()
            read_back.press("ArrowDown")
            page.wait_for_timeout(300)
        return listbox.count()

    wait_for(opened, timeout=60)
    listbox.get_by_role("option", name="sad", exact=True).click()
    wait_for(lambda: emotion() == [["sad"], ["sad"]], timeout=120)  # the app's new question wins
    idle(page)
    shot(page, "steering-read-back")
    assert not page.problems, page.problems


def test_token_level_views_of_the_medical_example(page):
    """The issue's walk-through: the medical chat for afraid and relieved, three hover cards,
    Top emotions, and Live's default watch-list on a neutral prompt. Screenshots are kept."""
    open_page(page, "Transcript_viewer", lambda: token_texts(page, "viewer"))
    page.get_by_role("combobox", name="Example transcript").click()
    page.get_by_role("option", name="A medical scare, then relief").click()
    wait_for(lambda: "benign" in "".join(token_texts(page, "viewer")), timeout=300)
    idle(page)
    view = ".el-view[data-key='viewer']"
    markers = deep(page, f"{view} .el-hdr", "e => e.style.background")
    assert markers and all(alpha(m)[1] == 0 for m in markers)  # markers are never coloured
    shot(page, "medical-afraid")
    page.locator(f"{view} select.el-emotion").select_option("relieved")
    wait_for(lambda: deep(page, view, "e => e.dataset.emotion") == ["relieved"], timeout=10)
    shot(page, "medical-relieved")
    for k, word in enumerate(("scared", "怖", "🎉")):
        page.locator(f"{view} .el-tok:not(.el-hdr)", has_text=word).first.hover()
        card = page.locator(f"{view} .el-card")
        wait_for(lambda: card.is_visible(), timeout=5)
        assert "family ·" in card.inner_text() and "highest z here" in card.inner_text()
        shot(page, f"medical-hover-{k + 1}")
    page.get_by_role("tab", name="Top emotions").click()
    wait_for(lambda: page.locator("[data-testid='stTable']").count(), timeout=60)
    idle(page)
    assert page.get_by_role("combobox", name="Turn").input_value().startswith("2. User")  # the first user turn
    assert "lowest (mean z)" in page.locator("[data-testid='stTable']").inner_text()
    shot(page, "medical-top-emotions")
    open_page(page, "Live", lambda: page.get_by_role("button", name="Start").count())
    idle(page)
    page.locator("textarea").fill("User: What is the capital of France, and how many people live there?")
    page.get_by_role("button", name="Start").click()
    wait_for(lambda: page.get_by_text(re.compile("reached 60 tokens|ended its reply")).count(), timeout=300)
    idle(page)
    shot(page, "live-neutral-prompt")
    assert not page.problems, page.problems


# --- presenter-ready (each "wrong today" item, and a presenter's script) -----------------------------------
PASTE = "User: My cat died this morning and I can't stop crying.\nAssistant: I'm so sorry. That is a painful loss."


def sliders(page) -> list[str]:
    return [s.input_value() for s in page.locator("[data-testid='stSidebar'] input[type=range]").all()]


def test_geometry_layer_and_k_follow_you_between_pages(page):
    open_page(page, "Similarity", lambda: page.locator(".js-plotly-plot").count())
    idle(page)
    layer, k = page.locator("[data-testid='stSidebar'] input[type=range]").all()[:2]
    layer.focus()
    for _ in range(3):
        page.keyboard.press("ArrowLeft")
    idle(page)
    k.focus()
    page.keyboard.press("ArrowLeft")
    chosen = sliders(page)[:2]
    assert chosen != ["0", "2"]
    # the app has the new values once the heatmap's caption names them (a slider sends after a pause)
    title = lambda: page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].map(g => g.layout.title.text).join(' ')")
    wait_for(lambda: f"layer {chosen[0]}/" in title() and f"(k={chosen[1]})" in title(), timeout=120)
    idle(page)
    for path, title in (("Clusters", "Clusters (UMAP + k-means)"), ("Logit_lens", "Logit lens")):
        page.locator(f"[data-testid='stSidebarNav'] a[href$='/{path}']").click()
        wait_for(lambda: page.get_by_role("heading", name=title).count(), timeout=120)
        idle(page)
        page.wait_for_timeout(500)
        assert sliders(page)[: 1 if path == "Logit_lens" else 2] == chosen[: 1 if path == "Logit_lens" else 2], path
    assert not page.problems, page.problems


def test_a_presenters_script(page):
    """Paste, read, present, three slides on by ArrowRight, exit: the paste and its highlights are still there."""
    page.set_viewport_size({"width": 1280, "height": 720})
    try:
        open_page(page, "Transcript_viewer", lambda: token_texts(page, "viewer"))
        page.get_by_text("Paste", exact=True).click()
        page.locator("textarea").fill(PASTE)
        page.get_by_role("button", name="Read the transcript").click()
        wait_for(lambda: "crying" in "".join(token_texts(page, "viewer")), timeout=300)
        idle(page)
        page.get_by_text("Presentation mode").click()
        wait_for(lambda: "crying" in "".join(token_texts(page, "present")), timeout=300)
        idle(page)
        shot(page, "presentation-1280x720")
        prev = page.locator(".st-key-prev button")
        box = prev.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 1280 and prev.inner_text().strip().endswith("Previous")
        for _ in range(3):
            before = page.locator(".st-key-present_bar h3").inner_text()
            page.keyboard.press("ArrowRight")
            wait_for(lambda: page.locator(".st-key-present_bar h3").inner_text() != before, timeout=120)
            wait_for(lambda: token_texts(page, "present"), timeout=120)
            idle(page)
        page.mouse.move(640, 500)
        page.mouse.wheel(0, 1500)
        page.wait_for_timeout(500)
        nxt = page.locator(".st-key-next button").bounding_box()
        assert 0 <= nxt["y"] and nxt["y"] + nxt["height"] <= 720  # Previous/Next stay on screen
        shot(page, "presentation-scrolled")
        page.get_by_role("button", name="Exit").click()
        wait_for(lambda: page.locator("[data-testid='stSidebar']").is_visible(), timeout=60)
        idle(page)
        assert page.locator("textarea").input_value() == PASTE
        wait_for(lambda: "crying" in "".join(token_texts(page, "viewer")), timeout=60)
        assert "".join(token_texts(page, "viewer")).count("painful loss") == 1
    finally:
        page.set_viewport_size({"width": 1400, "height": 1000})
    assert not page.problems, page.problems


def test_presentation_fits_full_hd_with_a_scaled_hover_card(page):
    page.set_viewport_size({"width": 1920, "height": 1080})
    try:
        open_page(page, "Transcript_viewer", lambda: token_texts(page, "viewer"))
        page.get_by_text("Presentation mode").click()
        wait_for(lambda: token_texts(page, "present"), timeout=300)
        idle(page)
        view = ".el-view[data-key='present']"
        page.locator(f"{view} .el-turn.user .el-tok:not(.el-hdr)").nth(3).hover()
        card = page.locator(f"{view} .el-card")
        wait_for(lambda: card.is_visible(), timeout=5)
        size = lambda sel: float(page.locator(sel).first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)"))
        assert size(f"{view} .el-card") >= 0.8 * size(f"{view} .el-tok")  # the card scales with the text
        legend = deep(page, f"{view} .el-legend", "e => e.textContent")[0]
        assert "much weaker than usual" in legend and "much stronger than usual" in legend
        shot(page, "presentation-1920x1080")
        page.get_by_role("button", name="Exit").click()
        wait_for(lambda: page.locator("[data-testid='stSidebar']").is_visible(), timeout=60)
    finally:
        page.set_viewport_size({"width": 1400, "height": 1000})


def test_exports_follow_the_chosen_emotion_keep_numbers_and_name_the_transcript(page, tmp_path):
    import pandas as pd

    open_page(page, "Transcript_viewer", lambda: token_texts(page, "viewer"))
    page.get_by_text("Paste", exact=True).click()
    page.locator("textarea").fill(PASTE)
    page.locator("textarea").press("Control+Enter")
    wait_for(lambda: "crying" in "".join(token_texts(page, "viewer")), timeout=300)
    idle(page)
    page.locator(".el-view[data-key='viewer'] select.el-emotion").select_option("sad")
    idle(page)
    page.get_by_role("tab", name="Export").click()
    wait_for(lambda: page.get_by_text("the page opens on sad").count(), timeout=60)
    files = {}
    for label in ("Highlighted transcript", "Scores of sad"):
        with page.expect_download() as got:
            page.get_by_role("button", name=re.compile(label)).click()
        files[label] = tmp_path / got.value.suggested_filename
        got.value.save_as(files[label])
    html_file, csv_file = files.values()
    assert html_file.name.startswith("emotion-lens-smollm2-135m-instruct-pasted-") and html_file.name.endswith("-sad.html")
    pg = page.context.browser.new_page()
    try:
        pg.goto(html_file.as_uri())
        assert deep(pg, ".el-view", "e => e.dataset.emotion") == ["sad"]
    finally:
        pg.close()
    table = pd.read_csv(csv_file)
    assert "sad token z" in table.columns
    assert table["sad summary z"].dtype.kind == "f" and (table["sad summary z"] < 0).any()  # numbers, not text
    page.get_by_text("Example", exact=True).click()
    wait_for(lambda: "crying" not in "".join(token_texts(page, "viewer")), timeout=300)
    idle(page)
    page.get_by_role("tab", name="Export").click()
    idle(page)
    page.get_by_role("button", name=re.compile("Highlighted transcript")).wait_for(state="visible")
    with page.expect_download() as got:
        page.get_by_role("button", name=re.compile("Highlighted transcript")).click()
    assert got.value.suggested_filename != html_file.name  # another transcript, another name
    assert "missing ScriptRunContext" not in (ARTIFACTS / "server.log").read_text()  # downloads touch no app state
    assert not page.problems, page.problems


def test_steering_takes_the_new_models_set_up_after_a_model_switch(page):
    from core import load_model, load_vectors
    from core.steering_preset import load_preset

    open_page(page, "Steering", lambda: page.get_by_role("button", name="Generate both").count())
    idle(page)
    picker = page.get_by_role("combobox", name="Model")
    picker.click()
    page.get_by_role("option", name="gemma3-270m").click()
    wait_for(
        lambda: (
            "gemma3-270m" in page.locator("[data-testid='stCaptionContainer']").first.inner_text()
            or page.get_by_text(re.compile("gemma3-270m")).count()
        ),
        timeout=300,
    )
    idle(page)
    study = load_preset(load_vectors(load_model("gemma3-270m")))
    shown = [s.input_value() for s in page.locator("[data-testid='stMain'] input[type=range]").all()[:2]]
    assert shown == [str(study.layers[0]), str(study.layers[-1])], (shown, study.layers)
    picker.click()
    page.get_by_role("option", name=MODEL).click()
    idle(page)
    assert not page.problems, page.problems


def test_a_fresh_servers_first_request_for_a_page_goes_through_the_router(page):
    """Streamlit runs a page alone on a fresh server's first request for its address (its mode for
    apps with a pages/ folder); the app sends that run through the router, to the same page."""
    with app_server(MODEL) as url:
        pg = page.context.browser.new_page()
        try:
            pg.goto(f"{url}/Clusters", timeout=120_000)
            wait_for(lambda: pg.get_by_role("heading", name="Clusters (UMAP + k-means)").count(), timeout=300)
            assert pg.url.endswith("/Clusters")
            assert pg.locator("[data-testid='stSidebarNav'] a").first.inner_text().split()[-1] == "Home"
            assert pg.locator("[data-testid='stException']").count() == 0
        finally:
            pg.close()


def test_xsrf_protection_stays_on_for_uploads(page):
    """An upload without the XSRF cookie and header (a cross-site form post) is refused."""
    import urllib.error
    import urllib.request

    for headers in ({}, {"X-Xsrftoken": "forged"}):
        req = urllib.request.Request(
            f"{page.base_url}/_stcore/upload_file/some-session/some-file", data=b"x", method="PUT", headers=headers
        )
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=10)
        assert err.value.code == 403


def test_a_server_restart_mid_session_keeps_the_transcript_and_reads_on(page):
    """The server stops and starts again on the same port: the page reconnects by itself with the
    paste still in its box, and the new server reads it (a changed setting recolours it)."""
    from tools.browser import free_port

    text = "User: The ferry left without me and my passport was on it.\nAssistant: Stay calm and call the port office now."
    port, pg = free_port(), page.context.browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        with app_server(MODEL, port=port, log=ARTIFACTS / "server-before-restart.log") as url:
            pg.base_url = url
            open_page(pg, "Transcript_viewer", lambda: token_texts(pg, "viewer"))
            paste(pg, text)
            wait_for(lambda: "ferry" in "".join(token_texts(pg, "viewer")), timeout=300)
            idle(pg)
            before = token_colours(pg, "viewer")
        wait_for(lambda: pg.get_by_text("Connection error").count(), timeout=60)  # the user sees the server go
        shot(pg, "server-restart-down")
        with app_server(MODEL, port=port, log=ARTIFACTS / "server-after-restart.log"):
            wait_for(lambda: not pg.get_by_text("Connection error").count() and pg.get_by_text("Read the transcript").count(), timeout=120)
            assert pg.locator("textarea").input_value() == text  # nothing typed was lost
            pg.get_by_text("the reading and layer above").click()  # a rerun on the new server, from the kept paste
            wait_for(lambda: token_colours(pg, "viewer") != before and "ferry" in "".join(token_texts(pg, "viewer")), timeout=300)
            idle(pg)
            shot(pg, "server-restart-back")
    finally:
        pg.close()


def test_an_exported_figure_draws_under_its_content_security_policy(page, tmp_path):
    from core.export import figure_html
    from core.render import bars_figure

    path = tmp_path / "figure.html"
    path.write_text(figure_html(bars_figure([("calm", 1.0), ("<img src=x onerror=alert(1)>", -0.5)], "t")))
    pg = page.context.browser.new_page()
    try:
        console, dialogs = [], []
        pg.on("console", lambda m: console.append(m.text))
        pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        pg.goto(path.as_uri())
        wait_for(lambda: pg.locator(".bars path").count() == 2, timeout=30)  # plotly ran: its scripts are allowed by hash
        assert not [m for m in console if "Content Security Policy" in m] and not dialogs
    finally:
        pg.close()


def test_the_corpus_page_opens_the_most_desperate_transcript_at_its_peak(page, scan_dir):
    """A scanned corpus (24 chats, 2 bad records): sort by desperate, open the top one in the
    viewer, and see the peak token outlined, in view, coloured for desperate."""
    box = page.get_by_role("textbox", name="Scan folder")
    open_page(page, "Corpus", box.count)
    box.fill(str(scan_dir))
    box.press("Enter")
    wait_for(lambda: page.get_by_text("highest peak of").count(), timeout=120)
    idle(page)
    wait_for(lambda: page.locator(".js-plotly-plot").count(), timeout=60)
    # drawn after the histogram: under load idle() can return before the script's last elements arrive
    wait_for(lambda: page.get_by_text("2 records that could not be read").count(), timeout=60)
    button = page.locator(".st-key-corpus_open button")
    label = button.inner_text()
    top, token = re.search(r"Open (t\d+) .* \(token (\d+)\)", label).groups()
    shot(page, "corpus")
    button.click()
    view = ".el-view[data-key='viewer']"
    where = "e => [+e.dataset.i, e.getBoundingClientRect().top, innerHeight]"
    focus = wait_for(lambda: deep(page, f"{view} .el-focus", where), timeout=300)
    idle(page)
    ((i, top_px, height),) = focus
    assert i == int(token) and 0 <= top_px <= height  # scrolled into view
    assert deep(page, view, "e => e.dataset.emotion") == ["desperate"]
    assert page.locator("textarea").input_value().startswith("[{")  # the transcript, pasted for the viewer
    shot(page, "corpus-opened-at-peak")
    assert not page.problems, page.problems
