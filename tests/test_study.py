"""The steering study (study/): its set-ups, prompt sets, verdicts and the preset it resolves; and the
boundary that keeps it out of the library and the app."""

import numpy as np
import pytest


def test_effect_cells_count_pairs_and_reuse_the_unsteered_replies(lm, ev):
    from study.setups import SETUPS, effect_cells

    baselines = {}
    rows = effect_cells(
        lm,
        ev,
        ["Tell me about your weekend."],
        "happy",
        [0.3],
        SETUPS["concept, layer at 2/3 depth"],
        seeds=(0, 1),
        max_new_tokens=8,
        baselines=baselines,
    )
    (row,) = rows
    assert row["pairs"] == 2 and all(0 <= row[k] <= 1 for k in ("vader_moved", "valence_moved", "reading_moved"))
    assert row["median_perplexity_ratio"] > 0
    plain = dict(baselines)
    effect_cells(
        lm,
        ev,
        ["Tell me about your weekend."],
        "sad",
        [0.3],
        SETUPS["contrast, layer at 40% depth"],
        seeds=(0, 1),
        max_new_tokens=8,
        baselines=baselines,
    )
    assert all(baselines[k] == v for k, v in plain.items())  # the unsteered replies were not rewritten
    assert {k for k in baselines if len(k) == 2} == {("Tell me about your weekend.", 0), ("Tell me about your weekend.", 1)}


def test_a_batched_cell_pairs_each_reply_with_its_unsteered_twin_from_the_same_batch(lm, ev):
    from study.setups import SETUPS, effect_cells

    prompts, baselines = ["Tell me about your weekend.", "What is a good name for a cat?", "Plan a short walk."], {}
    setup = SETUPS["contrast, spread over layers at 27–53% depth"]
    [off] = effect_cells(lm, ev, prompts, "happy", [0.0], setup, seeds=(0,), max_new_tokens=12, baselines=baselines, batch=3)
    # strength 0 rewrites each twin exactly, so nothing moves and every perplexity ratio is 1
    assert off["pairs"] == 3 and off["median_perplexity_ratio"] == 1.0 and off["vader_moved"] == off["reading_moved"] == 0
    [on] = effect_cells(lm, ev, prompts, "happy", [0.5], setup, seeds=(0,), max_new_tokens=12, baselines=baselines, batch=3)
    assert on["pairs"] == 3 and on["median_perplexity_ratio"] != 1.0
    assert {k[:3] for k in baselines if len(k) == 3} == {(p, 0, tuple(prompts)) for p in prompts}


def test_the_preset_is_what_the_study_chose_resolved_and_the_product_reads_it(ev):
    import json
    from dataclasses import replace

    from core.steering_preset import load_preset
    from core.vectors import vectors_dir
    from study.preset import resolve
    from study.setups import SETUPS, setup_layers, study_verdicts

    study = json.loads((vectors_dir(ev.model_name) / "steering.json").read_text())
    got = resolve(ev)
    assert got == json.loads((vectors_dir(ev.model_name) / "steering-preset.json").read_text())  # shipped up to date
    assert got["name"] == study["chosen_setup"] and got["kind"] == SETUPS[got["name"]]["kind"]
    assert got["layers"] == setup_layers(ev, SETUPS[got["name"]]) == study["layers"]
    tried = study.get("fine_strengths", study["choose_strengths"])
    assert got["strength"] in tried  # chosen on the choosing prompts, not the report
    assert len(got["verdicts"]) == len(study_verdicts(vectors_dir(ev.model_name)))
    preset = load_preset(ev)
    assert (preset.kind, list(preset.layers), preset.strength, preset.name) == (got["kind"], got["layers"], got["strength"], got["name"])
    elsewhere = replace(ev, meta={**ev.meta, "model": "no-such-model"})
    assert resolve(elsewhere)["name"] is None and load_preset(elsewhere).layers == (ev.default_layer,)


def test_the_starting_strength_is_the_strongest_mover_that_stays_fluent():
    from study.setups import study_strength

    def row(s, vader, reading, ppl):
        return {"strength": s, "vader_moved": vader, "reading_moved": reading, "median_perplexity_ratio": ppl}

    report = [
        row(0.1, 0.6, 0.5, 1.1),
        row(0.1, 0.5, 0.5, 1.0),
        row(0.2, 0.8, 0.7, 1.5),
        row(0.2, 0.6, 0.9, 1.9),
        row(0.3, 1.0, 1.0, 1.8),
        row(0.3, 1.0, 1.0, 2.4),
    ]  # moves most, but one emotion breaks
    assert study_strength(report) == 0.2
    assert study_strength([row(0.3, 1.0, 1.0, 3.0), row(0.5, 1.0, 1.0, 9.0)]) == 0.3  # none fluent: the gentlest
    assert study_strength([]) == 0.3
    k = [n / 24 for n in range(25)]  # rates are counts out of 24 pairs
    tie = [row(0.4, k[22], k[22], 1.6), row(0.4, k[19], k[23], 1.7), row(0.45, k[21], k[22], 1.5), row(0.45, k[20], k[22], 1.7)]
    assert study_strength(tie) == 0.4  # equal means tie whatever the float rounding: the gentler wins


def test_set_ups_name_one_layer_or_a_span(ev):
    from core.steering_preset import layers_label
    from study.setups import SETUPS, setup_layers

    assert setup_layers(ev, SETUPS["concept, layer at 2/3 depth"]) == [ev.default_layer]
    assert setup_layers(ev, SETUPS["contrast, layer at 40% depth"]) == [round(0.4 * ev.n_layers)]
    span = setup_layers(ev, SETUPS["contrast, spread over layers at 13–67% depth"])
    assert span == list(range(round(0.13 * ev.n_layers), round(0.67 * ev.n_layers) + 1)) and len(span) > 10
    assert layers_label(span) == f"layers {span[0]}–{span[-1]} (strength split evenly)"
    assert layers_label([12]) == "layer 12"
    assert setup_layers(ev, SETUPS["contrast, spread over layers at 27–53% depth"]) == list(range(8, 17))  # SmolLM2's 30 layers


@pytest.mark.parametrize("model", ["smollm2-135m-instruct", "gemma3-270m"])
def test_each_shipped_study_holds_out_the_strengths_it_chose(model):
    import json

    from core.vectors import vectors_dir

    study = json.loads((vectors_dir(model) / "steering.json").read_text())
    assert study["chosen_setup"] in study["finalists"] and set(study["chosen_strengths"]) == {"happy", "sad"}
    held_prompts = study["held_prompts"]
    held_pairs = 3 * len(held_prompts)
    assert held_pairs == 96 and not set(study["choose_prompts"]) & set(held_prompts)
    for emotion, strength in study["chosen_strengths"].items():
        chose = [r for r in study["choose"] if (r["setup"], r["emotion"]) == (study["chosen_setup"], emotion)]
        assert strength in [r["strength"] for r in chose]  # chosen among the choosing rows
        assert strength in [r["strength"] for r in study["report"] if r["emotion"] == emotion]  # on the curve
        [held] = [r for r in study["held_out"] if r["emotion"] == emotion]  # and held out on 96 pairs
        assert (held["setup"], held["strength"], held["pairs"]) == (study["chosen_setup"], strength, held_pairs)
    assert {r["emotion"] for r in study["own_held_out"]} == {"happy", "sad"}
    assert all(r["pairs"] == held_pairs and r["setup"] in study["finalists"] for r in study["own_held_out"])


def test_the_prompt_sets_share_nothing():
    from core.contrast import BUILD_PROMPTS
    from study.prompts import (
        CHECK_PROMPTS,
        CHOOSE_PROMPTS,
        FOURTH_CHECK_PROMPTS,
        HELD_SETS,
        MORE_CHOOSE_PROMPTS,
        REPORT_PROMPTS,
        SECOND_CHECK_PROMPTS,
        THIRD_CHECK_PROMPTS,
    )

    sets = [
        CHOOSE_PROMPTS,
        MORE_CHOOSE_PROMPTS,
        REPORT_PROMPTS,
        CHECK_PROMPTS,
        SECOND_CHECK_PROMPTS,
        THIRD_CHECK_PROMPTS,
        FOURTH_CHECK_PROMPTS,
        BUILD_PROMPTS,
    ]
    every = [p for s in sets for p in s]
    assert len(set(every)) == len(every)
    assert [len(p) for p in HELD_SETS.values()] == [32, 32, 32, 32]  # 96 pairs each at 3 seeds


def test_steering_against_the_opposite_points_further_along_valence(lm, ev):
    from core.geometry import valence_loading
    from core.ratings import human_valence
    from core.steering import steering_additions
    from study.setups import SETUPS, setup_layers, setup_strengths

    against = SETUPS["blend, spread over layers at 27–53% depth, against its opposite at half strength"]
    alone = SETUPS["blend, spread over layers at 27–53% depth"]
    assert setup_strengths(against, "sad", 0.4) == {"sad": 0.4, "happy": -0.2}
    assert setup_strengths(alone, "sad", 0.4) == {"sad": 0.4}
    away = {**against, "opposite": {"sad": "loving"}}  # steered against another emotion, for sad alone
    assert setup_strengths(away, "sad", 0.4) == {"sad": 0.4, "loving": -0.2}
    assert setup_strengths(away, "happy", 0.4) == {"happy": 0.4}
    valence = np.append(human_valence(ev.emotions).valence, np.nan)
    layers = setup_layers(ev, against)

    def loading(setup):
        add = steering_additions(lm, ev, setup_strengths(setup, "sad", 0.4), layers, "blend")
        return np.mean([valence_loading(np.vstack([ev.directions("blend", l), add[l]]), valence)[-1] for l in layers])

    assert loading(against) < loading(alone) - 0.1 < 0  # "sad" away from "happy" is more negative


def test_study_verdicts_gather_the_study_and_later_cells_and_say_them_plainly(tmp_path):
    import json

    from core.vectors import vectors_dir
    from core.verdicts import verdict_label, verdict_text
    from study.setups import study_verdicts

    shipped = study_verdicts(vectors_dir("smollm2-135m-instruct"))
    assert {(r["emotion"], r["held"]) for r in shipped} == {("happy", "second"), ("sad", "second"), ("sad", "third"), ("sad", "fourth")}
    assert [verdict_text(r).endswith("— met") for r in shipped if r["emotion"] == "happy"] == [True]
    assert study_verdicts(tmp_path) == []
    (tmp_path / "steering-verdicts.json").write_text(
        json.dumps(
            {
                "verdicts": [
                    {
                        "emotion": "sad",
                        "held": "third",
                        "strength": 0.4,
                        "vader_moved": 0.5,
                        "reading_moved": 1.0,
                        "median_perplexity_ratio": 1.2,
                    }
                ]
            }
        )
    )
    [row] = study_verdicts(tmp_path)
    assert row["held"] == "third" and verdict_text(row) == "VADER 50%, reading 100%, perplexity 1.20× — not met"
    assert verdict_text({**row, "vader_moved": 86 / 96}).startswith("VADER 89.6%, ")  # not rounded up to the line
    assert (
        verdict_text({**row, "valence_moved": 0.75}) == "VADER 50% (word valence 75%), reading 100%, perplexity 1.20× — not met"
    )  # the second judge, beside the first
    assert (
        verdict_label({**row, "setup": "contrast, spread", "pairs": 96, "against": 0.5, "opposite": "loving"})
        == '**sad** at 0.4, contrast, spread, against "loving" at 0.5× the strength, over 96 pairs'
    )
    assert (
        verdict_label({**row, "setup": "contrast, spread", "pairs": 96, "against": 0.0})
        == "**sad** at 0.4, contrast, spread, over 96 pairs"
    )


def test_verdict_settings_give_back_what_each_held_out_verdict_steered():
    from core.vectors import EmotionVectors, vectors_dir
    from study.setups import study_verdicts, verdict_settings

    smol = EmotionVectors.load(vectors_dir("smollm2-135m-instruct"))
    rows = {(r["emotion"], r["held"], r["setup"].split(",")[0]): r for r in study_verdicts(vectors_dir(smol.model_name))}
    happy = verdict_settings(smol, rows["happy", "second", "contrast"])
    assert happy == {"kind": "contrast", "layers": list(range(8, 17)), "strengths": {"happy": 0.4}, "positions": "all", "tokens": 60}
    assert verdict_settings(smol, rows["sad", "second", "blend"])["strengths"] == {"sad": 0.4, "happy": -0.2}
    fourth = verdict_settings(smol, rows["sad", "fourth", "contrast"])
    assert fourth["layers"] == list(range(4, 21)) and fourth["strengths"] == {"sad": 0.5, "loving": -0.25}
    gemma = EmotionVectors.load(vectors_dir("gemma3-270m"))
    assert {verdict_settings(gemma, r)["tokens"] for r in study_verdicts(vectors_dir("gemma3-270m"))} == {30}


def test_the_library_and_the_app_never_import_the_study():
    import ast

    from conftest import ROOT

    product = [*(ROOT / "core").glob("*.py"), *(ROOT / "pages").glob("*.py"), ROOT / "app.py", ROOT / "app_state.py"]
    for path in product:
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            assert not any(n == "study" or n.startswith("study.") for n in names), path
