"""Held-out steering verdicts, as the app and the study say them.

A verdict is one emotion steered at one strength with one set-up, on prompts no choice saw: in
how many (prompt, seed) pairs an outside judge (VADER) and the model's own reading moved the
expected way, and how fluent the replies stayed. The study records them in the model's
steering preset (``core.steering_preset``), each with the ``settings`` it steered.
"""

from __future__ import annotations

FLUENT_PERPLEXITY_RATIO = 2.0  # a steered reply's median perplexity within 2× its baseline's
GOAL = 0.9  # judge and reading both moved in ≥ 90% of pairs


def goal_met(row: dict) -> bool:
    """The goal for one verdict: judge and reading both moved in ≥ 90% of pairs, within 2× perplexity."""
    return min(row["vader_moved"], row["reading_moved"]) >= GOAL and row["median_perplexity_ratio"] <= FLUENT_PERPLEXITY_RATIO


def verdict_text(row: dict) -> str:
    """ "VADER 93%, reading 93%, perplexity 1.68× — met"."""

    def rate(x: float) -> str:  # 89.6% is not the goal's 90%, though it rounds to it
        return f"{x:.1%}" if 0.895 <= x < 0.9 else f"{x:.0%}"

    second = f" (word valence {rate(row['valence_moved'])})" if "valence_moved" in row else ""
    return (
        f"VADER {rate(row['vader_moved'])}{second}, reading {rate(row['reading_moved'])}, perplexity "
        f"{row['median_perplexity_ratio']:.2f}× — " + ("met" if goal_met(row) else "not met")
    )


def verdict_label(row: dict) -> str:
    """ "**sad** at 0.3, <set-up>, against "loving" at 0.5× the strength, over 96 pairs"."""
    against = (
        f', against "{row["opposite"]}"'
        if row.get("opposite")
        else ", against its opposite"
        if row.get("against") and "against" not in row["setup"]
        else ""
    )
    return (
        f"**{row['emotion']}** at {row['strength']:g}, {row['setup']}"
        + (f"{against} at {row['against']:g}× the strength" if against else "")
        + f", over {row['pairs']} pairs"
    )


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
    """ "The 4 held-out verdicts on **sad** together: …", one of ``held_out_totals`` as the page says it."""
    return (
        f"The {t['verdicts']} held-out verdicts on **{emotion}** together: the judge moved in {t['vader']} of "
        f"{t['pairs']} pairs ({t['vader'] / t['pairs']:.1%}), the readout in {t['reading']} "
        f"({t['reading'] / t['pairs']:.1%})."
    )


def plain_totals(rows: list[dict]) -> str:
    """ "Pushing **happy** made replies more positive in 9 of 10 tries; **sad** …": each emotion's verdicts
    pooled, in words for an audience (the outside judge, VADER, decides)."""
    pooled: dict[str, list] = {}
    for r in rows:
        moved = pooled.setdefault(r["emotion"], [0, 0, r.get("expected", 1)])
        moved[0] += round(r["vader_moved"] * r["pairs"])
        moved[1] += r["pairs"]
    parts = [
        f"**{e}** made replies {'more negative' if sign < 0 else 'more positive'} in {round(10 * m / n)} of 10 tries"
        for e, (m, n, sign) in pooled.items()
    ]
    return (
        (
            "On this model, on prompts the study never tuned on, pushing "
            + "; ".join(parts)
            + " (judged by VADER, an outside sentiment scorer)."
        )
        if parts
        else ""
    )
