import csv
import io

from core import score
from core.export import rows_csv, scores_csv


def test_rows_csv_keeps_columns_and_defuses_formulas():
    text = rows_csv([{"emotion": '=HYPERLINK("x")', "v": 1.5}, {"emotion": "calm", "v": -2, "extra": "@x"}])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["emotion", "v", "extra"]
    assert rows[0]["emotion"].startswith("'=") and rows[1]["extra"] == "'@x" and rows[1]["v"] == "-2"


def test_scores_csv_leaves_unread_tokens_empty_and_keeps_numbers_numbers(lm, ev):
    import pandas as pd

    ts = score(lm, ev, "User: A quiet morning by the lake.\nAssistant: It sounds lovely.")
    text = scores_csv(ts, ["afraid", "calm"])
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(ts.tokens) and rows[0]["read"] == "0" and rows[0]["afraid token z"] == ""
    read = ts.word_mask()
    assert [r["read"] == "1" for r in rows] == read.tolist()
    assert all((r["afraid token z"] == "") == (not k) for r, k in zip(rows, read))
    df = pd.read_csv(io.StringIO(text))
    assert df["afraid summary z"].dtype == float and (df["afraid summary z"] < 0).any()  # never text
    assert float(rows[1]["calm summary z"]) == round(float(ts.z[1, ts.emotions.index("calm")]), 4)
