"""The steering preset: what a study's chosen set-up steers, and what a model without one falls back to."""

import pytest

from core.steering_preset import SteeringPreset, layers_label, load_preset


@pytest.mark.fast
def test_a_preset_pushes_the_opposite_only_where_it_steers_against():
    against = SteeringPreset("blend", (8, 9), 0.05, against=0.5, opposite={"happy": "sad", "sad": "happy"})
    assert against.strengths("happy", 0.4) == {"happy": 0.4, "sad": -0.2}
    assert against.strengths("calm", 0.4) == {"calm": 0.4} and against.strengths("happy", 0.0) == {"happy": 0.0}
    assert against.expand({"happy": 0.4, "sad": 0.1}) == {"happy": 0.4, "sad": 0.1}  # what is named wins
    assert SteeringPreset("concept", (20,)).expand({"happy": 0.4}) == {"happy": 0.4}
    assert layers_label((8, 9, 10)) == "layers 8–10 (strength split evenly)" and layers_label([12]) == "layer 12"


def test_the_shipped_preset_loads_and_a_model_without_one_gets_the_concept_vectors(ev):
    from dataclasses import replace

    preset = load_preset(ev)
    assert preset.name and ev.has_directions(preset.kind) and max(preset.layers) < ev.n_layers
    assert preset.verdicts and all("settings" in v and v["expected"] in (1, -1) for v in preset.verdicts)
    elsewhere = load_preset(replace(ev, meta={**ev.meta, "model": "no-such-model"}))
    assert (elsewhere.kind, elsewhere.layers, elsewhere.name, elsewhere.against) == ("concept", (ev.default_layer,), None, 0.0)
