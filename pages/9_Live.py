"""Live: watch the model's emotion readings while it writes, and stop it when one crosses a line."""

import streamlit as st

from app_state import against_text, model_turn, page_header, steering_preset, strength_text, user_errors, what
from core.monitor import DEFAULT_WATCH, default_threshold, monitor_stream, new_result, parse_watch
from core.render import live_html
from core.steering_preset import layers_label

name, lm, ev = page_header("Live monitoring")
st.markdown(
    "The model answers the chat below and every token appears as it is written, already coloured by "
    "the model's internal reading of one emotion. Put emotions on the watch-list with a z threshold: a "
    "token whose reading reaches it is outlined and raises an alert, and with *stop when crossed* the "
    "reply ends at that token, before anything after it is written — the paper's proposal of emotion "
    "readings as an early warning."
)
prompt = st.text_area(
    "The chat so far",
    "User: I was fired today and we lose the apartment in three days if I can't pay rent. What do I do?",
    height=90,
    max_chars=4000,
    key="live_prompt",
)
c1, c2 = st.columns([3, 2])
watched = c1.multiselect(
    "Watch-list (emotions or families)", ev.emotions + ev.families.labels, list(DEFAULT_WATCH), max_selections=8, key="live_watch"
)
stop = c2.toggle("Stop when crossed", key="live_stop")
cols = st.columns(max(1, len(watched)))
threshold, threshold_help = default_threshold(name)
watch = {
    e: col.slider(f"{e}: alert at z ≥", 0.0, 10.0, threshold, 0.5, key=f"live-{name}-{e}", help=threshold_help)
    for e, col in zip(watched, cols)
}
c1, c2, c3 = st.columns(3)
colour = c1.selectbox("Colour by", watched or ["afraid"], key="live_colour")
n_tokens = c2.slider("Reply length (tokens)", 10, 200, 60, key="live_tokens")
seed = int(c3.number_input("Seed", 0, 100_000, 0, key="live_seed"))
steer = steering_preset(name)
with st.expander("Steer at the same time (closed loop)"):
    st.caption(
        f"{steer.kind} directions at {layers_label(steer.layers)}"
        + (" (the set-up the steering study chose)" if steer.name else "")
        + (f"; it steers {against_text(steer)}, as the study did" if steer.against else "")
    )
    s1, s2 = st.columns(2)
    steer_emotion = s1.selectbox("Emotion", ev.emotions, index=ev.emotions.index("calm"), key="live_steer_e")
    steer_strength = s2.slider("Strength (× mean residual norm)", -1.0, 1.0, 0.0, 0.05, key="live_steer_s")
    steering = steer.strengths(steer_emotion, steer_strength)


def outcome(result) -> None:
    """The finished reply, why it ended, and the runs of tokens that crossed."""
    (st.error if result.stopped_at is not None else st.info)(result.reason[0].upper() + result.reason[1:] + ".")
    if result.flagged:
        st.dataframe(
            [
                {
                    "emotion": f["emotion"],
                    "tokens": f"{f['start']}–{f['end'] - 1}",
                    "text": "".join(result.tokens[f["start"] : f["end"]]),
                    "peak z": f["peak_z"],
                }
                for f in result.flagged
            ],
            hide_index=True,
            width="stretch",
        )
    what(
        "the reply as it was written, each token coloured by the model's reading of the chosen emotion at that "
        "token (token-level reading: red, stronger than in typical text; blue, weaker; full colour at z = ±3). Outlined "
        "tokens crossed a watch-list threshold; the table lists each run of crossing tokens and its peak."
    )


if st.button("Start", type="primary", key="live_go") and prompt.strip():
    with user_errors():
        watch = parse_watch(watch, ev.emotions, ev.families)
        result = new_result(lm, ev, watch)
        st.caption(
            f"{result.method} · watching {', '.join(f'{e} ≥ {t:g}' for e, t in watch.items()) or 'nothing'}"
            + (
                f" · steering {', '.join(f'{e} {strength_text(s)}' for e, s in steering.items())} ({steer.kind} "
                f"directions) at {layers_label(steer.layers)}"
                if steer_strength
                else ""
            )
        )
        area, alert = st.empty(), st.empty()
        flagged = set()
        with model_turn(lm):
            for step in monitor_stream(
                lm,
                ev,
                prompt,
                watch,
                result,
                stop=stop,
                max_new_tokens=n_tokens,
                seed=seed,
                strengths={steer_emotion: steer_strength} if steer_strength else None,
            ):
                # the preset picks the directions and layers and pushes the opposite, as the caption says
                if step.crossed:
                    flagged.add(step.index)
                    alert.warning(
                        f"⚑ token {step.index} ({step.token!r}) crossed: "
                        + ", ".join(f"{e} z {result.series(e)[-1]:+.2f}" for e in step.crossed)
                    )
                area.markdown(live_html(result.tokens, result.series(colour), flagged), unsafe_allow_html=True)
        st.session_state.live_last = (result, colour, flagged)
    outcome(result)
elif st.session_state.get("live_last"):
    result, colour, flagged = st.session_state.live_last  # the last run, kept while settings move
    st.caption(f"Last run · {result.method}")
    st.markdown(live_html(result.tokens, result.series(colour), flagged), unsafe_allow_html=True)
    outcome(result)
