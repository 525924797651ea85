"""``python -m core validate``: the held-out checks, run on the real model."""

import numpy as np
import pytest

from core import corpus, validate_tokens
from core.scoring import READ_POSITIONS
from core.validate import READINGS, collect, evaluate, prompt_readings, run_validation
from core.validate_report import layer_series, load_report, reading_summary, summary_markdown, to_markdown


@pytest.fixture(scope="module")
def readings(lm, ev):
    return collect(lm, ev.emotions)


@pytest.fixture(scope="module")
def report(lm, ev, readings):
    layers = {ev.reading_layer("readout"), ev.default_layer, ev.token_reading().layer}
    return run_validation(lm, ev, readings=readings, token_level=validate_tokens.run(lm, ev, every=5, layers=layers))


def test_readings_cover_every_item_layer_and_position(lm, ev):
    x = prompt_readings(lm, "My cat died this morning.", list(range(lm.n_layers)))
    assert x.shape == (len(READ_POSITIONS), lm.n_layers, lm.d_model)
    assert not np.allclose(x[0], x[2])  # the user's words and the Assistant header differ


def test_report_has_every_reading_and_figure(report, ev):
    vs = corpus.load_validation()
    assert report["counts"]["implicit"] == len(vs.implicit) and report["counts"]["sweeps"] == len(vs.sweeps)
    assert set(report["summary"]) == set(READINGS)
    assert len(report["layers"]) == ev.n_layers
    assert len(report["positions"]) == len(READINGS) * len(READ_POSITIONS) * ev.n_layers
    for m in report["summary"].values():
        assert 0 <= m["implicit_top3"] <= 1 and 1 <= m["implicit_median_rank"] <= 171
        assert -1 <= m["sweep_rho"] <= 1 and 0 <= m["two_person_acc"] <= 1
    w = report["ratings"]["warriner"]
    assert w["n_valence"] == 126 and w["n_arousal"] == 126 and -1 <= w["pc2_arousal_r"] <= 1


def test_the_token_reading_localizes_and_calibrates_better_than_the_summary_reading_did(report):
    """On fresh passages (every fifth here, plain and chat): one emotional sentence among neutral ones."""
    t = report["token_level"]
    assert t["passages"]["embedded"] >= 50 and t["passages"]["neutral_chats"] >= 8
    rows = {r["reading"]: r for r in t["readings"]}
    tok, old = rows["token"], rows["readout_stories"]
    assert tok["emotion"]["auroc"] > old["emotion"]["auroc"] > 0.5
    assert tok["emotion"]["hover_top"] > old["emotion"]["hover_top"] and tok["family"]["hover_top"] > tok["emotion"]["hover_top"]
    assert tok["false_alarms"] < 0.01 < old["false_alarms"] and tok["median_abs_z_chat"] < 1.5 < old["median_abs_z_chat"]
    md = to_markdown(report)
    assert "## Token level" in md and f"{tok['emotion']['auroc']:.2f}" in md


def test_the_readout_reads_implicit_scenarios_better_than_the_concept_vectors(report):
    s = report["summary"]
    assert s["readout"]["implicit_top3"] > s["concept_neutral"]["implicit_top3"]
    assert s["readout"]["implicit_median_rank"] < s["concept_neutral"]["implicit_median_rank"]
    assert s["readout"]["implicit_top3"] > 3 * 3 / 56  # three times chance


def test_markdown_states_the_figures(report):
    md = to_markdown(report)
    top3 = f"{report['summary']['readout']['implicit_top3']:.0%}"
    assert top3 in md and "Warriner" in md and "Story cross-validation" in md and "Tylenol" in md


def test_summaries_for_the_pages(report, ev, tmp_path):
    from core.vectors import vectors_dir

    line = reading_summary(load_report(vectors_dir(ev.model_name)))
    assert "implicit top-3" in line and "median rank" in line
    assert load_report(tmp_path) is None and "readout" in reading_summary(None)
    assert f"{report['summary']['readout']['implicit_top3']:.0%}" in summary_markdown(report)
    series = layer_series(report, ev.n_layers)
    assert all(len(v) == ev.n_layers for v in series.values()) and "story CV top-5 (readout)" in series
    at = ev.reading_layer()
    assert series["implicit top-3 (readout)"][at] == next(r for r in report["layers"] if r["layer"] == at)["implicit_top3"]
    assert layer_series(None, ev.n_layers) == {}


def test_evaluate_is_deterministic_and_layer_sensitive(ev, readings):
    rd = readings
    a = evaluate(ev, rd, "readout", 5, "words")
    assert a == evaluate(ev, rd, "readout", 5, "words")
    assert a != evaluate(ev, rd, "readout", ev.n_layers - 2, "words")
