"""Steering: add emotion vectors while the model writes; see what changes, and where text breaks."""

import json
import math

import streamlit as st

from app_state import against_text, highlight_view, model_turn, page_header, steering_preset, strengths_text, user_errors, what
from core import plots
from core.effects import read_reply, sweep
from core.render import highlight_payload
from core.steering import STEER_KINDS, steer_generate
from core.steering_preset import layers_label
from core.verdicts import goal_met, held_out_totals, plain_totals, totals_text, verdict_label, verdict_text

name, lm, ev = page_header("Steering")
st.markdown(
    "Add an emotion's direction (the paper's concept vector, the readout's, a contrast from the "
    "model's own chats, or that contrast blended with a little of the readout's) to the model's "
    "residual stream while it writes, in units of that layer's mean residual norm (the paper's unit), "
    "and compare the reply with the one the same seed gives unsteered. Each reply is read back by the "
    "readout, so you see whether the model's own emotion signal moved. These are small models: small "
    "strengths often change little, large ones break the text — the sweep shows where."
)

prompt = st.text_area(
    "The chat so far",
    "User: Tell me about your weekend.",
    height=90,
    max_chars=4000,
    key="steer_prompt",
    help="Plain text, User:/Assistant: turns, or JSON chat messages",
)
KIND_LABELS = {
    "concept": "concept vectors (paper)",
    "readout": "readout directions",
    "contrast": "contrast (model's own chats)",
    "blend": "contrast + ¼ readout",
}
study = steering_preset(name)
kinds = [k for k in STEER_KINDS if ev.has_directions(k)]
verdicts = list(study.verdicts)
tryable = [(r, r["settings"]) for r in verdicts if r["settings"]["kind"] in kinds]  # (verdict, its settings)


def start_from():
    """Start the steering widgets again from a held-out verdict's set-up or from the study's defaults. They are
    drawn afresh under new keys: the browser keeps showing a widget's old value when only its state is dropped,
    and setting the state of a widget that has a default of its own makes Streamlit warn."""
    choice = st.session_state[f"steer_start-{name}"]
    st.session_state[f"steer_preset-{name}"] = None if choice is None else tryable[choice][1]
    st.session_state.steer_round = st.session_state.get("steer_round", 0) + 1


def widget_key(key: str) -> str:
    """A steering widget's key for this model and this round of Start from: another model's widgets
    (its layers, its strengths) never carry over to this one."""
    rounds = st.session_state.get("steer_round", 0)
    return f"{key}@{name}~{rounds}"


started = st.session_state.get(f"steer_preset-{name}")  # a verdict's settings, from Start from
start = started or {
    "kind": study.kind,
    "layers": list(study.layers),
    "positions": study.positions,
    "tokens": 60,
    # with "desperate" against "calm", if the study steered against opposites
    "strengths": study.strengths("calm", study.strength),
}
c0, c1, c2, c3, c4 = st.columns([1.3, 1, 1, 1, 1.4])
kind = c0.radio(
    "Direction",
    kinds,
    index=kinds.index(start["kind"]),
    key=widget_key("steer_kind"),
    format_func=KIND_LABELS.get,
    help="Concept vectors describe each emotion (the paper steers with these); the readout's "
    "directions tell emotions apart; contrast directions are what the model itself does when asked "
    "to answer in that emotion; the blend adds a quarter of the readout direction to the contrast, so "
    "replies move toward what the readout reads as that emotion. All are used at unit length.",
)
first, last = c1.select_slider(
    "Layers",
    range(ev.n_layers),
    (start["layers"][0], start["layers"][-1]),
    key=widget_key("steer_layers"),
    help="One layer, or a range: the strength is then "
    "split evenly over its layers. The concept vectors' layer is "
    f"{ev.default_layer}, about two-thirds deep",
)
layers = list(range(first, last + 1))
if started:
    st.caption(
        f"Started from a held-out verdict's set-up: {KIND_LABELS[started['kind']]} at "
        f"{layers_label(started['layers'])}, {strengths_text(started['strengths'])}, {started['tokens']} tokens. "
        "Pick the study's defaults under Start from to go back."
    )
elif study.name:
    st.caption(
        f"Defaults: {KIND_LABELS[study.kind]} at {layers_label(study.layers)} and strength "
        f"{study.strength:g}, the set-up the steering study chose and the strength at which its replies "
        "moved most while staying fluent (docs/steering-study.md)"
        + (f'; it steered {against_text(study)}, so "desperate" starts against "calm"' if study.against else "")
        + "."
    )
if verdicts:
    st.markdown(plain_totals(verdicts))
    st.caption(
        f"Held out on {lm.name}, on prompts none of these choices saw (the goal: the judge and the readout "
        "both move the expected way in ≥ 90% of pairs within 2× perplexity): "
        + "".join(f"  \n· {verdict_label(r)}: {verdict_text(r)}" for r in verdicts)
        + "".join(f"  \n{totals_text(e, t)}" for e, t in held_out_totals(verdicts).items())
    )
if tryable:

    def start_label(i):
        if i is None:
            return "the steering study's defaults"
        r, got = tryable[i]  # the verdict's emotion comes first in its strengths
        return (
            f"{strengths_text(got['strengths'])}, {r['setup'].split(',')[0]} at layers "
            f"{got['layers'][0]}–{got['layers'][-1]} — {r['held']} held-out set: " + ("met" if goal_met(r) else "not met")
        )

    st.selectbox(
        "Start from",
        [None, *range(len(tryable))],
        format_func=start_label,
        key=f"steer_start-{name}",
        on_change=start_from,
        help="Set the direction, layers, emotions, strengths and reply length to "
        "what a held-out verdict steered, to see its replies for yourself",
    )
positions = c2.radio(
    "Steer",
    ["all", "generated"],
    ["all", "generated"].index(start["positions"]),
    key=widget_key("steer_positions"),
    format_func={"all": "prompt and reply", "generated": "only the reply"}.get,
)
seed = int(
    c3.number_input("Seed", 0, 100_000, 0, key="steer_seed", help="The same seed gives the baseline and the steered reply the same dice")
)
n_tokens = c4.slider(
    "Reply length (tokens)",
    10,
    120,
    start["tokens"],
    key=widget_key("steer_tokens"),
    help="60 is the API's default, and the length of the replies SmolLM2's steering study measured",
)
# the sliders say exactly what is steered: nothing more is pushed against (against=0)
generation = dict(layers=layers, max_new_tokens=n_tokens, seed=seed, positions=positions, kind=kind, against=0.0)
units = f"that layer's mean residual norm ({lm.residual_norms[first]:.1f})" if len(layers) == 1 else "each layer's mean residual norm"
method = (
    f"{name} · {KIND_LABELS[kind]} added at {layers_label(layers)} "
    f"({'prompt and reply' if positions == 'all' else 'reply only'}) · strengths × {units} · seed {seed}"
)


MAX_REPLIES = 32  # replies kept per session, so "Generate both" again with the same settings is instant


def generate(slot, label: str, strengths: dict[str, float]) -> str:
    """One reply, streamed into ``slot`` as it is written with its own progress bar; kept per
    session by its settings, so sliders moving elsewhere never re-generate."""
    key = (name, prompt, tuple(sorted(strengths.items())), json.dumps(generation, sort_keys=True))
    kept = st.session_state.setdefault("steer_replies", {})
    if key in kept:
        return kept[key]
    bar, box = slot.progress(0.0, f"{label}: starting…"), slot.empty()
    written = [0]

    def on_text(text: str) -> None:
        written[0] += 1
        bar.progress(min(1.0, written[0] / n_tokens), f"{label}: {written[0]} of at most {n_tokens} tokens")
        box.text(text)  # model output: shown as plain text, never markdown or HTML

    with model_turn(lm):
        reply = steer_generate(lm, ev, prompt, strengths, on_text=on_text, **generation)
    bar.empty()
    box.empty()
    kept[key] = reply
    while len(kept) > MAX_REPLIES:
        kept.pop(next(iter(kept)))
    return reply


@st.cache_data(show_spinner=False, max_entries=64)
def read_back(model: str, prompt: str, reply: str, emotion: str, key: str):
    """A reply read back once (its measures and its highlights, from one forward pass), not on every rerun."""
    ts, measures = read_reply(lm, ev, prompt, reply, emotion)  # a cached function draws nothing: no queue message
    return measures, highlight_payload(ts, emotion, "z", key=key, families=ev.families)


tab_one, tab_sweep = st.tabs(["Baseline and steered", "Sweep strengths"])

with tab_one:
    defaults = start["strengths"]
    chosen = st.multiselect("Emotions to steer", ev.emotions, list(defaults), max_selections=4, key=widget_key("steer_emotions"))
    strengths = {
        e: st.slider(e, -1.0, 1.0, float(defaults.get(e, study.strength)), 0.005, format="%.3g", key=widget_key(f"steer-{e}"))
        for e in chosen
    }
    if st.button("Generate both", type="primary", key="steer_go") and prompt.strip():
        with user_errors():
            live = st.columns(2)
            plain = generate(live[0], "Baseline", {})
            steered = generate(live[1], "Steered", strengths)
            st.session_state.steer_pair = (prompt, generation, dict(strengths), plain, steered)
            st.session_state.pop("steer_focus", None)  # a new pair is read back by its own hardest push
    pair = st.session_state.get("steer_pair")
    if pair and pair[0] == prompt and pair[1] == generation:
        _, _, used, plain, steered = pair
        pushed = list(used) or ["calm"]
        hardest = max(pushed, key=lambda e: abs(used.get(e, 0)))  # not the first listed: it may be at 0
        focus = st.columns([1, 3])[0].selectbox(
            "Read back", pushed, index=pushed.index(hardest), key="steer_focus", help="the emotion whose reading colours both replies"
        )
        with user_errors():
            cols = st.columns(2)
            steered_label = "Steered: " + strengths_text(used)
            for col, label, reply, key in (
                (cols[0], "Baseline (no steering)", plain, "steer_base"),
                (cols[1], steered_label, steered, "steer_steered"),
            ):
                with col:
                    st.markdown(f"**{label}**")
                    m, payload = read_back(name, prompt, reply, focus, key)
                    a, b, v, c = st.columns(4)
                    a.metric(f"readout: {focus}", f"{m['reading']:+.2f}", help="mean z over the reply's words")
                    b.metric("VADER", f"{m['vader']:+.2f}", help="an outside judge of the text's sentiment, −1…+1")
                    v.metric(
                        "word valence",
                        "—" if math.isnan(m["valence"]) else f"{m['valence']:.2f}",
                        help="a second outside judge: the mean human rating (Warriner et al. 2013; "
                        "1 unpleasant … 9 pleasant) of the reply's rated words. Blind to negation, where "
                        "VADER is not",
                    )
                    c.metric(
                        "perplexity",
                        f"{m['perplexity']:.1f}",
                        help="under the unsteered model; higher = less like the model's own fluent text",
                    )
                    highlight_view(payload)
        what(
            "the same prompt answered twice with the same seed, without and with the emotion vectors added "
            '(each reply ends where the model ends it or starts another turn, "User:"). '
            "Each reply is coloured by the model's own reading of the emotion under Read back (z; red = stronger "
            "than in typical emotional text), so you can see whether steering moved the internal signal, not "
            "only the words."
        )
        st.caption(method)

with tab_sweep:
    c1, c2 = st.columns([2, 3])
    swept = next(iter(started["strengths"])) if started else "happy"
    target = c1.selectbox("Emotion", ev.emotions, ev.emotions.index(swept), key=widget_key("sweep_emotion"))
    top = c2.select_slider("Strengths from −max to +max", [0.25, 0.5, 1.0, 1.5, 2.0], 1.0, key="sweep_max")
    grid = [round(top * k / 4, 4) for k in range(-4, 5)]
    if st.button(f"Run the sweep ({len(grid)} replies)", type="primary", key="sweep_go") and prompt.strip():
        bar = st.progress(0.0, "Generating and measuring…")
        with user_errors():
            with model_turn(lm):
                rows = sweep(lm, ev, prompt, target, grid, progress=lambda k, n: bar.progress(k / n, f"{k} of {n}"), **generation)
            st.session_state.sweep_rows = (prompt, generation, target, rows)
        bar.empty()
    done = st.session_state.get("sweep_rows")
    if done and done[0] == prompt and done[1] == generation and done[2] == target:
        rows = done[3]
        fig = plots.sweep_figure(rows, target, method)
        st.plotly_chart(fig, key="sweep_fig")
        what(
            f"how the reply changes as '{target}' is added more strongly (negative = subtracted). Top left: the "
            "model's own reading of that emotion over the reply. Then two outside judges of the text: VADER "
            "sentiment, and the mean human-rated pleasantness of its words (they err in different places: "
            "VADER on similes, word valence on negation). Last: how surprising the reply is to the unsteered "
            "model, relative to the baseline — where it shoots up, the text is breaking down."
        )
        st.dataframe(
            [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in rows], hide_index=True, width="stretch"
        )
