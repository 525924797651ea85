"""The study tool's resume logic, against the studies the repository ships."""

import json

import pytest


@pytest.mark.parametrize("model", ["smollm2-135m-instruct", "gemma3-270m"])
def test_a_rerun_of_each_shipped_study_finds_every_cell_stored(model):
    from core.vectors import EmotionVectors, vectors_dir
    from study.prompts import HELD_SETS
    from study.steering_study import directions_made, stored_rows

    study = json.loads((vectors_dir(model) / "steering.json").read_text())
    made = directions_made(EmotionVectors.load(vectors_dir(model)))
    held = study["held_set"]
    rows = stored_rows(model, "steering", study["tokens"], made, held)
    expected = (
        {("choose", r["setup"], r["emotion"], r["strength"]) for r in study["choose"]}
        | {("report", r["setup"], r["emotion"], r["strength"]) for r in study["report"]}
        | {("held", r["setup"], r["emotion"], r["strength"]) for r in study["held_out"] + study["own_held_out"]}
    )
    assert set(rows) == expected  # the documented command reruns nothing
    assert all(rows[k]["pairs"] == 96 for k in expected if k[0] == "held")
    assert stored_rows(model, "steering", study["tokens"] + 1, made, held) == {}  # another reply length: nothing
    assert stored_rows(model, "steering", study["tokens"], made, held, batch=8) == {}  # batched replies pair otherwise
    other = next(h for h in HELD_SETS if h != held)
    assert set(stored_rows(model, "steering", study["tokens"], made, other)) == {k for k in expected if k[0] != "held"}
    rebuilt = stored_rows(model, "steering", study["tokens"], {kind: "rebuilt" for kind in made}, held)
    assert set(rebuilt) == {k for k in expected if not k[1].startswith(("contrast", "blend"))}  # theirs go, the rest stay
