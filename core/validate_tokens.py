"""Token-level validation: do colours, hover cards and alerts agree with the words?

On text nobody fitted anything on (``assets/corpus/validation``): passages of neutral sentences
around one implicit emotional sentence (plain and chat), and neutral chats. Per reading:
- localization AUROC: the emotion's z on the emotional sentence's tokens against the same
  passage's neutral sentences (0.5 is chance);
- hover top-5: share of the sentence's tokens whose own five highest emotions hold it;
- sentence top-5: the sentence's mean z ranks the emotion in the top five;
- false alarms: share of token × emotion cells with |z| ≥ 3 on the neutral chats;
- median |z| over the cells of the emotional chat passages.
Family-level figures rank the families (a family reads as its strongest member) instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import corpus
from .alignment import word_mask
from .families import Families
from .passages import MARKER, NEUTRAL, Passage, token_labels
from .scoring import forward, project
from .token_reading import SATURATION_Z, token_figures
from .transcript import Turn

if TYPE_CHECKING:
    from .models import LoadedModel
    from .vectors import EmotionVectors

SUMMARY_READINGS = {
    "readout_stories": ("readout", "stories"),
    "readout_neutral": ("readout", "neutral"),
    "concept_neutral": ("concept", "neutral"),
}
READING_LABELS = {
    "token": "token reading (what tokens show)",
    "readout_stories": "readout, z vs stories (the summary reading; what tokens showed before)",
    "readout_neutral": "readout, z vs neutral chat",
    "concept_neutral": "concept vectors, z vs neutral chat (the paper's recipe)",
}
GOALS = {"auroc": 0.85, "hover_top": 0.25, "false_alarms": 0.01, "median_abs_z_chat": 1.5}


def validation_passages(emotions: list[str]) -> tuple[list[Passage], list[Passage]]:
    vs = corpus.load_validation()
    idx = {e: i for i, e in enumerate(emotions)}
    emo = [
        Passage(
            (Turn("user" if o["form"] == "chat" else "text", f"{o['before'].strip()} {o['sentence'].strip()} {o['after'].strip()}"),),
            o["sentence"].strip(),
            idx[o["emotion"]],
            o["form"],
            f"val:{k}",
        )
        for k, o in enumerate(vs.embedded)
    ]
    neutral = [
        Passage(tuple(Turn(m["role"], m["content"]) for m in msgs), "", NEUTRAL, "neutral", f"valn:{k}")
        for k, msgs in enumerate(vs.neutral_chats)
    ]
    return emo, neutral


def collect(lm: LoadedModel, passages: list[Passage], layers, progress=None) -> list[tuple]:
    """Per passage: hidden states at ``layers``, token labels and the word mask."""
    out = []
    for i, p in enumerate(passages):
        fw = forward(lm, list(p.turns), layers)
        out.append(({l: fw.hidden[l] for l in layers}, token_labels(p, fw.text, fw.offsets, fw.turns), word_mask(fw.turns, len(fw.tokens))))
        if progress:
            progress("token validation", i + 1, len(passages))
    return out


def _readings(ev: EmotionVectors, rows, layer_of: dict) -> dict[str, np.ndarray]:
    """Each reading's per-token z over all rows, stacked, NaN off the words."""
    reading = ev.token_reading()
    out = {}
    for name, layer in layer_of.items():
        zs = []
        for hidden, _, keep in rows:
            if name == "token":
                z = reading.z(hidden[layer], keep)
            else:
                z = project(hidden[layer], ev, layer, *SUMMARY_READINGS[name])[1]
                z[~keep] = np.nan
            zs.append(z)
        out[name] = np.concatenate(zs)
    return out


def evaluate(ev: EmotionVectors, emo_rows, neutral_rows, chat_mask: np.ndarray, layer_of: dict, families: Families | None) -> list[dict]:
    labels = np.concatenate([r[1] for r in emo_rows])
    passage = np.concatenate([np.full(len(r[1]), k) for k, r in enumerate(emo_rows)])
    emo_z, neu_z = _readings(ev, emo_rows, layer_of), _readings(ev, neutral_rows, layer_of)
    chat_tok = np.concatenate([np.full(len(r[1]), c) for r, c in zip(emo_rows, chat_mask)])
    out = []
    for name in layer_of:
        z, nz = emo_z[name], neu_z[name]
        nz = nz[~np.isnan(nz[:, 0])]
        row = {"reading": name, "layer": layer_of[name]}
        for level, groups in (("emotion", None), ("family", None if families is None else families.of)):
            if level == "family" and groups is None:
                continue
            fig = token_figures(z, labels, passage, groups)
            row[level] = {"auroc": fig["auroc"], "hover_top": fig["hover_top"], "sentence_top": fig["sentence_top"]}
        cells = z[chat_tok & (labels != MARKER)]
        row.update(
            false_alarms=float((np.abs(nz) >= SATURATION_Z).mean()),
            median_abs_z_chat=float(np.nanmedian(np.abs(cells))),
            saturated_tokens_chat=float(np.nanmean(np.abs(cells) >= SATURATION_Z)),
        )
        out.append(row)
    return out


def run(lm: LoadedModel, ev: EmotionVectors, progress=None, every: int = 1, layers=None) -> dict:
    """The token-level report: every reading at its default layer, and the summary readings at
    every layer (the token reading exists at one layer). ``every`` and ``layers`` thin the
    passages and layers (tests)."""
    emo, neutral = validation_passages(ev.emotions)
    emo, neutral = emo[::every], neutral[::every]
    layers = list(range(ev.n_layers)) if layers is None else sorted(layers)
    emo_rows, neutral_rows = collect(lm, emo, layers, progress), collect(lm, neutral, layers, progress)
    chat = np.array([p.form == "chat" for p in emo])
    fam = ev.families
    defaults = {
        "readout_stories": ev.reading_layer("readout"),
        "readout_neutral": ev.reading_layer("readout"),
        "concept_neutral": ev.default_layer,
    }
    if ev.has_token_reading:
        defaults = {"token": ev.token_reading().layer, **defaults}
    if not ev.has_readout:
        defaults = {k: v for k, v in defaults.items() if not k.startswith("readout")}
    table = evaluate(ev, emo_rows, neutral_rows, chat, defaults, fam)
    by_layer = []
    for name in [n for n in defaults if n != "token" and n != "readout_neutral"]:
        for l in layers:
            by_layer += evaluate(ev, emo_rows, neutral_rows, chat, {name: l}, None)
    return {
        "passages": {"embedded": len(emo), "chat": int(chat.sum()), "emotions": len({p.label for p in emo}), "neutral_chats": len(neutral)},
        "readings": table,
        "by_layer": by_layer,
        "goals": GOALS,
        "families": {"n": len(fam.names), "names": fam.names},
        "token_method": ev.describe_token_reading() if ev.has_token_reading else None,
    }


def _pct(x: float) -> str:
    return f"{x:.0%}" if x >= 0.1 or x == 0 else f"{x:.1%}"


def markdown(rep: dict) -> list[str]:
    p = rep["passages"]
    lines = [
        "## Token level: what colours, hover cards and alerts show",
        "",
        f"{p['embedded']} fresh passages ({p['chat']} as a chat message), each one implicit emotional sentence "
        f"among neutral ones, {p['emotions']} emotions; {p['neutral_chats']} neutral chats. Goals: localization "
        "AUROC ≥ 0.85, hover top-5 ≥ 25%, false alarms ≤ 1%, median |z| on emotional chat ≤ 1.5. "
        f"Family level: {rep['families']['n']} families, top-5 of them.",
        "",
        "| reading | layer | AUROC | hover top-5 | sentence top-5 | family AUROC | family hover top-5 | "
        "false alarms | median abs z (chat) | tokens saturated (chat) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rep["readings"]:
        e, f = r["emotion"], r.get("family", {})
        lines.append(
            f"| {READING_LABELS[r['reading']]} | {r['layer']} | {e['auroc']:.2f} | {_pct(e['hover_top'])} | "
            f"{_pct(e['sentence_top'])} | {f.get('auroc', float('nan')):.2f} | {_pct(f.get('hover_top', 0))} | "
            f"{_pct(r['false_alarms'])} | {r['median_abs_z_chat']:.2f} | {_pct(r['saturated_tokens_chat'])} |"
        )
    if rep.get("token_method"):
        lines += ["", f"Token reading: {rep['token_method']}."]
    lines += [
        "",
        "Summary readings at every layer (token level):",
        "",
        "| reading | layer | AUROC | hover top-5 | false alarms | median abs z (chat) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rep["by_layer"]:
        lines.append(
            f"| {r['reading']} | {r['layer']} | {r['emotion']['auroc']:.2f} | {_pct(r['emotion']['hover_top'])} | "
            f"{_pct(r['false_alarms'])} | {r['median_abs_z_chat']:.2f} |"
        )
    return lines


def summary_sentence(rep: dict | None) -> str:
    """One sentence for the Home page: what a token shows, measured on fresh passages."""
    rows = {r["reading"]: r for r in (rep or {}).get("readings", [])}
    if "token" not in rows:
        return ""
    t, old = rows["token"], rows.get("readout_stories")
    was = (
        (f" (reading each token with the whole-text reading instead: {old['emotion']['auroc']:.2f} and {_pct(old['false_alarms'])})")
        if old
        else ""
    )
    return (
        f" **Token by token**, on fresh passages with one emotional sentence among neutral ones: picking a token "
        f"of the emotional sentence and one of its neutral neighbours, the emotional one reads higher "
        f"**{_pct(t['emotion']['auroc'])}** of the time (goal: 85%; chance: 50%). A hover card's five strongest "
        f"emotions include the sentence's emotion for **{_pct(t['emotion']['hover_top'])}** of its tokens "
        f"({_pct(t['family']['hover_top'])} counting its family), and on neutral chats "
        f"**{_pct(t['false_alarms'])}** of readings are strong enough for full colour{was}."
    )
