"""Task notices (``app/services/notices.py``): the email or SMS a task's people get when it is
created, with one-click links made for each of them, caught by a real SMTP server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from app.db.models import Outbox, Task
from app.main import create_app
from app.services import notices
from app.services.outbox import tick
from tests.app.builders import away, one_task
from tests.app.test_actionlinks import approval_flow
from tests.app.test_channels import Mailbox, mailbox, publish, recording_server, rows, start

LINKS_BODY = (
    "Hello {{ person.name }}, {{ task.name }} for {{ order_id }} waits for you.\n"
    "Approve: {{ task.links.approve }}\nReject: {{ task.links.reject }}\nOpen: {{ task.url }}"
)


@pytest.fixture
def box() -> Iterator[Mailbox]:
    with mailbox() as running:
        yield running


@pytest.fixture
def app(settings, box):
    with recording_server() as sms:
        extra = {
            **box.settings(),
            "mail_from": "Approvals <approvals@shop.example>",
            "public_url": "https://flow.example",
            "sms_url": f"{sms.url}/sms",
        }
        application = create_app(replace(settings, extra=extra, controllable_clock=True))
        application.state.sms = sms
        yield application
        application.state.worker.client.close()
        application.state.engine.dispose()


def approval(key: str, approvers: list[dict[str, Any]], notify: list[dict[str, Any]]) -> dict:
    """start → the approval ``approve`` ("Approve refund") with ``notify`` → end."""
    flow = approval_flow(key, approvers)
    flow["nodes"][1]["notify"] = notify
    return flow


def pool_task(key: str, assignee: dict[str, Any], notify: list[dict[str, Any]]) -> dict:
    """start → the user task ``work`` ("Do the work") with ``notify`` → end."""
    flow = one_task(key, assignee)
    flow["nodes"][1]["notify"] = notify
    return flow


def send(app) -> None:
    tick(app.state.worker, now=app.state.clock.now())


def links(text: str) -> dict[str, str]:
    found = dict(re.findall(r"^(Approve|Reject): https://flow\.example(/act/\S+)$", text, re.M))
    return {k.lower(): v for k, v in found.items()}


def test_each_approver_gets_an_email_with_links_made_for_them_and_one_approves_from_it(
    app, login, anonymous, box
):
    admin = login("admin")
    notice = {"channel": "email", "subject": "Refund {{ order_id }}", "body": LINKS_BODY}
    key = publish(admin, approval("refund-mail", [{"user": "fiona"}, {"user": "mia"}], [notice]))
    instance_id = start(admin, key, {"order_id": "R-7"})
    send(app)

    by_person = {mail.rcpt_tos[0]: mail for mail in box.received}
    assert sorted(by_person) == ["fiona@stepwise.example", "mia@stepwise.example"]
    fiona = by_person["fiona@stepwise.example"]
    assert fiona.message["Subject"] == "Refund R-7"
    assert fiona.text.startswith("Hello Fiona")
    assert "Approve refund for R-7 waits for you." in fiona.text
    fiona_links = links(fiona.text)
    mia_links = links(by_person["mia@stepwise.example"].text)
    assert set(fiona_links) == {"approve", "reject"}
    assert fiona_links["approve"] != mia_links["approve"]  # each link is the person's own

    tasks = admin.get("/api/tasks", params={"scope": "all", "instance": instance_id}).json()
    fionas = next(t for t in tasks["items"] if t["assignee"] == "fiona")
    assert f"Open: https://flow.example/tasks/{fionas['id']}" in fiona.text

    used = anonymous.post(fiona_links["approve"])
    assert used.status_code == 200, used.text
    assert admin.get(f"/api/tasks/{fionas['id']}").json()["completed_by"] == "fiona"
    assert anonymous.post(mia_links["reject"]).status_code == 200
    assert admin.get(f"/api/instances/{instance_id}").json()["status"] == "rejected"


def test_a_pool_task_tells_the_people_of_its_role_who_are_in(app, login, box):
    admin = login("admin")
    away(admin, "wendy", "walt", app.state.clock.now(), days=2)
    notice = {"subject": "New in the warehouse pool", "body": "{{ task.name }}: {{ task.url }}"}
    key = publish(admin, pool_task("pool-mail", {"role": "warehouse"}, [notice]))
    instance_id = start(admin, key)
    send(app)

    members = {"walt", "wendy", "mia"}  # the warehouse role's people in the demo data
    got = sorted(r for mail in box.received for r in mail.rcpt_tos)
    assert "wendy@stepwise.example" not in got  # away: her pool leaves her out
    assert "walt@stepwise.example" in got
    assert set(got) <= {f"{m}@stepwise.example" for m in members}
    assert len(got) == len(set(got))
    (row_people,) = {tuple(sorted(r.payload["person"] for r in rows(app, instance_id)))}
    assert [f"{p}@stepwise.example" for p in row_people] == got


def test_four_eyes_keeps_the_excluded_person_out_of_the_notices(app, login):
    with app.state.sessionmaker() as session:
        task = Task(
            instance_id="x",
            engine_id="task1",
            workflow_key="k",
            node="n",
            name="Check",
            candidate_roles=["warehouse"],
            candidate_users=["sam"],
            excluded_users=["walt"],
            created_at=datetime.now(UTC),
        )
        people = notices.recipients(session, task, now=datetime.now(UTC))
    assert "walt" not in people
    assert "sam" in people
    assert "wendy" in people


def test_someone_without_a_phone_number_is_skipped_and_the_task_waits_for_them(app, login):
    admin = login("admin")
    notice = {"channel": "sms", "body": "{{ task.name }} waits: {{ task.url }}"}
    key = publish(admin, pool_task("sms-none", {"user": "sam"}, [notice]))
    instance_id = start(admin, key)
    send(app)

    (row,) = rows(app, instance_id)
    assert (row.status, row.last_error) == ("skipped", "sam has no phone number")
    assert app.state.sms.requests == []
    assert [t["node"] for t in admin.get(f"/api/instances/{instance_id}").json()["open_tasks"]] == [
        "work"
    ]


def test_sms_goes_to_the_phone_in_the_persons_profile(app, login):
    with app.state.sessionmaker() as session:
        from app.db.models import User

        sam = session.scalar(select(User).where(User.username == "sam"))
        sam.phone = "+15550001111"
        session.commit()
    admin = login("admin")
    notice = {"channel": "sms", "body": "{{ person.name }}: {{ task.name }} waits"}
    key = publish(admin, pool_task("sms-sam", {"user": "sam"}, [notice]))
    start(admin, key)
    send(app)

    (sent,) = app.state.sms.requests
    form = sent.form()
    assert form["To"] == "+15550001111"
    assert form["Body"].endswith(": Do the work waits")


def test_a_notice_with_its_own_address_carries_the_persons_links(app, login, anonymous, box):
    admin = login("admin")
    notice = {"to": "{{ approver_mailbox }}", "body": LINKS_BODY}
    key = publish(admin, approval("refund-to", [{"user": "fiona"}], [notice]))
    instance_id = start(admin, key, {"order_id": "R-9", "approver_mailbox": "desk@shop.example"})
    send(app)

    (mail,) = box.received
    assert mail.rcpt_tos == ["desk@shop.example"]
    assert anonymous.post(links(mail.text)["approve"]).status_code == 200
    assert admin.get(f"/api/instances/{instance_id}").json()["status"] == "completed"


def test_notices_go_out_once_even_when_the_outbox_runs_again(app, login, box):
    admin = login("admin")
    notice = {"body": "{{ task.name }}"}
    key = publish(admin, pool_task("once", {"user": "sam"}, [notice, {**notice, "subject": "2"}]))
    instance_id = start(admin, key)
    send(app)
    send(app)

    assert len(box.received) == 2
    with app.state.sessionmaker() as session:
        keys = session.scalars(
            select(Outbox.idempotency_key).where(Outbox.instance_id == instance_id)
        )
        assert len(set(keys)) == 2


def test_a_notice_template_that_does_not_parse_stops_the_publish(login):
    admin = login("admin")
    draft = pool_task("bad-notice", {"user": "sam"}, [{"body": "Hello {{ person.name "}])
    assert (
        admin.post("/api/workflows", json={"key": "bad-notice", "draft": draft}).status_code == 201
    )
    refused = admin.post("/api/workflows/bad-notice/publish")
    assert refused.status_code == 422
    problems = refused.json()["error"]["details"]
    assert [(p["code"], p["node"], p["field"]) for p in problems] == [
        ("bad_template", "work", "notify[0].body")
    ]


def test_a_notice_needs_a_body_and_a_known_channel(login):
    admin = login("admin")
    cases = (
        ({"body": ""}, "notify.0.body", "must not be empty"),
        ({"channel": "fax", "body": "x"}, "notify.0.channel", "must be one of 'email' or 'sms'"),
    )
    for notice, field, why in cases:
        draft = pool_task("bad-shape", {"user": "sam"}, [notice])
        checked = admin.post("/api/workflows/validate", json={"definition": draft})
        assert checked.status_code == 200, checked.text
        (problem,) = checked.json()["problems"]
        assert (problem["node"], problem["field"]) == ("work", field)
        assert why in problem["message"]


def test_a_pool_approvers_link_takes_and_decides_the_task_in_one_go(app, login, anonymous, box):
    admin = login("admin")
    notice = {"body": LINKS_BODY}
    key = publish(admin, approval("pool-links", [{"role": "warehouse_manager"}], [notice]))
    instance_id = start(admin, key, {"order_id": "R-11"})
    send(app)

    (mail,) = box.received  # mia is the warehouse manager
    assert mail.rcpt_tos == ["mia@stepwise.example"]
    used = anonymous.post(links(mail.text)["reject"])
    assert used.status_code == 200, used.text
    instance = admin.get(f"/api/instances/{instance_id}").json()
    assert instance["status"] == "rejected"


def test_the_purchase_template_mails_the_team_lead_a_decision_they_can_make_from_it(
    app, login, anonymous, box
):
    sam = login("sam")
    request = {"item": "Standing desk", "amount": 480, "supplier": "Desks & Co"}
    started = sam.post("/api/workflows/purchase-approval/instances", json={"data": request})
    assert started.status_code == 201, started.text
    send(app)

    # the team lead pool: the managers (admin and mia), the requester left out
    by_person = {mail.rcpt_tos[0]: mail for mail in box.received}
    assert sorted(by_person) == ["admin@stepwise.example", "mia@stepwise.example"]
    mail = by_person["mia@stepwise.example"]
    assert mail.message["Subject"] == "Please decide: Standing desk for EUR 480"
    assert "sam asks to buy Standing desk from Desks & Co for EUR 480." in mail.text
    assert mail.text.startswith("Hello Mia Manager,")
    assert anonymous.post(links(mail.text)["approve"]).status_code == 200
    instance = login("admin").get(f"/api/instances/{started.json()['id']}").json()
    assert [t["node"] for t in instance["open_tasks"]] == ["place_order"]


def test_a_handover_and_each_sla_reminder_send_the_notices_to_whoever_holds_the_task(
    app, login, box
):
    admin = login("admin")
    notice = {"subject": "{{ task.name }}", "body": "It waits: {{ task.url }}"}
    draft = pool_task("remind-mail", {"user": "sam"}, [notice])
    draft["nodes"][1]["sla"] = {"due": "PT4H", "remind": ["PT3H"]}
    key = publish(admin, draft)
    instance_id = start(admin, key)
    send(app)
    assert [m.message["Subject"] for m in box.received] == ["Do the work"]

    (task,) = admin.get(f"/api/instances/{instance_id}").json()["open_tasks"]
    moved = admin.post(f"/api/tasks/{task['id']}/reassign", json={"user": "walt"})
    assert moved.status_code == 200, moved.text
    app.state.clock.advance(by=timedelta(hours=3, minutes=1))
    send(app)
    send(app)  # the timer fires, then its notices go out: once

    later = box.received[1:]  # handed to walt, then his reminder
    assert [(m.rcpt_tos, m.message["Subject"]) for m in later] == [
        (["walt@stepwise.example"], "Do the work"),
        (["walt@stepwise.example"], "Reminder: Do the work"),
    ]
    assert later[1].text.startswith("It waits: https://flow.example/tasks/")


def test_the_email_has_an_html_part_with_the_links_as_buttons(app, login, box):
    admin = login("admin")
    key = publish(admin, approval("refund-html", [{"user": "fiona"}], [{"body": LINKS_BODY}]))
    start(admin, key, {"order_id": "R-<8>"})
    send(app)

    (mail,) = box.received
    html_part = mail.message.get_body(("html",))
    assert html_part is not None
    page = html_part.get_content()
    approve = links(mail.text)["approve"]
    assert f'<a href="https://flow.example{approve}"' in page
    assert ">Approve</a>" in page
    assert "R-&lt;8&gt;" in page  # what the data says is text, never markup
    assert "Stepwise</td>" in page  # the default brand


def test_a_delegated_task_tells_the_person_it_was_handed_to(app, login, box):
    admin, sam = login("admin"), login("sam")
    key = publish(admin, pool_task("delegate-mail", {"user": "sam"}, [{"body": "{{ task.name }}"}]))
    instance_id = start(admin, key)
    send(app)
    (task,) = admin.get(f"/api/instances/{instance_id}").json()["open_tasks"]
    handed = sam.post(f"/api/tasks/{task['id']}/delegate", json={"to": "shay"})
    assert handed.status_code == 200, handed.text
    send(app)

    assert [m.rcpt_tos for m in box.received] == [
        ["sam@stepwise.example"],
        ["shay@stepwise.example"],
    ]


def late_task(key: str, escalate: dict[str, Any], notify: list[dict[str, Any]]) -> dict:
    """sam's task, due in 4 hours, with one escalation at the due time."""
    draft = pool_task(key, {"user": "sam"}, notify)
    draft["nodes"][1]["sla"] = {"due": "PT4H", "escalate": [{"after": "PT4H", **escalate}]}
    return draft


def test_an_escalation_emails_each_person_of_the_role_it_goes_to_with_a_link(app, login, box):
    admin = login("admin")
    escalate = {"to": {"role": "warehouse_manager"}, "action": "notify"}
    key = publish(admin, late_task("late-mail", escalate, []))
    instance_id = start(admin, key)
    app.state.clock.advance(by=timedelta(hours=4, minutes=1))
    send(app)
    send(app)  # the timer fires, then the emails go out

    (mail,) = box.received  # mia is the warehouse manager of the demo data
    assert mail.rcpt_tos == ["mia@stepwise.example"]
    assert mail.message["Subject"] == "Escalation 1: Do the work is late"
    instance = admin.get(f"/api/instances/{instance_id}").json()
    (task,) = instance["open_tasks"]
    assert f"Do the work (late-mail {instance['business_key']}) was due " in mail.text
    assert mail.text.rstrip().endswith(f"Open the task: https://flow.example/tasks/{task['id']}")
    mia = login("mia").get("/api/notifications").json()
    assert any(n["title"] == "Escalation 1: Do the work is late" for n in mia["items"])


def test_an_escalation_that_reassigns_sends_the_new_holder_the_tasks_notices(app, login, box):
    admin = login("admin")
    escalate = {"to": {"user": "walt"}, "action": "reassign"}
    notice = {"subject": "Yours: {{ task.name }}", "body": "Open {{ task.url }}"}
    key = publish(admin, late_task("late-reassign", escalate, [notice]))
    start(admin, key)
    send(app)
    app.state.clock.advance(by=timedelta(hours=4, minutes=1))
    send(app)
    send(app)

    sent = sorted((m.rcpt_tos[0], m.message["Subject"]) for m in box.received)
    assert sent == [
        ("sam@stepwise.example", "Yours: Do the work"),
        ("walt@stepwise.example", "Escalation 1: Do the work now yours"),
        ("walt@stepwise.example", "Yours: Do the work"),
    ]


def test_the_person_covering_for_someone_away_is_emailed_the_task(app, login, box):
    admin = login("admin")
    key = publish(admin, pool_task("cover-mail", {"user": "sam"}, []))
    instance_id = start(admin, key)
    now = app.state.clock.now()
    window = {
        "user": "sam",
        "delegate": "shay",
        "starts_at": (now + timedelta(minutes=10)).isoformat(),
        "ends_at": (now + timedelta(days=2)).isoformat(),
        "note": "Back on Monday",
    }
    assert admin.post("/api/out-of-office", json=window).status_code == 201
    app.state.clock.advance(by=timedelta(minutes=11))
    send(app)  # the absence begins: sam's task goes to shay
    send(app)

    (mail,) = box.received
    assert mail.rcpt_tos == ["shay@stepwise.example"]
    assert mail.message["Subject"] == "Do the work (for sam, who is away)"
    (task,) = admin.get(f"/api/instances/{instance_id}").json()["open_tasks"]
    assert task["assignee"] == "shay"
    assert f"Open the task: https://flow.example/tasks/{task['id']}" in mail.text


def test_with_task_emails_off_the_escalation_is_told_in_the_app_only(app, login, box):
    app.state.worker.settings.extra["task_emails"] = "off"
    admin = login("admin")
    escalate = {"to": {"user": "walt"}, "action": "notify"}
    key = publish(admin, late_task("late-quiet", escalate, []))
    instance_id = start(admin, key)
    app.state.clock.advance(by=timedelta(hours=4, minutes=1))
    send(app)
    send(app)

    assert box.received == []
    emails = [r for r in rows(app, instance_id) if r.payload["channel"] == "email"]
    assert [(r.status, r.last_error) for r in emails] == [
        ("skipped", "task emails are off (task_emails)")
    ]
    walt = login("walt").get("/api/notifications").json()
    assert any(n["title"] == "Escalation 1: Do the work is late" for n in walt["items"])


def test_a_delegate_is_told_in_the_app_and_by_email_with_the_note(app, login, box):
    admin, sam = login("admin"), login("sam")
    key = publish(admin, pool_task("delegate-told", {"user": "sam"}, []))
    instance_id = start(admin, key)
    (task,) = admin.get(f"/api/instances/{instance_id}").json()["open_tasks"]
    handed = sam.post(
        f"/api/tasks/{task['id']}/delegate", json={"to": "shay", "note": "Customer called twice"}
    )
    assert handed.status_code == 200, handed.text
    send(app)

    (mail,) = box.received
    assert mail.rcpt_tos == ["shay@stepwise.example"]
    assert mail.message["Subject"] == "sam handed you Do the work"
    assert mail.text.startswith(
        "Customer called twice\n\nOpen the task: https://flow.example/tasks/"
    )
    shay = login("shay").get("/api/notifications").json()
    assert [n["title"] for n in shay["items"]] == ["sam handed you Do the work"]


def test_an_admins_reassignment_emails_the_person_but_a_pool_hears_in_the_app(app, login, box):
    admin = login("admin")
    key = publish(admin, pool_task("reassign-told", {"user": "sam"}, []))
    instance_id = start(admin, key)
    (task,) = admin.get(f"/api/instances/{instance_id}").json()["open_tasks"]
    assert admin.post(f"/api/tasks/{task['id']}/reassign", json={"user": "walt"}).status_code == 200
    assert (
        admin.post(f"/api/tasks/{task['id']}/reassign", json={"role": "shipping"}).status_code
        == 200
    )
    send(app)

    assert [(m.rcpt_tos, m.message["Subject"]) for m in box.received] == [
        (["walt@stepwise.example"], "Do the work is now yours")
    ]
    shay = login("shay").get("/api/notifications").json()  # shay is in shipping
    assert [n["title"] for n in shay["items"]] == ["New in your pool: Do the work"]
