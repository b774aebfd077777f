"""An XSS sweep over the browser app (issue #9).

Markup, script, ``javascript:`` addresses and template syntax are planted once, by the API, in
every user-editable text the UI shows: workflow, step, stage, form, data, comment, document,
person, role, table, report, absence, webhook, template, branding, business key, incident and
audit texts. Then every page that shows them is visited as the people who see it.

Each page must show the planted texts as text — visible, so that a page that dropped them would
fail here too — and run none of them: no ``dialog``, ``window.__xss`` never set, no page error,
and nothing in the DOM that a payload could have made (an ``on*`` attribute, an ``img`` of
``src=x``, an inline script, a ``javascript:`` address). The browser contexts here bypass the
app's Content-Security-Policy: the CSP is a second line, and a hole in the rendering must show
up as a script that ran, not hide behind it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.ui.conftest import Server, screenshot, sign_in

RUN = "window.__xss=(window.__xss||0)+1"
"""What every payload runs if it gets the chance: counts in ``window.__xss``."""

JS_URL = f"javascript:{RUN}"


def hostile(label: str) -> str:
    """``label``, then an image, a script that breaks out of an attribute, an SVG and template
    syntax: each runs ``RUN`` if the text is ever taken as HTML (or as a template)."""
    return (
        f'{label} <img src=x onerror="{RUN}"> "><script>{RUN}</script> '
        f'<svg onload="{RUN}"> {{{{7*7}}}}'
    )


def short(label: str) -> str:
    """A payload for fields of up to 100 characters and for names that cannot hold ``/``."""
    return f"{label} <img src=x onerror={RUN}> {{{{7*7}}}}"


def label_of(key: str) -> str:
    """How the data view titles a data key (``labelOf`` in ``pages/work/parts.tsx``)."""
    text = re.sub(r"[_-]+", " ", key).strip()
    return text[:1].upper() + text[1:] if text else key


def outcome_label(outcome: str) -> str:
    """How the task page words an outcome button (``outcomeLabel`` in ``TaskPage.tsx``)."""
    return outcome[:1].upper() + re.sub(r"[_-]+", " ", outcome[1:])


WF_NAME = hostile("WF-NAME")
WF_DESC = hostile("WF-DESC")
STAGE = hostile("STAGE")
TASK_NAME = hostile("TASK-NAME")
DECIDE_NAME = hostile("DECIDE-NAME")
NODE_DESC = hostile("NODE-DESC")
INSTRUCTIONS = hostile("INSTRUCTIONS")
EDGE_LABEL = hostile("EDGE-LABEL")
OUTCOME = short("OUTCOME")
START_FORM_TITLE = hostile("START-FORM-TITLE")
START_FORM_DESC = hostile("START-FORM-DESC")
START_FIELD = hostile("START-FIELD")
START_FIELD_DESC = hostile("START-FIELD-DESC")
START_ENUM = hostile("START-ENUM")
TASK_FORM_TITLE = hostile("TASK-FORM-TITLE")
TASK_FORM_DESC = hostile("TASK-FORM-DESC")
TASK_FIELD = hostile("TASK-FIELD")
TASK_FIELD_DESC = hostile("TASK-FIELD-DESC")
TASK_HELP = hostile("TASK-HELP")
TASK_ENUM = hostile("TASK-ENUM")
MARKDOWN = f"[a markdown link]({JS_URL}) and <img src=x onerror={RUN}>"
DATA_NOTE = hostile("DATA-NOTE")
DATA_KEY = short("DATA-KEY")
BUSINESS_KEY = hostile("BUSINESS-KEY")
ANSWER = hostile("ANSWER")
CORRECTED = hostile("CORRECTED")
AUDIT_REASON = hostile("AUDIT-REASON")
TASK_COMMENT = hostile("TASK-COMMENT")
CASE_COMMENT = hostile("CASE-COMMENT")
DOCUMENT = f"DOC <img src=x onerror={RUN}> {{{{7*7}}}}.txt"
JS_DOCUMENT = f"{JS_URL}.txt"
DISPLAY_NAME = hostile("DISPLAY-NAME")
ROLE_DESC = hostile("ROLE-DESC")
OOO_NOTE = hostile("OOO-NOTE")
TOKEN_NAME = hostile("TOKEN-NAME")
TEMPLATE_NAME = hostile("TEMPLATE-NAME")
TEMPLATE_DESC = hostile("TEMPLATE-DESC")
TABLE_DESC = hostile("TABLE-DESC")
CELL = hostile("CELL")
CELL_KEY = short("CELL-KEY")
MESSAGE_HOOK = short("MESSAGE-HOOK")
MAPPED = short("MAPPED")
ENDPOINT_URL = f'https://example.invalid/x"><img/src=x/onerror={RUN}>'
ENDPOINT_DESC = hostile("ENDPOINT-DESC")
BRAND = short("BRAND")
LOGO = f'/logo.png"onerror="{RUN}'
REPORT_NAME = hostile("REPORT-NAME")
VIEW_NAME = short("VIEW")
INCIDENT_NOTE = "<svg onload=window.__xss=1>"
"""Short: an incident message quotes at most 40 characters of the value that failed."""
HOOK_COUNT = hostile("HOOK-COUNT")

INERT = """() => {
  const found = [];
  const scheme = (value) => value.replace(/[\\s\\u0000-\\u001f]+/g, "").toLowerCase();
  for (const el of document.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      if (name.startsWith("on")) found.push(`${el.tagName.toLowerCase()}[${name}]`);
      if (["href", "src", "action", "formaction", "xlink:href", "data"].includes(name)
          && /^(javascript|vbscript|data:text\\/html)/.test(scheme(attr.value)))
        found.push(`${el.tagName.toLowerCase()}[${name}=${attr.value}]`);
    }
  }
  for (const s of document.querySelectorAll("script:not([src])")) found.push(`script: ${s.text}`);
  for (const i of document.querySelectorAll("img[src='x'], svg[onload]")) found.push(i.outerHTML);
  return found;
}"""
"""Everything in the page a payload could have made, as a list (empty: nothing)."""


@dataclass(frozen=True)
class Planted:
    """What the pages are visited for: one workflow, its employee and three instances."""

    key: str
    username: str
    table: str
    report_id: str
    waiting: str
    """An instance at its first task (comments, documents, a data correction)."""
    waiting_task: str
    deciding: str
    """An instance past its first task, at the approval with a hostile outcome."""
    deciding_task: str
    broken: str
    """An instance with an incident whose message quotes a payload."""
    tracking_token: str


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    return response.json() if response.content else None


def _definition(key: str, username: str) -> dict[str, Any]:
    """A workflow with a payload in every text it has. It starts by webhook (so it shows on
    the webhooks page) or by hand; ``mode: break`` sends it into a step that fails on ``note``,
    otherwise it waits at a task for ``username`` and then at that person's approval."""
    start_form = {
        "type": "object",
        "title": START_FORM_TITLE,
        "description": START_FORM_DESC,
        "properties": {
            "note": {"type": "string", "title": START_FIELD, "description": START_FIELD_DESC},
            "choice": {
                "type": "string",
                "title": "Choice",
                "oneOf": [{"const": "a", "title": START_ENUM}, {"const": "b", "title": "Plain"}],
            },
        },
    }
    task_form = {
        "type": "object",
        "title": TASK_FORM_TITLE,
        "description": TASK_FORM_DESC,
        "properties": {
            "answer": {"type": "string", "title": TASK_FIELD, "description": TASK_FIELD_DESC},
            "pick": {"type": "string", "title": "Pick", "enum": ["a", "b"]},
            "linked": {"type": "string", "title": "Linked", "description": MARKDOWN},
        },
    }
    task_ui = {
        "answer": {"ui:help": TASK_HELP},
        "pick": {"ui:widget": "radio", "ui:enumNames": [TASK_ENUM, "Plain"]},
        "linked": {"ui:enableMarkdownInDescription": True},
    }
    return {
        "format": 1,
        "key": key,
        "name": WF_NAME,
        "description": WF_DESC,
        "data": {"type": "object", "properties": {"count": {"type": "integer"}}},
        "nodes": [
            {
                "id": "start",
                "type": "start",
                "name": "Start",
                "trigger": {"type": "webhook", "webhook": {"scheme": "github"}},
                "form": start_form,
            },
            {"id": "route", "type": "exclusive", "name": "Route"},
            {"id": "breaks", "type": "set", "name": "Breaks", "assign": {"n": "int(note)"}},
            {
                "id": "review",
                "type": "user_task",
                "name": TASK_NAME,
                "stage": STAGE,
                "description": NODE_DESC,
                "instructions": INSTRUCTIONS,
                "assignee": {"user": username},
                "form": task_form,
                "ui": task_ui,
            },
            {
                "id": "decide",
                "type": "approval",
                "name": DECIDE_NAME,
                "approvers": [{"user": username}],
                "outcomes": [OUTCOME, "reject"],
            },
            {"id": "end", "type": "end", "name": "Done"},
        ],
        "edges": [
            {"id": "e1", "from": "start", "to": "route"},
            {"id": "e2", "from": "route", "to": "breaks", "condition": "mode == 'break'"},
            {"id": "e3", "from": "route", "to": "review", "default": True, "label": EDGE_LABEL},
            {"id": "e4", "from": "breaks", "to": "end"},
            {"id": "e5", "from": "review", "to": "decide"},
            {"id": "e6", "from": "decide", "to": "end", "outcome": OUTCOME},
            {"id": "e7", "from": "decide", "to": "end", "outcome": "reject"},
        ],
    }


def _open_task(api: httpx.Client, instance_id: str, node: str) -> str:
    instance = _ok(api.get(f"/api/instances/{instance_id}"))
    (task,) = [t for t in instance["open_tasks"] if t["node"] == node]
    return str(task["id"])


def _dead_letter(server: Server, api: httpx.Client, key: str) -> None:
    """Deliver a signed webhook whose body does not fit the data: kept as a dead letter."""
    secret = _ok(api.post(f"/api/admin/webhooks/{key}/secrets"), 201)["secret"]
    body = json.dumps({"count": HOOK_COUNT}).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    answer = httpx.post(
        f"{server.url}/hooks/{key}",
        content=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={signature}"},
    )
    assert answer.status_code == 422, answer.text
    letter = _ok(api.get(f"/api/admin/dead-letters/{answer.headers['X-Stepwise-Dead-Letter']}"))
    assert letter["payload"] == {"count": HOOK_COUNT}


@pytest.fixture(scope="module")
def planted(server: Server) -> Iterator[Planted]:
    """Every user-editable text the UI shows, planted once with payloads by the API."""
    tag = secrets.token_hex(3)
    key, username, role, table = f"xss-{tag}", f"xss-{tag}", f"xss_{tag}", f"xss_{tag}"
    password = secrets.token_urlsafe(16)
    api = server.client("admin")

    _ok(api.post("/api/admin/roles", json={"name": role, "description": ROLE_DESC}), 201)
    _ok(
        api.post(
            "/api/admin/users",
            json={
                "username": username,
                "display_name": DISPLAY_NAME,
                "roles": ["employee", role],
                "password": password,
            },
        ),
        201,
    )
    server.passwords[username] = password
    me = server.client(username)

    definition = _definition(key, username)
    _ok(
        api.post(
            "/api/workflows",
            json={"key": key, "name": WF_NAME, "description": WF_DESC, "draft": definition},
        ),
        201,
    )
    _ok(api.post(f"/api/workflows/{key}/publish"), 201)

    data = {
        "mode": "on",
        "note": DATA_NOTE,
        "reference": BUSINESS_KEY,
        "choice": "a",
        DATA_KEY: "keyed",
    }
    waiting = _ok(me.post(f"/api/workflows/{key}/instances", json={"data": data}), 201)
    deciding = _ok(me.post(f"/api/workflows/{key}/instances", json={"data": data}), 201)
    broken = _ok(
        api.post(
            f"/api/workflows/{key}/instances",
            json={"data": {"mode": "break", "note": INCIDENT_NOTE, "reference": BUSINESS_KEY}},
        ),
        201,
    )
    assert broken["open_incidents"] == 1, broken
    waiting_task = _open_task(api, waiting["id"], "review")
    review = _open_task(api, deciding["id"], "review")
    _ok(me.post(f"/api/tasks/{review}/complete", json={"data": {"answer": ANSWER, "pick": "a"}}))
    deciding_task = _open_task(api, deciding["id"], "decide")

    _ok(me.post(f"/api/tasks/{waiting_task}/comments", json={"body": TASK_COMMENT}), 201)
    _ok(me.post(f"/api/instances/{waiting['id']}/comments", json={"body": CASE_COMMENT}), 201)
    for filename in (DOCUMENT, JS_DOCUMENT):
        _ok(
            me.post(
                f"/api/instances/{waiting['id']}/documents",
                files={"file": (filename, b"plain text\n", "text/plain")},
            ),
            201,
        )
    _ok(
        api.post(
            f"/api/instances/{waiting['id']}/data",
            json={"data": {"corrected": CORRECTED}, "reason": AUDIT_REASON},
        )
    )

    window = _ok(
        api.post(
            "/api/out-of-office",
            json={
                "user": username,
                "starts_at": "2099-07-01T09:00:00Z",
                "ends_at": "2099-07-14T17:00:00Z",
                "delegate": "admin",
                "note": OOO_NOTE,
            },
        ),
        201,
    )
    _ok(
        api.post(
            "/api/admin/tokens", json={"name": TOKEN_NAME, "user": username, "scopes": ["read"]}
        ),
        201,
    )
    template_id = f"xss-template-{tag}"
    _ok(
        api.post(
            "/api/templates",
            json={
                "workflow": key,
                "id": template_id,
                "name": TEMPLATE_NAME,
                "description": TEMPLATE_DESC,
            },
        ),
        201,
    )
    _ok(
        api.post(
            "/api/tables",
            json={
                "name": table,
                "description": TABLE_DESC,
                "columns": [
                    {"name": "code", "type": "string"},
                    {"name": "label", "type": "string"},
                ],
                "key_columns": ["code"],
            },
        ),
        201,
    )
    _ok(
        api.post(f"/api/tables/{table}/rows", json={"values": {"code": CELL_KEY, "label": CELL}}),
        201,
    )
    _ok(
        api.put(
            f"/api/admin/message-hooks/{MESSAGE_HOOK}",
            json={"correlation": "body.id", "mapping": {"note": f"'{MAPPED}'"}},
        )
    )
    endpoint = _ok(
        api.post(
            "/api/admin/event-endpoints",
            json={
                "url": ENDPOINT_URL,
                "event_types": ["task.created"],
                "description": ENDPOINT_DESC,
            },
        ),
        201,
    )
    # nothing should be sent to it while the other tests run
    _ok(api.patch(f"/api/admin/event-endpoints/{endpoint['id']}", json={"enabled": False}))
    _ok(api.put("/api/admin/branding", json={"name": BRAND, "logo_url": LOGO}))
    report = _ok(
        api.post(
            "/api/reports/saved",
            json={
                "name": REPORT_NAME,
                "query": {"workflow": key, "measure": "count", "group_by": "data.note"},
                "chart": "bar",
                "pinned": True,
            },
        ),
        201,
    )
    _ok(me.post("/api/views", json={"name": VIEW_NAME, "query": {"scope": "all"}}), 201)
    _dead_letter(server, api, key)

    yield Planted(
        key=key,
        username=username,
        table=table,
        report_id=report["id"],
        waiting=waiting["id"],
        waiting_task=waiting_task,
        deciding=deciding["id"],
        deciding_task=deciding_task,
        broken=broken["id"],
        tracking_token=waiting["tracking_token"],
    )

    # leave nothing behind on the pages other browser tests look at
    _ok(api.put("/api/admin/branding", json={"name": "", "color": "", "logo_url": ""}))
    _ok(api.post(f"/api/instances/{broken['id']}/cancel", json={"reason": "sweep done"}))
    for path in (
        f"/api/templates/{template_id}",
        f"/api/admin/event-endpoints/{endpoint['id']}",
        f"/api/admin/message-hooks/{MESSAGE_HOOK}",
        f"/api/out-of-office/{window['id']}",
        f"/api/tables/{table}",
    ):
        _ok(api.delete(path), 204)
    me.close()
    api.close()


@pytest.fixture
def visit(browser: Any, server: Server) -> Iterator[Callable[..., Page]]:
    """``visit("admin")``: a page logged in as that person, in a context that bypasses the
    app's CSP, with its dialogs and page errors recorded (``page.dialogs``, ``page.errors``).
    ``visit(None)``: the same, logged in as nobody."""
    contexts: list[Any] = []

    def make(username: str | None) -> Page:
        context = browser.new_context(
            base_url=server.url, viewport={"width": 1400, "height": 900}, bypass_csp=True
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page: Page = context.new_page()
        dialogs: list[str] = []
        errors: list[str] = []

        def refuse(dialog: Dialog) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", refuse)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.dialogs = dialogs  # type: ignore[attr-defined]
        page.errors = errors  # type: ignore[attr-defined]
        if username is not None:
            sign_in(page, server, username)
        return page

    yield make
    for context in contexts:
        context.close()


def shows(page: Page, *texts: str) -> None:
    """Each text is on the page as visible text."""
    for text in texts:
        expect(page.get_by_text(text).filter(visible=True).first).to_be_visible()


def inert(page: Page) -> None:
    """Nothing planted ran, and nothing planted became markup."""
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.evaluate(INERT) == []
    assert page.dialogs == []  # type: ignore[attr-defined]
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_inbox_task_and_request_pages_show_planted_markup_as_text(
    planted: Planted, visit: Callable[..., Page]
) -> None:
    page = visit(planted.username)  # the employee the tasks are for, named with markup
    row = page.locator(f"[data-task='{planted.waiting_task}']")
    expect(row).to_contain_text(TASK_NAME)
    expect(row).to_contain_text(STAGE)
    shows(page, DISPLAY_NAME, VIEW_NAME)
    inert(page)

    page.goto(f"/tasks/{planted.waiting_task}")
    expect(page.get_by_role("heading", level=1)).to_have_text(TASK_NAME)
    shows(page, INSTRUCTIONS, TASK_FORM_TITLE, TASK_FORM_DESC, TASK_FIELD, TASK_FIELD_DESC)
    shows(page, TASK_HELP, TASK_ENUM, TASK_COMMENT, WF_NAME, BUSINESS_KEY, DATA_NOTE, STAGE)
    shows(page, label_of(DATA_KEY))
    # the markdown description makes its link an <a>, but without the javascript: address
    markdown = page.locator("a", has_text="a markdown link")
    expect(markdown).to_be_visible()
    expect(markdown).not_to_have_attribute("href", re.compile(r"."))
    shows(page, f"and <img src=x onerror={RUN}>")
    screenshot(page, "xss-sweep-task")
    inert(page)

    page.goto(f"/tasks/{planted.deciding_task}")
    expect(page.get_by_role("heading", level=1)).to_have_text(DECIDE_NAME)
    expect(page.get_by_role("button", name=outcome_label(OUTCOME), exact=True)).to_be_visible()
    shows(page, DATA_NOTE, BUSINESS_KEY, ANSWER)  # what the first task's form sent
    inert(page)

    page.goto("/new")
    card = page.locator(f"[data-key='{planted.key}']")
    expect(card.get_by_role("heading")).to_have_text(WF_NAME)
    expect(card).to_contain_text(WF_DESC)
    card.get_by_role("button", name="Start").click()
    form = page.locator("#start-form")
    expect(form.get_by_role("heading", level=2)).to_have_text(WF_NAME)
    shows(page, START_FORM_TITLE, START_FORM_DESC, START_FIELD, START_FIELD_DESC)
    expect(form.locator("select").filter(has_text=START_ENUM)).to_be_visible()
    inert(page)

    page.goto("/requests")
    row = page.locator(f"tr[data-instance='{planted.waiting}']")
    for text in (WF_NAME, BUSINESS_KEY, STAGE):
        expect(row).to_contain_text(text)
    inert(page)

    page.goto("/instances")
    row = page.locator(f"tr[data-instance='{planted.waiting}']")
    for text in (WF_NAME, BUSINESS_KEY, STAGE):
        expect(row).to_contain_text(text)
    inert(page)


def test_the_instance_page_shows_planted_markup_as_text(
    planted: Planted, visit: Callable[..., Page]
) -> None:
    page = visit(planted.username)
    page.goto(f"/instances/{planted.waiting}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{WF_NAME} · {BUSINESS_KEY}")
    expect(page.locator(".timeline")).to_contain_text(STAGE)
    expect(page.get_by_role("region", name="Open tasks")).to_contain_text(TASK_NAME)
    data = page.get_by_role("region", name="Data")
    for text in (DATA_NOTE, CORRECTED, label_of(DATA_KEY)):
        expect(data).to_contain_text(text)
    documents = page.get_by_role("region", name="Documents")
    for filename in (DOCUMENT, JS_DOCUMENT):
        link = documents.get_by_role("link", name=filename, exact=True)
        expect(link).to_be_visible()
        expect(link).to_have_attribute("href", re.compile(r"^/api/documents/[0-9a-f]+$"))
    # the task's comment is listed with the instance's, oldest first
    expect(page.locator(".comment-body")).to_have_text([TASK_COMMENT, CASE_COMMENT])
    expect(page.get_by_role("region", name="Audit log")).to_contain_text(AUDIT_REASON)
    expect(page.get_by_test_id("path-diagram")).to_contain_text(TASK_NAME)
    inert(page)


def test_the_workflow_list_and_the_designer_show_planted_markup_as_text(
    planted: Planted, visit: Callable[..., Page]
) -> None:
    page = visit("admin")
    page.goto("/workflows")
    card = page.locator(f"[data-key='{planted.key}']")
    expect(card.get_by_role("link", name=WF_NAME)).to_be_visible()
    expect(card).to_contain_text(WF_DESC)
    gallery = page.get_by_test_id("template-gallery")
    expect(gallery.get_by_role("heading", name=TEMPLATE_NAME)).to_be_visible()
    expect(gallery).to_contain_text(TEMPLATE_DESC)
    inert(page)

    page.goto(f"/designer/{planted.key}")
    expect(page.get_by_test_id("designer")).to_have_attribute("data-ready", "true")
    expect(page.get_by_test_id("toolbar-name")).to_have_value(WF_NAME)
    review = page.get_by_test_id("rf__node-review")
    expect(review.locator(".wf-name")).to_have_text(TASK_NAME)
    expect(page.locator(".wf-edge-label[data-edge-id='e3']")).to_have_text(EDGE_LABEL)
    review.click()
    panel = page.get_by_test_id("node-panel")
    expect(panel).to_have_attribute("data-node-id", "review")
    expect(page.get_by_test_id("node-name")).to_have_value(TASK_NAME)
    expect(panel.locator(".wf-props-title")).to_have_text(TASK_NAME)
    expect(panel.get_by_label("Notes for designers")).to_have_value(NODE_DESC)
    preview = page.get_by_test_id("form-preview")  # the task's form, rendered as people see it
    for text in (TASK_FORM_TITLE, TASK_FIELD, TASK_FIELD_DESC, TASK_HELP, TASK_ENUM):
        expect(preview).to_contain_text(text)
    inert(page)


def test_the_admin_pages_show_planted_markup_as_text(
    planted: Planted, visit: Callable[..., Page]
) -> None:
    page = visit("admin")
    page.goto("/admin/users")
    expect(page.locator(f"tr[data-username='{planted.username}']")).to_contain_text(DISPLAY_NAME)
    inert(page)

    page.goto("/admin/roles")
    shows(page, ROLE_DESC)
    inert(page)

    page.goto("/admin/out-of-office")
    expect(page.locator(f"tr[data-user='{planted.username}']")).to_contain_text(OOO_NOTE)
    inert(page)

    page.goto("/admin/tokens")
    expect(page.get_by_role("table", name="API tokens")).to_contain_text(TOKEN_NAME)
    inert(page)

    page.goto("/admin/webhooks")
    hook = page.locator(f"[data-hook='{planted.key}']")
    expect(hook.get_by_role("heading")).to_contain_text(WF_NAME)
    shows(page, MESSAGE_HOOK, MAPPED, ENDPOINT_DESC)
    expect(page.get_by_role("table", name="Event endpoints")).to_contain_text(ENDPOINT_URL)
    inert(page)

    page.goto("/admin/incidents")
    row = page.locator(f"tr[data-instance='{planted.broken}']")
    expect(row).to_contain_text(INCIDENT_NOTE)
    expect(row).to_contain_text(BUSINESS_KEY)
    inert(page)

    page.goto("/admin/dead-letters")
    letter = page.get_by_role("table", name="Dead letters").locator("tr", has_text=planted.key)
    letter.first.get_by_role("button", name="View").click()
    body = page.get_by_role("dialog").get_by_label("Body")
    expect(body).to_have_value(re.compile(re.escape(json.dumps(HOOK_COUNT))))
    inert(page)

    page.goto("/admin/tables")
    page.get_by_role("group", name="Tables").get_by_role("button", name=planted.table).click()
    shows(page, TABLE_DESC, CELL, CELL_KEY)
    inert(page)

    page.goto("/admin/templates")
    shows(page, TEMPLATE_NAME, TEMPLATE_DESC)
    inert(page)

    page.goto("/admin/branding")
    form = page.get_by_role("form", name="Branding")
    expect(form.get_by_label("Company name")).to_have_value(BRAND)
    expect(form.get_by_label("Logo address")).to_have_value(LOGO)
    inert(page)

    # nothing here can hold markup (workflow keys, calendar names): visited for what they show
    page.goto("/admin/retention")
    days = page.get_by_label(f"Days to keep finished {planted.key} instances")
    expect(days).to_be_visible()
    inert(page)

    page.goto("/admin/calendars")
    expect(page.get_by_role("heading", name="Business calendars", level=1)).to_be_visible()
    inert(page)

    page.goto("/admin/audit")
    filters = page.get_by_role("search", name="Filter the audit log")
    filters.get_by_label("Instance").fill(planted.waiting)
    expect(page.get_by_role("table", name="Audit events")).to_contain_text(AUDIT_REASON)
    inert(page)

    page.goto(f"/instances/{planted.broken}")
    attention = page.get_by_role("region", name="Needs attention")
    expect(attention).to_contain_text(INCIDENT_NOTE)
    inert(page)


def test_the_reports_show_planted_markup_as_text(
    planted: Planted, visit: Callable[..., Page]
) -> None:
    page = visit("admin")
    page.goto(f"/reports?workflow={planted.key}")
    expect(page.locator("[data-chart='funnel']")).to_contain_text(STAGE)
    expect(page.locator(".heat-node", has_text=TASK_NAME)).to_be_visible()
    pinned = page.get_by_role("region", name="Pinned reports")
    expect(pinned.get_by_role("heading", name=REPORT_NAME)).to_be_visible()
    expect(pinned).to_contain_text(DATA_NOTE)
    screenshot(page, "xss-sweep-reports")
    inert(page)

    page.goto(f"/reports/builder/{planted.report_id}")
    shows(page, REPORT_NAME)
    inert(page)


def test_the_tracking_page_shows_stage_and_brand_as_text(
    planted: Planted, visit: Callable[..., Page], server: Server
) -> None:
    raw = httpx.get(f"{server.url}/track/{planted.tracking_token}")
    assert raw.status_code == 200, raw.text
    assert "<script>" not in raw.text
    assert "<img src=x" not in raw.text
    assert "&lt;img src=x" in raw.text  # the stage and brand are there, escaped
    assert 'src="/logo.png&#34;onerror=&#34;' in raw.text  # the logo's quotes stay in its src

    page = visit(None)
    page.goto(f"/track/{planted.tracking_token}")
    shows(page, STAGE, BRAND)
    expect(page.locator("header img")).to_have_attribute("src", LOGO)
    inert(page)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("PUT", "/api/admin/branding", {"logo_url": JS_URL}, id="logo-address"),
        pytest.param(
            "POST",
            "/api/admin/event-endpoints",
            {"url": JS_URL, "event_types": ["task.created"]},
            id="event-endpoint-address",
        ),
        pytest.param("POST", "/api/admin/roles", {"name": short("role")}, id="role-name"),
        pytest.param(
            "POST",
            "/api/tables",
            {
                "name": short("t"),
                "columns": [{"name": "k", "type": "string"}],
                "key_columns": ["k"],
            },
            id="table-name",
        ),
        pytest.param(
            "POST",
            "/api/tables",
            {
                "name": "t",
                "columns": [{"name": short("k"), "type": "string"}],
                "key_columns": [short("k")],
            },
            id="table-column",
        ),
        pytest.param("PUT", f"/api/calendars/{short('calendar')}", {}, id="calendar-name"),
    ],
)
def test_addresses_and_names_that_cannot_hold_markup_are_refused(
    server: Server, method: str, path: str, body: dict[str, Any]
) -> None:
    """A ``javascript:`` address, and markup in a name kept to letters and digits, never get
    stored (so never rendered): a 422 with the usual error body."""
    api = server.client("admin")
    answer = api.request(method, path, json=body)
    api.close()
    assert answer.status_code == 422, answer.text
    assert set(answer.json()["error"]) >= {"code", "message"}
