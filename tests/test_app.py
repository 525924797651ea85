"""The Streamlit pages, run headless with streamlit.testing against the real model and vectors."""
import html
import re
import time

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT

HOSTILE = 'User: <img src=x onerror=alert(1)> </div><script>alert(1)</script>\nAssistant: ok'
PAGES = ["app.py", "pages/1_Transcript_viewer.py", "pages/2_Emotion_space.py", "pages/3_Clusters.py",
         "pages/4_Similarity.py", "pages/5_Layers.py", "pages/6_Logit_lens.py", "pages/7_Compare_models.py"]


def run(path, **state):
    at = AppTest.from_file(str(ROOT / path), default_timeout=300)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def html_blocks(at):
    return [m.value for m in at.markdown if 'class="el-transcript"' in m.value]


def colours(block):
    return set(re.findall(r"rgba\((178,24,43|33,102,172)", block))


@pytest.mark.parametrize("path", PAGES)
def test_page_runs_and_draws(path):
    at = run(path)
    assert not at.error, [e.value for e in at.error]
    if path != "app.py":
        charts = at.get("plotly_chart")
        assert charts or html_blocks(at), f"{path} drew nothing"


def test_viewer_highlights_and_switches(lm):
    at = run("pages/1_Transcript_viewer.py")
    first = html_blocks(at)[0]
    assert colours(first) == {"178,24,43", "33,102,172"}          # red and blue spans
    at.sidebar.selectbox(key="highlight").set_value("calm")
    start = time.perf_counter()
    at.run()
    print(f"switching emotion, full page rerun: {time.perf_counter() - start:.2f} s")
    calm = html_blocks(at)[0]
    assert calm != first and colours(calm) == {"178,24,43", "33,102,172"}
    at.sidebar.slider(key="layer-readout").set_value(5).run()
    assert html_blocks(at)[0] != calm
    at.sidebar.radio(key="mode").set_value("z").run()
    assert not at.exception and "z-score against typical emotional text" in " ".join(m.value for m in at.markdown)
    at.sidebar.slider(key="smooth").set_value(5).run()
    assert not at.exception


def test_viewer_says_which_reading_it_shows():
    at = run("pages/1_Transcript_viewer.py")
    captions = lambda: " ".join(c.value for c in at.caption)
    assert "readout (probe directions)" in captions() and "z vs typical emotional text" in captions()
    assert "implicit top-3" in captions()                            # the default's figures, stated
    before = html_blocks(at)[0]
    at.sidebar.radio(key="kind").set_value("concept").run()
    at.sidebar.radio(key="baseline").set_value("neutral").run()
    assert not at.exception and "concept vectors (the paper's)" in captions() and "neutral chat" in captions()
    assert html_blocks(at)[0] != before


def test_compare_shows_both_sides():
    import json
    at = run("pages/1_Transcript_viewer.py")
    spec = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if "right minus left" in c.proto.spec)
    xs = spec["data"][0]["x"]
    assert min(xs) < 0 < max(xs)           # left-higher emotions are drawn as negative blue bars


def test_hostile_transcript_is_shown_as_text():
    at = run("pages/1_Transcript_viewer.py", source="Paste", pasted=HOSTILE)
    blocks = html_blocks(at)
    assert blocks, [e.value for e in at.error]
    page = blocks[0]
    assert "<img" not in page and "<script" not in page
    visible = html.unescape("".join(re.findall(r'<span class="el-tok[^"]*"[^>]*>([^<]*)</span>', page)))
    assert "<img src=x onerror=alert(1)>" in visible and "</div><script>alert(1)</script>" in visible


def test_the_viewer_counts_tokens_against_the_context():
    at = run("pages/1_Transcript_viewer.py", source="Paste", pasted="User: hello there\nAssistant: hi")
    assert any("tokens gemma3-270m reads at once" in c.value and "of the 8,192" in c.value for c in at.caption), \
        [c.value for c in at.caption]
    at = run("pages/1_Transcript_viewer.py", source="Paste", pasted="x" * 200_001)
    assert any("200,000" in e.value for e in at.error)


def test_bad_paste_gives_a_message_not_a_traceback():
    at = run("pages/1_Transcript_viewer.py", source="Paste", pasted='[{"role": "user", "content": ')
    assert any("invalid JSON" in e.value for e in at.error)


def test_presentation_mode():
    at = run("pages/1_Transcript_viewer.py", present=True)
    text = " ".join(m.value for m in at.markdown)
    assert "stronger than usual" in text and "--el-size:26px" in text
    heading = lambda: next(m.value for m in at.markdown if m.value.startswith("## "))
    first = heading()
    at.button(key="next").click().run()
    assert not at.exception and at.session_state["present_step"] == 1
    assert heading() != first                       # the next example is on screen
