import csv
import io

from core import score
from core.export import rows_csv, scores_csv


def test_rows_csv_keeps_columns_and_defuses_formulas():
    text = rows_csv([{"emotion": "=HYPERLINK(\"x\")", "v": 1.5}, {"emotion": "calm", "v": -2, "extra": "@x"}])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["emotion", "v", "extra"]
    assert rows[0]["emotion"].startswith("'=") and rows[1]["extra"] == "'@x" and rows[1]["v"] == "-2"


def test_scores_csv_flags_the_attention_sink(lm, ev):
    ts = score(lm, ev, "A quiet morning by the lake.")
    rows = list(csv.DictReader(io.StringIO(scores_csv(ts, ["afraid", "calm"]))))
    assert len(rows) == len(ts.tokens) and rows[0]["attention_sink"] == "1"
    assert {r["attention_sink"] for r in rows[1:]} == {"0"}
    assert float(rows[1]["calm z"]) == round(float(ts.z[1, ts.emotions.index("calm")]), 4)
