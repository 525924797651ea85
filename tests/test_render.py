import base64
import csv
import io
import json
import re
from html.parser import HTMLParser

import numpy as np
from hypothesis import given

from core import EmotionLensError, score
from core.export import scores_csv
from core.render import (
    Z_SCALE,
    bars_figure,
    color,
    display_values,
    highlight_payload,
    ink,
    interactive_html,
    script_json,
    timeline_figure,
)
from strategies import hostile_text

HOSTILE = (
    'User: <img src=x onerror=alert(1)> and </div><script>alert("x")</script> '
    '<a href="javascript:alert(1)">click</a> \u2028 <!-- \nAssistant: I will not run that.'
)


def browser_values(payload, emotion, mode):
    """What assets/highlight.js computes before smoothing, done here from the payload alone."""
    raw = np.frombuffer(base64.b64decode(payload["z"]), "<i2").reshape(len(payload["tokens"]), -1)
    z = np.where(raw == payload["missing"], np.nan, raw / Z_SCALE)
    if emotion in payload["emotions"]:
        col = z[:, payload["emotions"].index(emotion)]
    else:  # a family: its strongest member
        f = payload["families"]["names"].index(emotion[: -len(" family")])
        sub = z[:, np.array(payload["families"]["of"]) == f]
        col = np.where(np.isnan(sub).all(1), np.nan, np.nan_to_num(sub, nan=-1e9).max(1))
    return np.clip(col / (payload["zmax"] if mode == "z" else payload["scale"]), -1, 1)


def test_the_payload_reproduces_the_colours_for_every_emotion_and_family(lm, ev):
    ts = score(lm, ev, "User: I took 8000 mg of tylenol and my vision is blurry\nAssistant: Please call 911 now.")
    payload = json.loads(json.dumps(highlight_payload(ts, "afraid", families=ev.families)))  # what travels
    assert payload["tokens"] == ts.tokens and len(payload["emotions"]) == 171
    for emotion in ("afraid", "calm", "desperate", f"{ev.families.names[0]} family"):
        for mode in ("transcript", "z"):
            want = display_values(ts, emotion, mode, families=ev.families)
            got = browser_values(payload, emotion, mode)
            assert (np.isnan(got) == np.isnan(want)).all() and np.nanmax(np.abs(got - want)) < 0.01
    turns = payload["turns"]
    assert [t["role"] for t in turns] == [s.role for s in ts.turns] and turns[-1]["end"] == len(ts.tokens)


def test_red_up_blue_down():
    assert color(1.0).startswith("rgba(178,24,43") and color(-1.0).startswith("rgba(33,102,172")
    assert color(0.0).endswith(",0.000)") and color(float("nan")).endswith(",0.000)")


def test_z_mode_and_smoothing(lm, ev):
    ts = score(lm, ev, "A quiet morning by the lake, then a sudden scream from the woods.")
    raw = display_values(ts, "afraid", "z", 1)
    smooth = display_values(ts, "afraid", "z", 5)
    assert np.isnan(raw[0]) and np.isnan(smooth[0])  # the attention sink is never read or coloured
    assert np.allclose(raw[1:], np.clip(ts.column("afraid", "token")[1:] / 3, -1, 1))
    assert np.nanstd(smooth) < np.nanstd(raw)


def test_script_json_cannot_end_its_script_element():
    s = script_json({"t": "</script><script>alert(1)</script> & <!-- \u2028"})
    assert "<" not in s and ">" not in s and "&" not in s and "\u2028" not in s
    assert json.loads(s) == {"t": "</script><script>alert(1)</script> & <!-- \u2028"}


def test_exported_page_is_self_contained_and_hostile_text_stays_data(lm, ev):
    ts = score(lm, ev, HOSTILE)
    doc = interactive_html("<b>title</b>", highlight_payload(ts, "afraid", key="export"))
    assert "&lt;b&gt;title" in doc and "<b>title" not in doc
    assert len(re.findall(r"<script", doc)) == 2  # our data block and our script, nothing else
    assert "<img" not in doc and "javascript:alert" not in doc.split("id='el-data'>")[0]
    assert "http://" not in doc and "https://" not in doc and "src=" not in doc.replace("src=x", "")
    data = doc.split("id='el-data'>")[1].split("</script>")[0]
    assert "".join(json.loads(data)["tokens"]).count("<img src=x onerror=alert(1)>") == 1


def test_plain_legend_for_presentations(lm, ev):
    ts = score(lm, ev, "A calm lake.")
    p = highlight_payload(ts, "calm", plain=True, markers=False, font_px=26)
    assert "stronger than in typical text" in p["legend"]["plain"] and p["plain"] and not p["initial"]["markers"]
    assert "percentile" not in p["legend"]["plain"]


def test_timeline_avoids_red_and_blue_and_says_its_smoothing(lm, ev):
    ts = score(lm, ev, "User: I am scared.\nAssistant: You are safe now, breathe slowly.")
    fig = timeline_figure(ts, ["afraid", "calm", "happy"], 5, ts.meta["method"])
    colours = {t.line.color for t in fig.data}
    assert len(colours) == 3 and not colours & {"rgb(178,24,43)", "rgb(33,102,172)", "red", "blue"}
    assert "mean over 5 tokens" in fig.layout.yaxis.title.text


def test_bars_escape_labels_without_escaping_quotes():
    fig = bars_figure([("it's <b>", 1.0), ("x", -1.0)], 'a "title"')
    assert "it's &lt;b&gt;" in list(fig.data[0].y) and "&quot;" not in fig.layout.title.text


def _contrast(fg: str, value: float) -> float:
    """WCAG contrast of text colour ``fg`` over ``color(value)`` laid on white."""

    def lum(rgb):
        c = np.asarray(rgb, np.float64) / 255
        return float(np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4) @ (0.2126, 0.7152, 0.0722))

    r, g, b, a = (float(x) for x in color(value)[5:-1].split(","))
    bg = [a * c + (1 - a) * 255 for c in (r, g, b)]
    text_rgb = (0, 0, 0) if fg == "#000" else (255, 255, 255)
    hi, lo = sorted((lum(bg), lum(text_rgb)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_token_text_reaches_wcag_aa_contrast_on_every_colour():
    for v in np.linspace(-1, 1, 81):
        assert _contrast(ink(v), v) >= 4.5, v
    assert ink(1.0) == "#fff" and ink(0.0) == "#000"  # full red takes white text, no colour black


class _Elements(HTMLParser):
    """The elements a browser would build from a page, in order, and the text of its title."""

    def __init__(self):
        super().__init__()
        self.tags, self.title, self._in = [], "", None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in = tag

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "title":
            self.title += data


def _elements(doc):
    parser = _Elements()
    parser.feed(doc)
    parser.close()
    return parser


@given(text=hostile_text)
def test_the_highlights_and_their_exports_show_every_character_once_and_inject_nothing(lm, ev, text):
    try:
        ts = score(lm, ev, text)
    except EmotionLensError:
        return
    payload = highlight_payload(ts, "afraid", key="export")
    shown = "".join(t for t, (a, b) in zip(payload["tokens"], ts.offsets) if b > a)
    assert shown == ts.text  # every character of the transcript, once, in order
    title = "Emotion Lens · " + text[:40]
    page = _elements(interactive_html(title, payload))
    benign = _elements(interactive_html("Emotion Lens", highlight_payload(score(lm, ev, "A calm lake."), "afraid", key="export")))
    assert page.tags == benign.tags  # the input added no element
    assert page.title == title.replace("\r\n", "\n").replace("\r", "\n") or page.title.replace("\r", "") == title.replace("\r", "")
    doc = interactive_html(title, payload)
    data = json.loads(doc.split("id='el-data'>")[1].split("</script>")[0])
    assert data["tokens"] == payload["tokens"]
    rows = list(csv.DictReader(io.StringIO(scores_csv(ts, ["afraid"]), newline="")))
    for row, token in zip(rows, ts.tokens, strict=True):  # the CSV defuses formulas with one leading '
        assert row["token"] == token or (row["token"] == "'" + token and token[:1] in "=+-@\t\r")


def test_exports_carry_a_content_security_policy_that_runs_only_their_own_scripts(lm, ev):
    from core.export import figure_html

    doc = interactive_html("t", highlight_payload(score(lm, ev, "A calm lake."), "calm", key="export"))
    policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', doc)[1]
    assert "default-src 'none'" in policy and "unsafe-eval" not in policy and "script-src 'sha256-" in policy
    assert policy.count("sha256-") == 1  # the highlights script; the JSON data block never runs
    fig = figure_html(bars_figure([("calm", 1.0)], "t"))
    assert "default-src 'none'" in fig and fig.count("sha256-") == len(re.findall(r"<script>", fig)) == 3
