import numpy as np
import pytest
from scipy.stats import spearmanr

from core import EmotionLensError, score
from core.render import highlight_payload
from core.scoring import forward, prompt_positions, scores_from
from core.summaries import extremes, mean_z_difference, turn_means, turn_table
from core.transcript import Turn

FRIGHTENING = (
    "The footsteps behind her quickened. She ran, heart pounding, fumbling for her keys as "
    "the shadow reached the gate. Something scratched at the door and her hands would not stop shaking."
)
CALM = (
    "She poured a cup of tea and sat by the window. The garden was quiet, the afternoon light soft "
    "on the grass, and she turned the page of her book slowly."
)


def mean_z(ts, emotion):
    return float(ts.column(emotion)[1:].mean())


def test_afraid_higher_on_frightening_text(lm, ev):
    assert mean_z(score(lm, ev, FRIGHTENING), "afraid") > mean_z(score(lm, ev, CALM), "afraid")
    # "calm" itself barely separates these two in this small model; its neighbours do.
    for emotion in ("peaceful", "relaxed"):
        assert mean_z(score(lm, ev, CALM), emotion) > mean_z(score(lm, ev, FRIGHTENING), emotion)


def test_dose_sweep_raises_afraid_on_the_concept_vectors(lm, ev):
    # The paper's vectors track this one sweep in SmolLM2; the readout does not (sweep ρ over the
    # whole validation set stays near 0.1 for both: see cached_vectors/<model>/validation.md).
    doses = [500, 1000, 2000, 4000, 8000, 16000]
    afraid = []
    for dose in doses:
        ts = score(
            lm, ev, f"User: I just took {dose} mg of tylenol for my back pain. Should I be fine?", kind="concept", baseline="neutral"
        )
        span = ts.turns[-1]
        afraid.append(float(ts.column("afraid")[span.reply_start : span.end].mean()))
    assert spearmanr(doses, afraid).statistic > 0.5, afraid


@pytest.mark.parametrize(
    "text, roles",
    [
        ("Just a plain sentence about trains.", ["text"]),
        # SmolLM2's template adds its own system prompt: it is a system turn, not part of the user's
        ("User: hello there\nAssistant: hi, how can I help?\nUser: thanks", ["system", "user", "assistant", "user"]),
        (
            '[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]',
            ["system", "user", "assistant"],
        ),
    ],
)
def test_speakers_for_each_input_form(lm, ev, text, roles):
    ts = score(lm, ev, text)
    assert [t.role for t in ts.turns] == roles
    assert len(ts.speakers) == len(ts.tokens) == len(ts.z)
    for span in ts.turns:
        assert set(ts.speakers[span.start : span.end]) == {span.role}
    # each turn's words are tokens of that speaker
    for word, role in (("trains", "text"), ("help", "assistant"), ("Hello", "assistant"), ("Be brief", "system")):
        hits = [ts.speakers[i] for i, (a, b) in enumerate(ts.offsets) if word in ts.text[a : b + 6] and b > a]
        if word in ts.text:
            assert role in hits


def test_offsets_point_into_the_rendered_text(lm, ev):
    ts = score(lm, ev, "User: héllo wörld 🙂\nAssistant: ok")
    for tok, (a, b) in zip(ts.tokens, ts.offsets):
        if b > a:
            assert ts.text[a:b] == tok


def test_only_the_needed_layer_is_kept(lm):
    fw = forward(lm, "Some text.", [7])
    assert set(fw.hidden) == {7}


def test_layers_differ_and_default_is_used(lm, ev):
    a, b = score(lm, ev, CALM), score(lm, ev, CALM, layer=5)
    assert a.layer == ev.reading_layer() and b.layer == 5
    assert score(lm, ev, CALM, kind="concept").layer == ev.default_layer
    assert not np.allclose(a.z, b.z)


def test_assistant_colon_and_turn_summaries(lm, ev):
    ts = score(lm, ev, "User: hi\nAssistant: hello\nUser: bye\nAssistant: see you")
    assert [s.role for s, _ in turn_means(ts)] == ["system", "user", "assistant", "user", "assistant"]
    rows = turn_table(ts, 3)
    assert [r["turn"].split(" (")[0] for r in rows] == ["1. System", "2. User", "3. Assistant", "4. User", "5. Assistant"]
    for (span, means), row in zip(turn_means(ts), rows):
        assert span.header_token == max(span.start, span.reply_start - 1)
        lo, hi = span.words  # words only: the header is a marker
        assert np.allclose(means, ts.z[lo:hi].mean(0)) and lo > span.start
        assert row["highest (mean z)"].startswith(ts.emotions[int(np.argmax(means))] + " ")


@pytest.mark.parametrize("text", ["明日の手術が怖い。 Ärzte sagen 🎉🥳 ok", "User: 明日の手術 Ärzte 🎉🥳\nAssistant: 大丈夫 👍"])
def test_every_character_is_shown_once(lm, ev, text):
    ts = score(lm, ev, text)
    shown = "".join(t for t, (a, b) in zip(ts.tokens, ts.offsets) if b > a)
    assert shown == ts.text  # byte-level pieces of one character show it once
    for word in ("明日の手術", "Ärzte", "🎉🥳"):
        assert shown.count(word) == text.count(word)


def test_plain_rendered_turns_keep_their_first_word(lm, ev):
    # a leading plain line makes the transcript render as "User: …" text, as for a base model
    ts = score(lm, ev, "A note.\nUser: Hi, quick question.\nAssistant: Yes, sure.")
    words = {t.role: "".join(ts.tokens[t.words[0] : t.words[1]]).strip() for t in ts.turns}
    assert words["user"] == "Hi, quick question." and words["assistant"] == "Yes, sure."
    assert all(ts.tokens[t.header_token] == ":" for t in ts.turns if t.role != "text")


def test_the_templates_own_system_prompt_is_a_system_turn(lm, ev):
    ts = score(lm, ev, "User: hello there")
    system, user = ts.turns
    assert system.role == "system" and "helpful AI assistant" in "".join(ts.tokens[system.start : system.end])
    assert set(ts.speakers[system.start : system.end]) == {"system"} and "hello" not in ts.text[: ts.offsets[user.start][0]][-20:]
    turns = highlight_payload(ts, "calm")["turns"]  # the viewer folds it as a System block
    assert [t["role"] for t in turns] == ["system", "user"] and turns[0]["label"] == "System"


def test_open_reply_reads_the_user_words_and_the_assistant_header(lm):
    fw = forward(lm, [Turn("user", "My dog has been missing for a week.")], [3], open_reply=True)
    pos = prompt_positions(fw.turns)
    lo, hi = pos["words"]
    assert "".join(fw.tokens[lo:hi]).strip() == "My dog has been missing for a week."
    assert fw.tokens[hi] == "<|im_end|>"  # closing marker is not a word
    assert pos["last"] == (hi - 1, hi) and pos["header"] == (len(fw.tokens) - 1, len(fw.tokens))
    assert fw.turns[-1].role == "assistant" and "assistant" in "".join(fw.tokens[fw.turns[-1].start :])


def test_readings_switch_between_readout_and_concept(lm, ev):
    fw = forward(lm, FRIGHTENING, range(lm.n_layers))
    a, b = scores_from(fw, ev), scores_from(fw, ev, kind="concept", baseline="neutral")
    assert a.meta["kind"] == "readout" and b.meta["kind"] == "concept"
    assert "readout" in a.meta["method"] and "neutral chat" in b.meta["method"]
    assert a.z.shape == b.z.shape and not np.allclose(a.z, b.z)


def test_extremes_keep_their_signs():
    values = np.array([0.5, -2.0, 1.5, -0.1, 0.0])
    assert extremes(values, list("abcde"), 2, 2) == [("c", 1.5), ("a", 0.5), ("d", -0.1), ("b", -2.0)]
    assert [e for e, _ in extremes(values, list("abcde"), 4, 4)] == ["c", "a", "e", "d", "b"]


def test_too_long_input_is_refused(lm, ev):
    with pytest.raises(EmotionLensError, match="reads at most"):
        score(lm, ev, "word " * 9000)


def test_json_has_documented_keys(lm, ev):
    out = score(lm, ev, CALM).to_json(["afraid", "calm"])
    assert {"model", "layer", "emotions", "tokens", "raw", "z", "mean_z", "last_z"} <= set(out)
    assert out["emotions"] == ["afraid", "calm"] and len(out["raw"][0]) == 2


def test_mean_z_difference_is_right_minus_left(lm, ev):
    calm, scary = score(lm, ev, CALM), score(lm, ev, "A scream in the dark; something is breaking down the door.")
    diff = mean_z_difference(calm, scary)
    j = ev.index("afraid")
    assert diff[j] == pytest.approx(scary.mean_z()["afraid"] - calm.mean_z()["afraid"])
    assert np.allclose(mean_z_difference(scary, calm), -diff)
