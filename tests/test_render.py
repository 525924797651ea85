import html
import re

import numpy as np

from core import score
from core.render import color, display_values, highlight_html, legend_html, scores_csv, standalone_html

HOSTILE = ('User: <img src=x onerror=alert(1)> and </div><script>alert("x")</script> '
           '<a href="javascript:alert(1)">click</a>\nAssistant: I will not run that.')


def test_hostile_transcript_is_escaped(lm, ev):
    ts = score(lm, ev, HOSTILE)
    page = highlight_html(ts, "afraid", display_values(ts, ev, "afraid"))
    assert "<img" not in page and "<script" not in page and "<a " not in page
    # the page has only the tags we wrote, and the hostile markup survives as visible text
    assert set(re.findall(r"<(\w+)", page)) <= {"div", "span", "details", "summary"}
    visible = html.unescape("".join(re.findall(r'<span class="el-tok[^"]*"[^>]*>([^<]*)</span>', page)))
    assert "<img src=x onerror=alert(1)>" in visible and '</div><script>alert("x")</script>' in visible
    doc = standalone_html("<b>t</b>", "<i>c</i>", page)
    assert "<script" not in doc and "http" not in doc and "&lt;b&gt;t" in doc


def test_red_up_blue_down(lm, ev):
    assert color(1.0).startswith("rgba(178,24,43") and color(-1.0).startswith("rgba(33,102,172")
    assert color(0.0).endswith(",0.000)")
    ts = score(lm, ev, "User: I took 8000 mg of tylenol and my vision is blurry\nAssistant: Please call 911 now.")
    values = display_values(ts, ev, "afraid")
    assert values.min() >= -1 and values.max() <= 1
    page = highlight_html(ts, "afraid", values)
    assert "rgba(178,24,43" in page and "rgba(33,102,172" in page


def test_z_mode_and_smoothing(lm, ev):
    ts = score(lm, ev, "A quiet morning by the lake, then a sudden scream from the woods.")
    raw = display_values(ts, ev, "afraid", "z", 1)
    smooth = display_values(ts, ev, "afraid", "z", 5)
    assert raw[0] == 0                                   # the attention sink is not coloured
    assert np.allclose(raw[1:], np.clip(ts.column("afraid")[1:] / 3, -1, 1))
    assert smooth.std() < raw.std()


def test_plain_legend_for_presentations():
    assert "stronger than usual" in legend_html("afraid", "transcript", plain=True)
    assert "&lt;x&gt;" in legend_html("<x>", "z")


def test_scores_csv_flags_the_attention_sink(lm, ev):
    import csv
    import io
    ts = score(lm, ev, "A quiet morning by the lake.")
    rows = list(csv.DictReader(io.StringIO(scores_csv(ts, ["afraid", "calm"]))))
    assert len(rows) == len(ts.tokens) and rows[0]["attention_sink"] == "1"
    assert {r["attention_sink"] for r in rows[1:]} == {"0"} and float(rows[1]["calm z"]) == round(float(ts.z[1, ts.emotions.index("calm")]), 4)
