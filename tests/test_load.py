"""Eight users on one server (tools/load_test.py): six viewers of different 2,000-token transcripts,
a steering run and a Live run, first one at a time, then all at once. Localhost only; bounded."""

import json
import os
from pathlib import Path

import pytest

from conftest import ROOT

if not os.environ.get("EMOTION_LENS_REQUIRE_BROWSER"):
    pytest.importorskip("playwright", reason="pip install playwright")
from tools.browser import CHROMIUM  # noqa: E402

if not Path(CHROMIUM).exists() and not os.environ.get("EMOTION_LENS_REQUIRE_BROWSER"):
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)

ARTIFACTS = Path(os.environ.get("EMOTION_LENS_ARTIFACTS", ROOT / "tests" / "artifacts"))


def test_eight_users_at_once_each_get_what_they_get_alone_within_bounded_memory():
    from tools.load_test import run

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "load-queued.png").unlink(missing_ok=True)
    results = run("smollm2-135m-instruct", tokens=2000, log=ARTIFACTS / "server-load.log", shot=ARTIFACTS / "load-queued.png")
    (ARTIFACTS / "load-test.json").write_text(json.dumps(results, indent=1))
    assert results["sessions"] == 8
    # every reading, the plain and the steered reply and the Live run equal their runs alone:
    # nobody's steering or hooks reached anyone else's request
    assert results["all_results_equal_alone"], results["per_session"]
    assert results["saw_queued"] >= 1 and (ARTIFACTS / "load-queued.png").exists()  # someone waiting was told so
    assert results["peak_rss_mb"]["eight_users"] < 4096  # the caches are bounded by bytes
