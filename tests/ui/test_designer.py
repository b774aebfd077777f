"""The workflow designer in the browser: drawing a workflow from the palette, properties,
validation as you edit, undo and redo, saving, publishing, templates, test runs, keyboard use."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from tests.ui.conftest import ROOT, screenshot

FRONTEND = ROOT / "frontend"
GRAPH_MODULES = ["lint", "condition", "forms", "edit", "fields", "describe", "duration"]

BOX = (180, 64)
"""A task's size on the canvas; layout positions are node centres."""


@pytest.fixture
def admin_api(server: Any) -> Iterator[httpx.Client]:
    client = server.client("admin")
    yield client
    client.close()


def _open_designer(page: Any, key: str) -> None:
    page.goto(f"/designer/{key}")
    expect(page.get_by_test_id("designer")).to_have_attribute("data-ready", "true")


def _node(page: Any, node_id: str) -> Any:
    return page.get_by_test_id(f"rf__node-{node_id}")


def _canvas_box(page: Any) -> dict[str, float]:
    box: dict[str, float] | None = page.locator(".react-flow__pane").bounding_box()
    assert box is not None
    return box


def _drag_from_palette(page: Any, node_type: str, x: float, y: float) -> str:
    """Drag a palette item onto the canvas at (x, y) from the canvas's top-left; the new id."""
    before = set(page.locator(".react-flow__node").evaluate_all("ns => ns.map(n => n.dataset.id)"))
    canvas = page.locator(".react-flow__pane")
    page.locator(f".wf-palette-item[data-type='{node_type}']").drag_to(
        canvas, target_position={"x": x, "y": y}
    )
    expect(page.locator(".react-flow__node")).to_have_count(len(before) + 1)
    after = set(page.locator(".react-flow__node").evaluate_all("ns => ns.map(n => n.dataset.id)"))
    (new,) = after - before
    # the new step is selected: its properties are open
    expect(page.get_by_test_id("node-panel")).to_have_attribute("data-node-id", new)
    return str(new)


def _connect(page: Any, source: str, target: str) -> None:
    """Drag from the source's right handle to the target's left handle."""
    start = _node(page, source).locator(".react-flow__handle.source").bounding_box()
    end = _node(page, target).locator(".react-flow__handle.target").bounding_box()
    assert start is not None
    assert end is not None
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(start["x"] + 30, start["y"] + 10, steps=4)
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=8)
    page.mouse.up()


def _edge_between(page: Any, source: str, target: str) -> str:
    for edge in page.locator(".react-flow__edge").all():
        label = edge.get_attribute("aria-label") or ""
        if label == f"Connection from {source} to {target}":
            return str(edge.get_attribute("data-id"))
    raise AssertionError(f"no connection from {source} to {target}")


def _problem(page: Any, code: str, **where: str) -> Any:
    selector = f".wf-problem[data-code='{code}']"
    for attr, value in where.items():
        selector += f"[data-{attr}='{value}']"
    return page.locator(selector)


def _name(page: Any, text: str) -> None:
    field = page.get_by_test_id("node-name")
    field.fill(text)
    expect(field).to_have_value(text)


def _select(page: Any, node_id: str) -> None:
    _node(page, node_id).click()
    expect(page.get_by_test_id("node-panel")).to_have_attribute("data-node-id", node_id)


def _centre(page: Any, node_id: str) -> tuple[float, float]:
    box = _node(page, node_id).bounding_box()
    assert box is not None
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def _positions(page: Any) -> dict[str, tuple[float, float]]:
    """Node centres in canvas coordinates, read from React Flow's transforms."""
    return dict(
        page.locator(".react-flow__node").evaluate_all(
            """ns => ns.map(n => {
                const m = /translate\\(([-\\d.]+)px, ([-\\d.]+)px\\)/.exec(n.style.transform);
                return [n.dataset.id, [Number(m[1]) + n.offsetWidth / 2, Number(m[2]) + n.offsetHeight / 2]];
            })"""
        )
    )


def test_a_workflow_drawn_from_the_palette_validates_saves_publishes_and_runs(
    page_as: Any, admin_api: httpx.Client
) -> None:
    page = page_as("admin")
    tag = uuid.uuid4().hex[:6]
    page.goto("/workflows")
    page.get_by_placeholder("Name, e.g. Purchase approval").fill(f"Expense claim {tag}")
    page.get_by_role("button", name="Create").click()
    page.wait_for_url(re.compile(r".*/designer/expense-claim-.*"))
    key = page.url.rsplit("/", 1)[1]
    expect(page.get_by_test_id("designer")).to_have_attribute("data-ready", "true")

    # start from an empty canvas: select everything and delete it
    page.locator(".react-flow__pane").click(position={"x": 30, "y": 30})
    page.keyboard.press("Control+a")
    page.keyboard.press("Delete")
    expect(page.locator(".react-flow__node")).to_have_count(0)
    expect(page.get_by_text("An empty workflow")).to_be_visible()
    page.locator(".react-flow__controls-zoomout").click()
    page.locator(".react-flow__controls-zoomout").click()

    box = _canvas_box(page)
    mid = box["height"] / 2
    start = _drag_from_palette(page, "start", 60, mid)
    submit = _drag_from_palette(page, "user_task", 200, mid)
    _name(page, "Submit expense")
    gateway = _drag_from_palette(page, "exclusive", 360, mid)
    _name(page, "Over 500?")
    approve = _drag_from_palette(page, "user_task", 500, mid - 100)
    _name(page, "Approve expense")
    pay = _drag_from_palette(page, "user_task", 500, mid + 100)
    _name(page, "Pay expense")
    end = _drag_from_palette(page, "end", 660, mid)
    expect(page.locator(".react-flow__node")).to_have_count(6)

    # nothing is connected: validation marks the steps no path reaches
    expect(_problem(page, "unreachable", node=end)).to_have_count(1)
    expect(_node(page, end).locator(".wf-badge.error")).to_be_visible()

    for a, b in [(start, submit), (submit, gateway), (gateway, approve), (gateway, pay)]:
        _connect(page, a, b)
    _connect(page, approve, end)
    _connect(page, pay, end)
    expect(page.locator(".react-flow__edge")).to_have_count(6)
    expect(_problem(page, "unreachable", node=end)).to_have_count(0)
    to_pay = _edge_between(page, gateway, pay)
    to_approve = _edge_between(page, gateway, approve)
    # two unconditional ways out of an exclusive gateway: the second is never taken
    expect(_problem(page, "exclusive_condition_missing", edge=to_pay)).to_have_count(1)

    # a condition on one way out (built row by row), the other marked as the default
    _select(page, gateway)
    page.get_by_test_id("node-panel").get_by_role("button", name="to Approve expense").click()
    panel = page.get_by_test_id("edge-panel")
    expect(panel).to_have_attribute("data-edge-id", to_approve)
    panel.get_by_label("Taken").select_option("condition")
    row = panel.get_by_test_id("condition-row-0")
    row.get_by_label("Condition 1: field").fill("amount")
    row.get_by_label("Condition 1: operator").select_option(">")
    row.get_by_label("Condition 1: value").fill("500")
    expect(panel.get_by_label("Condition expression")).to_have_value("amount > 500")
    panel.get_by_test_id("edge-label").fill("Over 500")
    expect(page.locator(f".wf-edge-label[data-edge-id='{to_approve}']")).to_have_text("Over 500")
    expect(_problem(page, "exclusive_condition_missing", edge=to_pay)).to_have_count(1)
    _problem(page, "exclusive_condition_missing", edge=to_pay).click()
    expect(page.get_by_test_id("edge-panel")).to_have_attribute("data-edge-id", to_pay)
    page.get_by_test_id("edge-panel").get_by_label("Taken").select_option("default")
    expect(_problem(page, "exclusive_condition_missing")).to_have_count(0)
    expect(_problem(page, "unreachable")).to_have_count(0)
    expect(page.locator(f".wf-edge-label[data-edge-id='{to_pay}']")).to_have_text("otherwise")

    # a form of two fields on the first task, with a live preview
    _select(page, submit)
    builder = page.get_by_test_id("form-builder")
    builder.get_by_role("button", name="+ Add field").click()
    builder.get_by_role("button", name="+ Add field").click()
    first, second = builder.get_by_test_id("form-field-0"), builder.get_by_test_id("form-field-1")
    first.get_by_label("Label").fill("Amount")
    first.get_by_label("Type").select_option("number")
    first.get_by_label("Required").check()
    second.get_by_label("Label").fill("Reason")
    second.get_by_label("Type").select_option("longtext")
    expect(first.get_by_label("Data key")).to_have_value("amount")
    preview = builder.get_by_test_id("form-preview")
    expect(preview.get_by_label(re.compile("Amount"))).to_be_visible()
    expect(preview.locator("textarea")).to_be_visible()

    # an SLA on the approval task: due in 2 days on the business calendar, one escalation
    _select(page, approve)
    sla = page.get_by_test_id("sla-editor")
    sla.get_by_label("This task has a due time (SLA)").check()
    sla.get_by_label("Due after: amount").fill("2")
    sla.get_by_label("Due after: unit").select_option("D")
    sla.get_by_role("button", name="+ Add escalation level").click()
    expect(sla.get_by_test_id("escalation-0")).to_be_visible()

    # undo and redo: delete a step, bring it back, delete it again, bring it back
    _select(page, pay)
    page.keyboard.press("Delete")
    expect(_node(page, pay)).to_have_count(0)
    page.keyboard.press("Control+z")
    expect(_node(page, pay)).to_have_count(1)
    page.keyboard.press("Control+Shift+z")
    expect(_node(page, pay)).to_have_count(0)
    page.keyboard.press("Control+z")
    expect(_node(page, pay)).to_have_count(1)
    expect(page.locator(f".wf-edge-label[data-edge-id='{to_pay}']")).to_have_text("otherwise")

    page.keyboard.press("Control+s")
    expect(page.get_by_test_id("save-state")).to_have_text("Saved")
    expect(page.get_by_test_id("error-count")).to_have_text("0 errors")
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_test_id("note")).to_contain_text("Published version 1")
    screenshot(page, "designer-drawn")

    admin = admin_api
    saved = admin.get(f"/api/workflows/{key}").json()
    nodes = {n["id"]: n for n in saved["draft"]["nodes"]}
    assert nodes[submit]["form"]["properties"]["amount"]["type"] == "number"
    assert nodes[submit]["form"]["required"] == ["amount"]
    assert nodes[submit]["ui"]["ui:order"] == ["amount", "reason"]
    assert nodes[approve]["sla"]["due"] == "P2D"
    assert nodes[approve]["sla"]["escalate"][0]["action"] == "notify"
    edges = {e["id"]: e for e in saved["draft"]["edges"]}
    assert edges[to_approve]["condition"] == "amount > 500"
    assert edges[to_pay]["default"] is True
    assert saved["published_version"] == 1
    started = admin.post(f"/api/workflows/{key}/instances", json={"data": {}})
    assert started.status_code == 201, started.text
    tasks = admin.get("/api/tasks", params={"limit": 200}).json()["items"]
    assert any(t["instance_id"] == started.json()["id"] and t["node"] == submit for t in tasks)
    assert page.errors == []


def test_a_template_copy_moved_and_laid_out_reloads_as_saved(
    page_as: Any, admin_api: httpx.Client
) -> None:
    page = page_as("admin", width=1680, height=1000)
    page.goto("/workflows")
    gallery = page.get_by_test_id("template-gallery")
    gallery.locator("article", has_text="Order management").get_by_role(
        "button", name="Use this template"
    ).click()
    page.wait_for_url(re.compile(r".*/designer/order-management-.*"))
    key = page.url.rsplit("/", 1)[1]
    expect(page.get_by_test_id("designer")).to_have_attribute("data-ready", "true")
    screenshot(page, "designer-order")

    x, y = _centre(page, "received")
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 10, y + 40, steps=3)
    page.mouse.move(x + 20, y + 120, steps=6)
    page.mouse.up()
    expect(page.get_by_test_id("save-state")).to_have_text("Unsaved changes")
    moved = _positions(page)["received"]

    page.keyboard.press("l")
    page.wait_for_function(
        """([x, y]) => {
            const n = document.querySelector('[data-testid="rf__node-received"]');
            const m = /translate\\(([-\\d.]+)px, ([-\\d.]+)px\\)/.exec(n.style.transform);
            return Number(m[1]) + n.offsetWidth / 2 !== x || Number(m[2]) + n.offsetHeight / 2 !== y;
        }""",
        arg=list(moved),
    )
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("save-state")).to_have_text("Saved")
    layout = admin_api.get(f"/api/workflows/{key}").json()["draft"]["layout"]
    shown = _positions(page)
    assert set(layout) == set(shown)
    assert all(layout[i] == {"x": shown[i][0], "y": shown[i][1]} for i in layout)

    page.reload()
    expect(page.get_by_test_id("designer")).to_have_attribute("data-ready", "true")
    again = _positions(page)
    assert again == shown
    assert page.locator(".react-flow__edge").count() == 34
    assert admin_api.get(f"/api/workflows/{key}").json()["draft"]["layout"] == layout
    # the shipped template is untouched
    original = admin_api.get("/api/workflows/order-management").json()["draft"]
    assert original.get("layout", {}) != layout

    # the properties panel, and a test run stepping to the first task
    _select(page, "review")
    expect(page.get_by_test_id("node-panel").get_by_label("Approvals needed")).to_have_value("all")
    screenshot(page, "designer-properties")
    page.get_by_role("button", name="Test run").click()
    run = page.get_by_test_id("test-run")
    run.get_by_role("button", name="Start step by step").click()
    status = run.get_by_test_id("run-status")
    expect(status).to_have_attribute("data-status", "running")
    for _ in range(2):
        run.get_by_role("button", name=re.compile("Next move")).click()
    expect(run.get_by_test_id("wait-pick")).to_be_visible()
    expect(_node(page, "pick").locator(".run-current")).to_have_count(1)
    expect(_node(page, "capture").locator(".run-visited")).to_have_count(1)
    run.get_by_test_id("wait-pick").get_by_role("button", name="Complete task").click()
    expect(run.get_by_test_id("wait-pack")).to_be_visible()
    expect(run.get_by_test_id("run-path")).to_contain_text("Pick items")
    screenshot(page, "designer-testrun")
    run.get_by_role("button", name="Run to the end").click()
    expect(status).to_have_attribute("data-status", "completed")
    assert page.errors == []


def test_names_with_markup_and_quotes_render_as_text(page_as: Any, admin_api: httpx.Client) -> None:
    page = page_as("admin")
    dialogs: list[str] = []

    def refuse(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", refuse)
    name = '<script>alert(1)</script> "quoted"'
    key = f"xss-{uuid.uuid4().hex[:6]}"
    draft = {
        "format": 1,
        "key": key,
        "name": name,
        "nodes": [
            {"id": "start", "type": "start", "name": "Start"},
            {"id": "odd", "type": "user_task", "name": name, "assignee": {"user": "admin"}},
            {"id": "end", "type": "end", "name": "Done"},
        ],
        "edges": [
            {"id": "e1", "from": "start", "to": "odd", "label": name},
            {"id": "e2", "from": "odd", "to": "end"},
        ],
        "layout": {"start": {"x": 0, "y": 0}, "odd": {"x": 220, "y": 0}, "end": {"x": 440, "y": 0}},
    }
    made = admin_api.post("/api/workflows", json={"key": key, "draft": draft})
    assert made.status_code == 201, made.text
    _open_designer(page, key)
    expect(_node(page, "odd").locator(".wf-name")).to_have_text(name)
    expect(page.locator(".wf-edge-label[data-edge-id='e1']")).to_have_text(name)
    _select(page, "odd")
    expect(page.get_by_test_id("node-name")).to_have_value(name)
    expect(page.get_by_test_id("node-panel").locator(".wf-props-title")).to_have_text(name)
    expect(page.get_by_test_id("toolbar-name")).to_have_value(name)
    assert page.locator("script", has_text="alert(1)").count() == 0
    assert dialogs == []
    assert page.errors == []


def test_approval_can_email_its_approvers_one_click_links(
    page_as: Any, admin_api: httpx.Client
) -> None:
    page = page_as("admin", width=1400, height=1400)
    key = f"links-{uuid.uuid4().hex[:6]}"
    draft = {
        "format": 1,
        "key": key,
        "name": "Purchase approval",
        "nodes": [
            {"id": "start", "type": "start", "name": "Start"},
            {
                "id": "review",
                "type": "approval",
                "name": "Approve purchase",
                "approvers": [{"user": "admin"}],
                "outcomes": ["approve", "reject"],
            },
            {"id": "done", "type": "end", "name": "Done"},
            {"id": "refused", "type": "end", "name": "Refused", "outcome": "rejected"},
        ],
        "edges": [
            {"id": "e1", "from": "start", "to": "review"},
            {"id": "e2", "from": "review", "to": "done", "outcome": "approve"},
            {"id": "e3", "from": "review", "to": "refused", "outcome": "reject"},
        ],
    }
    made = admin_api.post("/api/workflows", json={"key": key, "draft": draft})
    assert made.status_code == 201, made.text
    _open_designer(page, key)
    _select(page, "review")

    editor = page.get_by_test_id("notices-editor")
    editor.get_by_role("button", name="+ Email with one-click links").click()
    notice = editor.get_by_test_id("notice-0")
    expect(notice.get_by_label("Channel")).to_have_value("email")
    expect(notice.get_by_label("Subject")).to_have_value("{{ task.name }}")
    body = notice.get_by_label("Body")
    expect(body).to_have_value(re.compile(r"Approve: \{\{ task\.links\.approve \}\}"))
    expect(body).to_have_value(re.compile(r"Reject: \{\{ task\.links\.reject \}\}"))
    editor.get_by_role("button", name="+ Email the person").scroll_into_view_if_needed()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("save-state")).to_have_text("Saved")
    expect(page.get_by_test_id("error-count")).to_have_text("0 errors")
    screenshot(page, "designer-approval-notice")

    nodes = {n["id"]: n for n in admin_api.get(f"/api/workflows/{key}").json()["draft"]["nodes"]}
    (sent,) = nodes["review"]["notify"]
    assert sent["channel"] == "email"
    assert sent["subject"] == "{{ task.name }}"
    assert sent["body"] == body.input_value()
    assert "Approve: {{ task.links.approve }}" in sent["body"]
    assert "Reject: {{ task.links.reject }}" in sent["body"]
    assert "to" not in sent

    # removing the only message leaves no empty list behind
    notice.get_by_role("button", name="Remove message 1").click()
    expect(editor.get_by_test_id("notice-0")).to_have_count(0)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_test_id("save-state")).to_have_text("Saved")
    nodes = {n["id"]: n for n in admin_api.get(f"/api/workflows/{key}").json()["draft"]["nodes"]}
    assert not nodes["review"].get("notify")
    assert page.errors == []


def test_the_keyboard_reaches_palette_and_panel_and_edits_the_selection(
    page_as: Any, admin_api: httpx.Client
) -> None:
    page = page_as("admin")
    key = f"keys-{uuid.uuid4().hex[:6]}"
    made = admin_api.post("/api/workflows", json={"key": key, "name": "Keys"})
    assert made.status_code == 201, made.text
    _open_designer(page, key)

    def tab_to(predicate: str, limit: int = 80) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(
                f"(() => {{ const el = document.activeElement; return {predicate}; }})()"
            ):
                return
        raise AssertionError(f"Tab never reached {predicate}")

    page.locator(".wf-toolbar .wf-back").focus()
    tab_to("el.matches('.wf-palette-item[data-type=\"approval\"]')")
    page.keyboard.press("Enter")
    expect(page.locator(".react-flow__node")).to_have_count(3)
    panel = page.get_by_test_id("node-panel")
    expect(panel).to_have_attribute("data-node-id", "approval")
    tab_to("el.dataset.testid === 'node-name'")
    page.keyboard.press("End")
    page.keyboard.type(" now")
    expect(_node(page, "approval")).to_contain_text("Approve request now")
    tab_to("el.closest('[data-testid=assignee-picker]') !== null")
    # autosave, about two seconds after the last edit
    expect(page.get_by_test_id("save-state")).to_have_text("Saved")
    names = [n.get("name") for n in admin_api.get(f"/api/workflows/{key}").json()["draft"]["nodes"]]
    assert "Approve request now" in names

    # copy and paste; shift-click adds to the selection; Delete removes it; undo brings it back
    _node(page, "approval").click()
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    expect(page.locator(".react-flow__node")).to_have_count(4)
    expect(panel).to_have_attribute("data-node-id", "approval_1")
    _node(page, "end").click(modifiers=["Shift"])
    expect(page.get_by_test_id("multi-panel")).to_contain_text("2 steps")
    page.keyboard.press("Delete")
    expect(page.locator(".react-flow__node")).to_have_count(2)
    page.keyboard.press("Control+z")
    expect(page.locator(".react-flow__node")).to_have_count(4)

    _node(page, "approval").click()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("workflow-panel")).to_be_visible()
    expect(page.locator(".react-flow__node.selected")).to_have_count(0)
    _node(page, "approval").click()
    page.keyboard.press("Delete")
    expect(page.locator(".react-flow__node")).to_have_count(3)
    expect(_node(page, "approval")).to_have_count(0)
    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    assert page.errors == []


def test_the_pure_graph_code_passes_its_unit_tests(tmp_path: Path) -> None:
    """src/designer/graph/*.ts compiled to CommonJS and run by ``node --test``."""
    node, tsc = shutil.which("node"), FRONTEND / "node_modules" / ".bin" / "tsc"
    if node is None or not tsc.is_file():
        if os.environ.get("STEPWISE_REQUIRE_ALL") == "1":
            pytest.fail("node and the frontend's node_modules are needed")
        pytest.skip("node or the frontend's node_modules are missing")
    sources = [f"src/designer/graph/{name}.ts" for name in GRAPH_MODULES]
    options = ["--module", "commonjs", "--target", "es2022", "--moduleResolution", "node"]
    options += ["--strict", "--noUncheckedIndexedAccess", "--skipLibCheck"]
    compiled = subprocess.run(  # noqa: S603 - our own tools and files
        [str(tsc), "--outDir", str(tmp_path), *options, "--rootDir", "src/designer", *sources],
        cwd=FRONTEND,
        capture_output=True,
        text=True,
        check=False,
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    tests = subprocess.run(  # noqa: S603
        [node, "--test", "src/designer/graph/graph.test.mjs"],
        cwd=FRONTEND,
        env={**os.environ, "GRAPH_JS": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout[-4000:] + tests.stderr[-2000:]
    assert "# fail 0" in tests.stdout


def test_a_crowded_saved_layout_is_laid_out_anew_and_kept(
    page_as: Any, admin_api: httpx.Client
) -> None:
    page = page_as("admin")
    key = f"crowded-{uuid.uuid4().hex[:6]}"
    ids = ["start", "one", "two", "end"]
    draft = {
        "format": 1,
        "key": key,
        "name": "Crowded",
        "nodes": [
            {"id": "start", "type": "start", "name": "Start"},
            {"id": "one", "type": "user_task", "name": "Do one", "assignee": {"user": "admin"}},
            {"id": "two", "type": "user_task", "name": "Do two", "assignee": {"user": "admin"}},
            {"id": "end", "type": "end", "name": "Done"},
        ],
        "edges": [
            {"id": f"e{i}", "from": a, "to": b} for i, (a, b) in enumerate(itertools.pairwise(ids))
        ],
        "layout": {
            node: {"x": 10 * i, "y": 0} for i, node in enumerate(ids)
        },  # all on top of each other
    }
    made = admin_api.post("/api/workflows", json={"key": key, "draft": draft})
    assert made.status_code == 201, made.text
    _open_designer(page, key)
    expect(page.get_by_text("laid out anew")).to_be_visible()
    expect(page.get_by_test_id("save-state")).to_have_text("Saved", timeout=10_000)

    layout = admin_api.get(f"/api/workflows/{key}").json()["draft"]["layout"]
    xs = sorted(layout[node]["x"] for node in ids)
    assert all(b - a >= 100 for a, b in itertools.pairwise(xs)), (
        layout
    )  # kept apart, and on the server
    assert page.errors == []


def test_an_edit_is_saved_when_a_top_bar_link_leaves_the_designer_at_once(
    page_as: Any, admin_api: httpx.Client
) -> None:
    page = page_as("admin")
    key = f"leave-{uuid.uuid4().hex[:6]}"
    made = admin_api.post("/api/workflows", json={"key": key, "name": "Leave"})
    assert made.status_code == 201, made.text
    _open_designer(page, key)
    page.locator(".wf-palette-item[data-type='approval']").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".react-flow__node")).to_have_count(3)
    expect(page.get_by_test_id("save-state")).to_have_text("Unsaved changes")
    # before the autosave's two seconds are up: the page sends the draft on its way out
    with page.expect_response(
        lambda r: r.url.endswith(f"/api/workflows/{key}/draft") and r.request.method == "PUT"
    ) as saving:
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Inbox").click()
        page.wait_for_url("**/inbox")
    assert saving.value.status == 200
    draft = admin_api.get(f"/api/workflows/{key}").json()["draft"]
    assert [n["type"] for n in draft["nodes"]].count("approval") == 1
    assert page.errors == []


def test_publishing_waits_while_a_json_field_does_not_parse(
    page_as: Any, admin_api: httpx.Client
) -> None:
    page = page_as("admin")
    key = f"json-{uuid.uuid4().hex[:6]}"
    draft = {
        "format": 1,
        "key": key,
        "name": "Json",
        "nodes": [
            {"id": "start", "type": "start", "name": "Start"},
            {"id": "end", "type": "end", "name": "Done"},
        ],
        "edges": [{"id": "e1", "from": "start", "to": "end"}],
    }
    made = admin_api.post("/api/workflows", json={"key": key, "name": "Json", "draft": draft})
    assert made.status_code == 201, made.text
    _open_designer(page, key)
    data = page.get_by_label("Instance data (JSON Schema of what a start carries)")
    data.fill('{"type": "object", "properties": {')
    expect(page.get_by_text("Not valid JSON yet")).to_be_visible()
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_test_id("note")).to_contain_text("a field is not valid JSON yet")
    assert admin_api.get(f"/api/workflows/{key}").json()["versions"] == []

    data.fill('{"type": "object"}')
    page.get_by_role("button", name="Publish", exact=True).click()
    expect(page.get_by_test_id("note")).to_contain_text("Published version 1")
    assert admin_api.get(f"/api/workflows/{key}/versions/1").json()["definition"]["data"] == {
        "type": "object"
    }
    assert page.errors == []


def test_after_a_drag_enter_on_the_palette_adds_a_step_at_once(
    page_as: Any, admin_api: httpx.Client
) -> None:
    page = page_as("admin")
    key = f"drag-{uuid.uuid4().hex[:6]}"
    made = admin_api.post("/api/workflows", json={"key": key, "name": "Drag"})
    assert made.status_code == 201, made.text
    _open_designer(page, key)
    box = _canvas_box(page)
    _drag_from_palette(page, "user_task", box["width"] / 2, box["height"] / 3)
    expect(page.locator(".react-flow__node")).to_have_count(3)
    page.locator(".wf-palette-item[data-type='approval']").focus()
    page.keyboard.press("Enter")
    expect(page.locator(".react-flow__node")).to_have_count(4)
    assert page.errors == []


def test_the_workflow_panel_sets_what_the_tracking_page_shows_and_how_requests_are_named(
    page_as: Any, admin_api: httpx.Client
) -> None:
    page = page_as("admin", width=1400, height=1200)
    key = f"tracked-{uuid.uuid4().hex[:6]}"
    made = admin_api.post("/api/workflows", json={"key": key, "name": "Tracked"})
    assert made.status_code == 201, made.text
    _open_designer(page, key)
    fields = page.get_by_test_id("tracking-fields")
    fields.get_by_role("button", name="Add a value to show").click()
    fields.get_by_label("Label 1").fill("Tracking number")
    fields.get_by_label("Data field 1").fill("shipment..number")
    expect(fields).to_contain_text("must be a data field's path")  # the problem, at the field
    fields.get_by_label("Data field 1").fill("shipment.tracking_number")
    expect(fields).not_to_contain_text("must be a data field's path")
    expect(page.get_by_test_id("save-state")).to_have_text("Saved", timeout=10_000)
    draft = admin_api.get(f"/api/workflows/{key}").json()["draft"]
    assert draft["tracking"] == [{"label": "Tracking number", "field": "shipment.tracking_number"}]
    fields.get_by_role("button", name="Remove tracking value 1").click()
    expect(fields.get_by_label("Label 1")).to_have_count(0)

    # how its requests are named, a template checked like the messages' ones
    naming = page.get_by_test_id("workflow-business-key")
    naming.fill("{{ order_id ")
    expect(page.get_by_test_id("workflow-panel")).to_contain_text("does not parse")
    naming.fill("Order {{ order_id }}")
    expect(page.get_by_test_id("workflow-panel")).not_to_contain_text("does not parse")
    expect(page.get_by_test_id("save-state")).to_have_text("Saved", timeout=10_000)
    saved = admin_api.get(f"/api/workflows/{key}").json()["draft"]
    assert saved["business_key"] == "Order {{ order_id }}"
    assert "tracking" not in saved
    assert page.errors == []


def test_a_step_connects_to_another_from_its_panel_without_dragging(
    page_as: Any, admin_api: httpx.Client
) -> None:
    page = page_as("admin", width=1400, height=1200)
    key = f"connect-{uuid.uuid4().hex[:6]}"
    draft = {
        "format": 1,
        "key": key,
        "name": "Connect",
        "nodes": [
            {"id": "start", "type": "start", "name": "Start"},
            {"id": "task", "type": "user_task", "name": "Do it", "assignee": {"role": "sales"}},
            {"id": "end", "type": "end", "name": "Done"},
        ],
        "edges": [],
        "layout": {
            "start": {"x": 0, "y": 0},
            "task": {"x": 240, "y": 0},
            "end": {"x": 480, "y": 0},
        },
    }
    made = admin_api.post("/api/workflows", json={"key": key, "draft": draft})
    assert made.status_code == 201, made.text
    _open_designer(page, key)
    _select(page, "start")
    links = page.get_by_test_id("node-connections")
    expect(links).to_contain_text("Nothing yet")
    links.get_by_label("Connect to").select_option(label="Do it")
    links.get_by_role("button", name="Connect").click()
    expect(links.get_by_role("status")).to_have_text("Connected to Do it.")
    expect(links.locator("li")).to_have_text(["Do it"])
    expect(page.locator(".react-flow__edge")).to_have_count(1)
    screenshot(page, "designer-connect")
    # the same again is refused, with the reason
    links.get_by_label("Connect to").select_option(label="Do it")
    links.get_by_role("button", name="Connect").click()
    expect(links.get_by_role("status")).to_have_text("These steps are connected already.")
    expect(page.locator(".react-flow__edge")).to_have_count(1)
    expect(page.get_by_test_id("save-state")).to_have_text("Saved", timeout=10_000)
    edges = admin_api.get(f"/api/workflows/{key}").json()["draft"]["edges"]
    assert [(e["from"], e["to"]) for e in edges] == [("start", "task")]
    assert page.errors == []
