"""`python -m bench --collect`: one table from every benchmark's results,
kept as JSON and PNG; a failed judged figure makes the exit status 1."""
from __future__ import annotations

import json

from PIL import Image

import bench.__main__ as summary
import bench.common as common


def test_one_table_from_all_results(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(common, "RESULTS", tmp_path)
    monkeypatch.setattr(summary, "RESULTS", tmp_path)
    rows = [{"figure": "p95", "target": "< 50 ms", "measured": 14.3, "unit": "ms", "ratio": None, "pass": True},
            {"figure": "build", "target": None, "measured": 2.0, "unit": "s", "ratio": None, "pass": None}]
    common.write_json(rows, tmp_path / "widget.json")
    assert summary.main(["--collect", "--only", "widget", "--only", "reports"]) == 1  # reports has no results
    printed = capsys.readouterr().out
    assert "p95" in printed and "PASS" in printed and "(no results: run it)" in printed and "build" not in printed
    kept = json.loads((tmp_path / "summary.json").read_text())
    assert [r["bench"] for r in kept] == ["widget", "reports"]
    assert Image.open(tmp_path / "summary.png").size[0] > 400

    common.write_json([{**rows[0], "figure": "per report", "target": "< 0.25 s", "measured": 0.036}],
                      tmp_path / "reports.json")
    assert summary.main(["--collect", "--only", "widget", "--only", "reports"]) == 0
