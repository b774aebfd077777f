from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import DEMO_ORDER, main
from designer.templates import TEMPLATES_DIR

ORDER_TEMPLATE = TEMPLATES_DIR / "order-management.json"


def test_validate_accepts_the_order_template(capsys: pytest.CaptureFixture[str]):
    assert main(["validate", str(ORDER_TEMPLATE)]) == 0
    assert capsys.readouterr().out.startswith("OK")


def test_validate_lists_each_problem_at_its_node(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    broken = json.loads(ORDER_TEMPLATE.read_text())
    broken["edges"].append({"id": "dangling", "from": "pick", "to": "nowhere"})
    broken["nodes"].append(
        {"id": "orphan", "type": "user_task", "name": "Orphan", "assignee": {"role": "x"}}
    )
    broken["edges"].append({"id": "orphan-out", "from": "orphan", "to": "done"})
    for edge in broken["edges"]:
        if edge["id"] == "e16":
            edge["condition"] = "stock_check.route =="
        if edge["id"] == "e3":
            edge.pop("default")
            edge["condition"] = "total < 500"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "dangling" in out
    assert "node orphan" in out
    assert "e16" in out
    assert "node check_review" in out


def test_validate_reports_unreadable_files(tmp_path: Path):
    path = tmp_path / "bad.json"
    path.write_text("{nope")
    with pytest.raises(SystemExit, match="not valid JSON"):
        main(["validate", str(path)])


def test_simulate_prints_path_stages_and_effects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    data = tmp_path / "order.json"
    data.write_text(json.dumps(DEMO_ORDER))
    assert (
        main(
            [
                "simulate",
                str(ORDER_TEMPLATE),
                "--data",
                str(data),
                "--start",
                "2026-03-02T09:00:00+00:00",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    stages = out.split("Stages:")[1].split("Effects:")[0]
    assert [line.split()[-1] for line in stages.strip().splitlines()][-1] == "Delivered"
    assert "Pick items  (pick)" in out
    assert "send_notification" in out
    assert out.rstrip().endswith("Status: completed")


def test_demo_drives_the_order_template_headless(capsys: pytest.CaptureFixture[str]):
    assert main(["demo"]) == 0
    assert "Status: completed" in capsys.readouterr().out


def test_simulate_without_data_fills_the_start_form_with_sample_answers(
    capsys: pytest.CaptureFixture[str],
):
    vacation = ORDER_TEMPLATE.parent / "vacation-request.json"
    assert main(["simulate", str(vacation)]) == 0
    assert "Status: completed" in capsys.readouterr().out


def test_simulate_with_data_the_start_refuses_says_so_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    data = tmp_path / "data.json"
    data.write_text('{"starts_on": "not a date"}')
    vacation = ORDER_TEMPLATE.parent / "vacation-request.json"
    assert main(["simulate", str(vacation), "--data", str(data)]) == 1
    assert "could not start" in capsys.readouterr().out


def test_serve_with_a_bad_setting_says_which_and_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    monkeypatch.setenv("STEPWISE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("STEPWISE_REQUEST_THREADS", "lots")
    assert main(["serve", "--port", "8999"]) == 2
    assert "STEPWISE_REQUEST_THREADS must be a whole number, not 'lots'" in capsys.readouterr().err
