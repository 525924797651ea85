"""What steering did to a reply, measured independently.

- the readout's own reading of the steered emotion over the reply's words (closed loop);
- an outside judge: the VADER compound sentiment of the reply's text (the issue's judge), and a
  second one with other blind spots: the mean human-rated valence of its words (Warriner et al.);
- fluency: the reply's perplexity under the *unsteered* model, so broken text shows up.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from .probe import forward, scores_from
from .ratings import word_valence
from .transcript import Turn, parse_transcript


def conversation(prompt, reply: str) -> list[Turn]:
    """The prompt's turns with the reply as the Assistant's next turn."""
    turns = prompt if isinstance(prompt, list) and prompt and isinstance(prompt[0], Turn) else parse_transcript(prompt)
    if turns and turns[0].role == "text":          # a bare prompt is the user's message
        turns = [Turn("user", t.content) for t in turns]
    return [*turns, Turn("assistant", reply)]


@lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    return SentimentIntensityAnalyzer()


def vader_compound(text: str) -> float:
    """VADER's compound sentiment of a text, -1 (negative) … +1 (positive)."""
    return float(_vader().polarity_scores(text)["compound"])


def _reading(ev, fw, emotions: list[str]) -> dict[str, float]:
    ts = scores_from(fw, ev)
    lo, hi = ts.turns[-1].words
    return {e: float(ts.z[lo:hi, ts.emotions.index(e)].mean()) if hi > lo else float("nan") for e in emotions}


def _perplexity(fw) -> float:
    lo, hi = fw.turns[-1].words
    if hi - lo < 1 or lo < 1:
        return float("nan")
    logp = torch.log_softmax(fw.logits[lo - 1:hi - 1].float(), -1)
    nll = -logp.gather(1, torch.tensor(fw.input_ids[lo:hi])[:, None]).mean()
    return float(math.exp(float(nll)))


def reply_reading(lm, ev, prompt, reply: str, emotions: list[str]) -> dict[str, float]:
    """Mean z (the default reading) of each emotion over the reply's own words."""
    return _reading(ev, forward(lm, conversation(prompt, reply), [ev.reading_layer()]), emotions)


def reply_perplexity(lm, prompt, reply: str) -> float:
    """exp(mean negative log-likelihood) of the reply's word tokens under the plain model."""
    return _perplexity(forward(lm, conversation(prompt, reply), [0], logits=True))


def measure(lm, ev, prompt, reply: str, emotion: str) -> dict:
    """The measures of one reply, for one steered emotion, from one forward pass."""
    fw = forward(lm, conversation(prompt, reply), [ev.reading_layer()], logits=True)
    return {"reading": _reading(ev, fw, [emotion])[emotion], "vader": vader_compound(reply),
            "valence": word_valence(reply), "perplexity": _perplexity(fw)}


def sweep(lm, ev, prompt, emotion: str, strengths, seed: int | None = 0, max_new_tokens: int = 40,
          layer: int | None = None, layers: list[int] | None = None, positions: str = "all", kind: str = "concept",
          progress=None) -> list[dict]:
    """One reply per strength (the same seed), each measured: where does the text move, and
    where does it break down? Strength 0 is the baseline."""
    from .steering import steer_generate
    rows = []
    strengths = sorted(set(float(s) for s in strengths) | {0.0})
    for k, s in enumerate(strengths):
        reply = steer_generate(lm, ev, prompt, {emotion: s} if s else {}, layer=layer, layers=layers,
                               max_new_tokens=max_new_tokens, seed=seed, positions=positions, kind=kind)
        rows.append({"strength": s, "reply": reply, **measure(lm, ev, prompt, reply, emotion)})
        if progress:
            progress(k + 1, len(strengths))
    base = next(r for r in rows if r["strength"] == 0.0)
    for r in rows:
        r["perplexity_ratio"] = r["perplexity"] / base["perplexity"] if base["perplexity"] else np.nan
    return rows


# Neutral prompts: one set to choose the method and strength on, another to report on.
CHOOSE_PROMPTS = ["Tell me about your weekend.", "What did you have for breakfast?", "Describe the room you are in.",
                  "How do you usually spend your mornings?", "Tell me about a walk you took.",
                  "What is the weather like today?", "Describe your favourite street.",
                  "What did you do yesterday afternoon?"]
REPORT_PROMPTS = ["Tell me about your last trip to the shops.", "What are you doing this evening?",
                  "Describe a typical Tuesday.", "How was your commute today?", "Tell me about your neighbourhood.",
                  "What did you cook last night?", "Describe the view from your window.",
                  "What happened at work this week?"]
# More prompts for the held-out check alone: the chosen strengths run on REPORT_PROMPTS and these
# (32 prompts × 3 seeds = 96 pairs), so a verdict does not rest on 24 pairs' ±10 points.
CHECK_PROMPTS = ["Tell me about the last film you watched.", "What is in your fridge?", "Describe your front door.",
                 "How do you spend your lunch break?", "Tell me about your favourite chair.",
                 "What did you do last Sunday?", "Describe the bus stop near you.", "How do you do your laundry?",
                 "Tell me about the town hall.", "What did you buy at the market?", "Describe your garden.",
                 "How do you plan your week?", "Tell me about the train station.", "What did you wear yesterday?",
                 "Describe a corner of the library.", "How do you make tea?", "Tell me about your bicycle.",
                 "What is on the menu at the café?", "Describe the car park.", "How do you tidy your desk?",
                 "Tell me about the post office.", "What did you read this morning?", "Describe your hallway.",
                 "How do you water the plants?"]
# A second held-out set, written after the first verdict (on REPORT_PROMPTS + CHECK_PROMPTS) had
# been seen: a set-up chosen after that verdict is judged on prompts nobody has looked at.
SECOND_CHECK_PROMPTS = ["Tell me about the bakery on your street.", "What is in your wardrobe?",
                        "Describe the stairs in your building.", "How do you pack for a short trip?",
                        "Tell me about the clock in your living room.", "What did you do last Thursday?",
                        "Describe the pavement outside your house.", "How do you sort your post?",
                        "Tell me about your local swimming pool.", "What did you have for dinner on Monday?",
                        "Describe your bathroom.", "How do you choose a birthday card?",
                        "Tell me about the petrol station nearby.", "What is on your bookshelf?",
                        "Describe the lift in an office building.", "How do you boil an egg?",
                        "Tell me about the umbrella you use.", "What did you see from the bus today?",
                        "Describe a supermarket checkout.", "How do you iron a shirt?",
                        "Tell me about the bench in the square.", "What did you write on your shopping list?",
                        "Describe your kitchen table.", "How do you set an alarm clock?",
                        "Tell me about the hardware shop.", "What did you hear on the radio this morning?",
                        "Describe the landing outside your flat.", "How do you fold a towel?",
                        "Tell me about the village hall.", "What did you pack for lunch today?",
                        "Describe the roundabout near you.", "How do you clean your windows?"]
# A third held-out set, written after the second verdict had been seen (before anything ran on
# it), for set-ups or reply lengths chosen after that verdict.
THIRD_CHECK_PROMPTS = ["Tell me about the newsagent on the corner.", "What is in your kitchen drawer?",
                       "Describe the gate to your garden.", "How do you wash up after dinner?",
                       "Tell me about the rug in your hallway.", "What did you do last Wednesday?",
                       "Describe the doorbell of your building.", "How do you charge your phone?",
                       "Tell me about the launderette in town.", "What did you have for lunch on Friday?",
                       "Describe your bedside table.", "How do you wrap a parcel?",
                       "Tell me about the chemist's near you.", "What is on your windowsill?",
                       "Describe the waiting room at the dentist.", "How do you make toast?",
                       "Tell me about the kettle you use.", "What did you see from the train window?",
                       "Describe a ticket machine at a station.", "How do you sharpen a pencil?",
                       "Tell me about the fountain in the park.", "What did you put in your bag this morning?",
                       "Describe your coat hooks.", "How do you read a bus timetable?",
                       "Tell me about the butcher's shop.", "What did you watch on television last night?",
                       "Describe the car wash on the high street.", "How do you peel a potato?",
                       "Tell me about the recycling bins outside.", "What did you fetch from the shed?",
                       "Describe the pedestrian crossing near you.", "How do you hang up a picture?"]
# A fourth held-out set, written after the third verdict had been seen (before anything ran on it),
# for a cell chosen on the 120 choosing pairs after that verdict.
FOURTH_CHECK_PROMPTS = ["Tell me about the ironmonger's on the high street.", "What is in your glove compartment?",
                        "Describe the porch of your house.", "How do you defrost a freezer?",
                        "Tell me about the doormat at your front door.", "What did you do last Tuesday evening?",
                        "Describe the noticeboard in a community centre.", "How do you change a light bulb?",
                        "Tell me about the ticket office at the bus station.", "What did you have for tea on Sunday?",
                        "Describe your chest of drawers.", "How do you address an envelope?",
                        "Tell me about the key cutter's in the arcade.", "What is on your fridge door?",
                        "Describe the reception desk at a doctor's surgery.", "How do you make a sandwich?",
                        "Tell me about the toaster in your kitchen.", "What did you see from the car park roof?",
                        "Describe a vending machine in a corridor.", "How do you clean a pair of shoes?",
                        "Tell me about the clock tower in the square.", "What did you put in the recycling this week?",
                        "Describe your umbrella stand.", "How do you top up a travel card?",
                        "Tell me about the fishmonger's at the market.", "What did you listen to while cooking?",
                        "Describe the multi-storey car park in town.", "How do you grate cheese?",
                        "Tell me about the phone box on the green.", "What did you take out of the loft?",
                        "Describe the level crossing outside the village.", "How do you put up a shelf?"]
# More choosing prompts, written after the second verdict: on 24 pairs two cells near the 2× line
# cannot be told apart (SmolLM2's "sad" read 1.98× at 0.5 and 2.10× at 0.45 on the same prompts),
# so a cell meant for a held-out verdict is first chosen on these as well (120 choosing pairs).
MORE_CHOOSE_PROMPTS = ["Tell me about the greengrocer's in your town.", "What is in your pencil case?",
                       "Describe the letterbox on your street.", "How do you make a salad?",
                       "Tell me about the lamp on your desk.", "What did you do last Saturday morning?",
                       "Describe the entrance of the museum.", "How do you lay the table for dinner?",
                       "Tell me about the tram stop in the centre.", "What did you have for supper on Saturday?",
                       "Describe your living-room curtains.", "How do you brew coffee?",
                       "Tell me about the florist's near the station.", "What is on your notice board?",
                       "Describe the queue at the bank.", "How do you mend a puncture?",
                       "Tell me about the taxi rank outside the station.", "What did you notice on your way to work?",
                       "Describe a parking meter.", "How do you sew on a button?",
                       "Tell me about the stationery shop.", "What did you pick up from the dry cleaner's?",
                       "Describe the cupboard under your stairs.", "How do you check the tyre pressure on a car?",
                       "Tell me about the allotments near you.", "What did you leave on the kitchen counter?",
                       "Describe the lobby of a hotel.", "How do you make porridge?",
                       "Tell me about the cinema in your town.", "What did you order at the sandwich bar?",
                       "Describe the loading bay behind a shop.", "How do you plan a train journey?"]
# The held-out sets a verdict can use (tools/steering_study.py --held); each model's study says which.
HELD_SETS = {"first": REPORT_PROMPTS + CHECK_PROMPTS, "second": SECOND_CHECK_PROMPTS, "third": THIRD_CHECK_PROMPTS,
             "fourth": FOURTH_CHECK_PROMPTS}
HELD_SET_LABELS = {"first": "report and check prompts",
                   "second": "prompts of the second held-out set (written after the first verdict had been seen)",
                   "third": "prompts of the third held-out set (written after the second verdict had been seen)",
                   "fourth": "prompts of the fourth held-out set (written after the third verdict had been seen)"}
# Steering set-ups compared on CHOOSE_PROMPTS: which directions, added where (all positions).
# "depth" is one layer (None: the vectors' default layer, about two-thirds deep, as in the
# paper); "span" is every layer between two depths, the strength split evenly over them.
SETUPS = {f"{kind}, {'layer at 2/3 depth' if depth is None else f'layer at {depth:.0%} depth'}":
          {"kind": kind, "depth": depth, "positions": "all"}
          for kind, depths in (("concept", (None, 0.4, 0.8)), ("readout", (0.4, 0.8)), ("contrast", (0.4, 0.8)))
          for depth in depths}
SETUPS.update({f"{kind}, spread over layers at 13–67% depth": {"kind": kind, "span": (0.13, 0.67), "positions": "all"}
               for kind in ("concept", "contrast", "blend")})
SETUPS.update({f"{kind}, spread over layers at 27–53% depth": {"kind": kind, "span": (0.27, 0.53), "positions": "all"}
               for kind in ("contrast", "blend")})
# The "happy vs sad versions of the same prompt": the emotion pushed up and its opposite
# down at half the strength, so the direction loses what the two share (on SmolLM2's layer 8 the
# contrast directions of "happy" and "sad" have cosine 0.7) and points along valence.
SETUPS["blend, spread over layers at 27–53% depth, against its opposite at half strength"] = {
    "kind": "blend", "span": (0.27, 0.53), "positions": "all", "against": 0.5}
EXPECTED = {"happy": 1, "sad": -1, "calm": 1, "desperate": -1}      # the direction VADER should move
OPPOSITE = {"happy": "sad", "sad": "happy", "calm": "desperate", "desperate": "calm"}


def cell_setup(name: str, against: float | None = None, positions: str | None = None,
               opposite: dict[str, str] | None = None) -> dict:
    """A study set-up (``SETUPS``) with its opposite's share, the emotion it is steered against, or its positions changed."""
    setup = dict(SETUPS[name])
    if against is not None:
        setup["against"] = against
    if opposite:
        setup["opposite"] = opposite
    if positions is not None:
        setup["positions"] = positions
    return setup


def setup_strengths(setup: dict, emotion: str, strength: float) -> dict[str, float]:
    """What a set-up (or ``study_setup``'s answer) steers for one emotion at one strength: the
    emotion, and its opposite (the set-up's ``opposite`` map, else ``OPPOSITE``, where it has one)
    pushed the other way when the set-up steers against it."""
    against, opposite = setup.get("against", 0.0), setup.get("opposite", OPPOSITE)
    if against and emotion in opposite and strength:
        return {emotion: strength, opposite[emotion]: -against * strength}
    return {emotion: strength}


def setup_layers(ev, setup: dict) -> list[int]:
    """The layers a set-up steers at."""
    def at(depth):
        return min(ev.n_layers - 1, round(depth * ev.n_layers))
    if setup.get("span"):
        lo, hi = setup["span"]
        return list(range(at(lo), at(hi) + 1))
    return [ev.default_layer if setup.get("depth") is None else at(setup["depth"])]


def study_setup(ev) -> dict:
    """The steering set-up this model's effect study chose (``tools/steering_study.py`` writes
    ``steering.json`` beside the vectors): ``{"kind", "layers", "setup", "strength", "against"}``
    (``against``: the share of the strength its opposite is pushed the other way); without a
    study, or when its directions are missing here, the paper's concept vectors at the default
    layer. ``strength`` is a sensible starting strength (``study_strength`` over the chosen
    set-up's rows on the choosing prompts; the report prompts only report)."""
    import json
    from .vectors import vectors_dir
    fallback = {"kind": "concept", "layers": [ev.default_layer], "setup": None, "strength": DEFAULT_STRENGTH,
                "against": 0.0}
    try:
        study = json.loads((vectors_dir(ev.model_name) / "steering.json").read_text(encoding="utf-8"))
        setup = SETUPS[study["chosen_setup"]]
    except (OSError, ValueError, KeyError, TypeError):
        return fallback
    if not ev.has_directions(setup["kind"]):
        return fallback
    return {"kind": setup["kind"], "layers": setup_layers(ev, setup), "setup": study["chosen_setup"],
            "against": setup.get("against", 0.0),
            "strength": study_strength([r for r in study.get("choose", []) if r.get("setup") == study["chosen_setup"]])}


DEFAULT_STRENGTH = 0.3
FLUENT_PERPLEXITY_RATIO = 2.0       # the line: a steered reply's median perplexity within 2× baseline


def goal_met(row: dict) -> bool:
    """The issue's goal for one cell: judge and readout both moved in ≥ 90% of pairs, within 2× perplexity."""
    return min(row["vader_moved"], row["reading_moved"]) >= 0.9 and row["median_perplexity_ratio"] <= FLUENT_PERPLEXITY_RATIO


def verdict_text(row: dict) -> str:
    """"VADER 93%, reading 93%, perplexity 1.68× — met": one held-out cell, as the study and the app say it."""
    def rate(x: float) -> str:         # 89.6% is not the goal's 90%, though it rounds to it
        return f"{x:.1%}" if 0.895 <= x < 0.9 else f"{x:.0%}"
    second = f" (word valence {rate(row['valence_moved'])})" if "valence_moved" in row else ""
    return (f"VADER {rate(row['vader_moved'])}{second}, reading {rate(row['reading_moved'])}, perplexity "
            f"{row['median_perplexity_ratio']:.2f}× — " + ("met" if goal_met(row) else "not met"))


def held_out_totals(rows: list[dict]) -> dict[str, dict]:
    """Per emotion held out more than once, ``{"verdicts", "pairs", "vader", "reading"}`` (pairs moved) over all
    its verdicts: one try that lands on 90% by chance is not the goal met, so the page says the sum too."""
    out: dict[str, dict] = {}
    for r in rows:
        t = out.setdefault(r["emotion"], {"verdicts": 0, "pairs": 0, "vader": 0, "reading": 0})
        t["verdicts"] += 1
        t["pairs"] += r["pairs"]
        t["vader"] += round(r["vader_moved"] * r["pairs"])
        t["reading"] += round(r["reading_moved"] * r["pairs"])
    return {e: t for e, t in out.items() if t["verdicts"] > 1}


def totals_text(emotion: str, t: dict) -> str:
    """"All 4 held-out verdicts on **sad** together: …", one of ``held_out_totals`` as the page says it."""
    return (f"The {t['verdicts']} held-out verdicts on **{emotion}** together: the judge moved in {t['vader']} of "
            f"{t['pairs']} pairs ({t['vader'] / t['pairs']:.1%}), the readout in {t['reading']} "
            f"({t['reading'] / t['pairs']:.1%}).")


def plain_totals(rows: list[dict]) -> str:
    """"Pushing **happy** made replies more positive in 9 of 10 tries; **sad** …": the held-out verdicts of
    each emotion pooled, in words for an audience (the outside judge, VADER, decides)."""
    pooled: dict[str, list[int]] = {}
    for r in rows:
        moved, pairs = pooled.setdefault(r["emotion"], [0, 0]), r["pairs"]
        moved[0] += round(r["vader_moved"] * pairs)
        moved[1] += pairs
    way = lambda e: "more negative" if EXPECTED.get(e, 1) < 0 else "more positive"
    parts = [f"**{e}** made replies {way(e)} in {round(10 * m / n)} of 10 tries" for e, (m, n) in pooled.items()]
    return ("On this model, on prompts the study never tuned on, pushing " + "; ".join(parts)
            + " (judged by VADER, an outside sentiment scorer).") if parts else ""


def verdict_label(row: dict) -> str:
    """"**sad** at 0.3, <set-up>, against "loving" at 0.5× the strength, over 96 pairs": what a verdict held out,
    with the against-share a cell set beside its set-up's name (``tools/steering_cell.py``)."""
    against = (f', against "{row["opposite"]}"' if row.get("opposite") else
               ", against its opposite" if row.get("against") and "against" not in row["setup"] else "")
    return (f"**{row['emotion']}** at {row['strength']:g}, {row['setup']}"
            + (f"{against} at {row['against']:g}× the strength" if against else "") + f", over {row['pairs']} pairs")


def study_verdicts(folder) -> list[dict]:
    """Every held-out verdict on steering the model whose vectors are in ``folder``: its study's (the chosen
    set-up, then each emotion's own best finalist) and those recorded since by ``tools/steering_cell.py
    --held``; each row with its ``held`` set. Empty without a study."""
    import json
    out = []
    for name in ("steering.json", "steering-verdicts.json"):
        try:
            stored = json.loads((folder / name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        for r in stored.get("held_out", []) + stored.get("own_held_out", []) + stored.get("verdicts", []):
            row = {**r, "held": r.get("held", stored.get("held_set")),
                   "tokens": r.get("tokens", stored.get("tokens"))}
            if row not in out:
                out.append(row)
    return out


def verdict_setup(row: dict) -> dict:
    """The set-up a held-out verdict steered (its study set-up with the cell's against-share, opposite
    and positions), as ``effect_cells`` takes it."""
    return cell_setup(row["setup"], row.get("against"), row.get("positions"),
                      {row["emotion"]: row["opposite"]} if row.get("opposite") else None)


def verdict_settings(ev, row: dict) -> dict:
    """What a held-out verdict steered, as the Steering page's settings (``{"kind", "layers", "strengths",
    "positions", "tokens"}``), so a user can try the very set-up a verdict judged."""
    setup = verdict_setup(row)
    return {"kind": setup["kind"], "layers": row.get("layers") or setup_layers(ev, setup),
            "strengths": setup_strengths(setup, row["emotion"], row["strength"]),
            "positions": setup["positions"], "tokens": row.get("tokens") or 60}


def study_strength(rows: list[dict]) -> float:
    """The strength that moved the emotions in ``rows`` most (mean over them of the worse of
    judge and reading) while every one stayed within 2× perplexity: where a model's text still
    holds together. Gemma breaks at strengths SmolLM2 takes, so one default does not fit both."""
    by_strength: dict[float, list[dict]] = {}
    for r in rows:
        by_strength.setdefault(r["strength"], []).append(r)
    fluent = {s: rows for s, rows in by_strength.items() if all(r["median_perplexity_ratio"] <= FLUENT_PERPLEXITY_RATIO for r in rows)}
    if not fluent:
        return min(by_strength, default=DEFAULT_STRENGTH)
    # rounded, so rates equal as fractions of the same pairs tie (and the gentler strength wins)
    return max(fluent, key=lambda s: (round(float(np.mean([min(r["vader_moved"], r["reading_moved"]) for r in fluent[s]])), 9), -s))


def layers_label(layers: list[int]) -> str:
    """"layer 12" or "layers 4–20 (strength split evenly)", for captions and method lines."""
    return f"layer {layers[0]}" if len(layers) == 1 else f"layers {layers[0]}–{layers[-1]} (strength split evenly)"


def _setup_kwargs(ev, setup: dict) -> dict:
    return {"layers": setup_layers(ev, setup), "positions": setup.get("positions", "all"),
            "kind": setup.get("kind", "concept")}


def effect_cells(lm, ev, prompts: list[str], emotion: str, strengths: list[float], setup: dict,
                 seeds=(0, 1, 2), max_new_tokens: int = 60, baselines: dict | None = None) -> list[dict]:
    """Per strength: in how many (prompt, seed) pairs the judges and the readout moved the expected
    way against the unsteered reply, and the median perplexity ratio.

    ``baselines`` (shared between calls) keeps each unsteered reply and its measures, so a
    (prompt, seed) pair is written unsteered once."""
    from .steering import steer_generate
    kw = _setup_kwargs(ev, setup)
    baselines = {} if baselines is None else baselines
    rows, sign = [], EXPECTED[emotion]
    for s in strengths:
        vader_up = valence_up = read_up = 0
        ratios, n = [], 0
        for p in prompts:
            for seed in seeds:
                prompt = f"User: {p}"
                if (p, seed) not in baselines:
                    baselines[(p, seed)] = steer_generate(lm, ev, prompt, {}, max_new_tokens=max_new_tokens, seed=seed)
                if (p, seed, emotion) not in baselines:
                    baselines[(p, seed, emotion)] = measure(lm, ev, prompt, baselines[(p, seed)], emotion)
                base = baselines[(p, seed, emotion)]
                reply = steer_generate(lm, ev, prompt, setup_strengths(setup, emotion, s), max_new_tokens=max_new_tokens,
                                       seed=seed, **kw)
                m = measure(lm, ev, prompt, reply, emotion)
                vader_up += np.sign(s) * sign * (m["vader"] - base["vader"]) > 0
                valence_up += np.sign(s) * sign * (m["valence"] - base["valence"]) > 0
                read_up += np.sign(s) * (m["reading"] - base["reading"]) > 0
                ratios.append(m["perplexity"] / base["perplexity"])
                n += 1
        rows.append({"emotion": emotion, "strength": s, "pairs": n, "vader_moved": vader_up / n,
                     "valence_moved": valence_up / n, "reading_moved": read_up / n,
                     "median_perplexity_ratio": float(np.median(ratios))})
    return rows
