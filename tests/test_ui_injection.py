"""The candidates view builds its DOM from numbers and text nodes only: markup in the scores is never parsed.

A FoleySelectBest payload can carry anything (a hand-made scores dict in an API prompt reaches it unchanged), so
tests/ui/injection_suite.js hands the view a payload whose every field is markup with a script in it.
"""
import json
import os
import subprocess
from pathlib import Path

UI = Path(__file__).resolve().parent / "ui"


def test_markup_in_the_scores_is_shown_as_text_never_parsed(comfy_server, tmp_path):
    from test_ui import _browser_or_fail

    chromium = _browser_or_fail()
    proc = subprocess.run(["node", str(UI / "injection_suite.js"), comfy_server.url, str(tmp_path / "results.json"),
                           str(tmp_path / "injection.png")], cwd=UI, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, CHROMIUM_PATH=chromium))
    results_file = tmp_path / "results.json"
    assert results_file.is_file(), f"injection_suite.js wrote no results (rc {proc.returncode}):\n{proc.stderr}"
    results = json.loads(results_file.read_text())
    assert not results.get("crash"), results["crash"]
    assert results["rendered"], results  # the view was built: the payload reached it
    assert results["parsed"] == 0 and results["injected"] is None, results
    assert len(results["labels"]) == 2 and all("DeSync – s" in label for label in results["labels"]), results
