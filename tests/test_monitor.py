"""Live monitoring on the real model: readings as a full pass would give them, stopping in time."""

import numpy as np
import pytest

from core import EmotionLensError, score
from core.monitor import monitor, monitor_stream, new_result, parse_watch
from core.transcript import Turn

PROMPT = "User: I lost my job today and I can't pay rent."


def hooks_on(lm):
    return sum(len(b._forward_hooks) for b in lm.blocks)


def test_readings_while_writing_match_a_full_pass_over_the_same_text(lm, ev):
    r = monitor(lm, ev, PROMPT, {"desperate": 99}, max_new_tokens=16, seed=0)
    assert len(r.tokens) == 16 and r.reason == "reached 16 tokens" and not r.flagged
    ts = score(lm, ev, [Turn("user", PROMPT[6:]), Turn("assistant", r.reply)])
    start = next(t.reply_start for t in ts.turns if t.role == "assistant")
    assert ts.tokens[start : start + 16] == r.tokens  # the same tokens, read the same way
    assert r.token_level and np.abs(ts.shown[start : start + 16] - np.stack(r.z)).max() < 0.05


def test_stop_halts_at_the_token_that_crossed(lm, ev):
    free = monitor(lm, ev, PROMPT, {"desperate": 99}, max_new_tokens=30, seed=1)
    zs = np.array(free.series("desperate"))
    threshold = float(np.sort(zs)[-3])  # crossed somewhere in the reply
    first = int(np.argmax(zs >= threshold))
    stopped = monitor(lm, ev, PROMPT, [f"desperate={threshold}"], max_new_tokens=30, seed=1, stop=True)
    assert stopped.stopped_at == first and stopped.tokens == free.tokens[: first + 1]
    assert "desperate" in stopped.reason and stopped.flagged[-1]["end"] == first + 1
    unstopped = monitor(lm, ev, PROMPT, {"desperate": threshold}, max_new_tokens=30, seed=1)
    spans = [(f["start"], f["end"]) for f in unstopped.flagged]
    assert all(zs[a:b].min() >= threshold for a, b in spans) and sum(b - a for a, b in spans) == (zs >= threshold).sum()


def test_a_family_on_the_watch_list_reads_as_its_strongest_member(lm, ev):
    family = f"{ev.families.names[ev.families.of[ev.index('desperate')]]} family"
    r = monitor(lm, ev, PROMPT, {family: 99}, max_new_tokens=6, seed=0)
    members = np.flatnonzero(ev.families.of == ev.families.of[ev.index("desperate")])
    assert np.allclose(r.series(family), [z[members].max() for z in r.z])


def test_watch_lists_are_checked(ev):
    assert parse_watch(["desperate=2.5", "calm=-1"], ev.emotions) == {"desperate": 2.5, "calm": -1.0}
    for bad, msg in ((["nope=1"], "unknown emotion"), (["calm"], "emotion=threshold"), (["calm=x"], "number"), (["calm=inf"], "finite")):
        with pytest.raises(EmotionLensError, match=msg):
            parse_watch(bad, ev.emotions)


def test_an_abandoned_stream_leaves_no_hook_and_frees_the_model(lm, ev):
    from core.steering_preset import load_preset

    before = hooks_on(lm)
    watch = {"afraid": 1.0}
    stream = monitor_stream(lm, ev, PROMPT, watch, new_result(lm, ev, watch), max_new_tokens=20, strengths={"calm": 0.2})
    try:
        next(stream)
        assert hooks_on(lm) == before + 1 + len(load_preset(ev).layers)  # reading, and steering at the preset's
    finally:
        stream.close()
    assert hooks_on(lm) == before and lm.lock.acquire(blocking=False)
    lm.lock.release()
