"""Dead letters (app/services/deadletters.py, app/routes/deadletters.py): signed webhook
deliveries that could not start an instance are kept with their error and replayed after the
fix, once; what is refused before acceptance is not kept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.services.signatures import sign
from tests.app.builders import deliver, secret_for, signup_flow

DEAD_LETTER = "X-Stepwise-Dead-Letter"


STRICT = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "amount": {"type": "number"}},
    "required": ["name", "amount"],
}
"""The amount must be a number; senders that send it as text are refused at first."""


def create(admin, flow: dict, *, publish: bool = True) -> None:
    made = admin.post("/api/workflows", json={"key": flow["key"], "draft": flow})
    assert made.status_code == 201, made.text
    if publish:
        assert admin.post(f"/api/workflows/{flow['key']}/publish").status_code == 201


def republish(admin, flow: dict) -> None:
    saved = admin.put(f"/api/workflows/{flow['key']}/draft", json={"draft": flow})
    assert saved.status_code == 200, saved.text
    assert admin.post(f"/api/workflows/{flow['key']}/publish").status_code == 201


def letters(admin, **params: str) -> list[dict[str, Any]]:
    page = admin.get("/api/admin/dead-letters", params=params)
    assert page.status_code == 200, page.text
    items: list[dict[str, Any]] = page.json()["items"]
    return items


def instances(admin, key: str) -> int:
    total: int = admin.get("/api/instances", params={"workflow": key}).json()["total"]
    return total


PAYLOAD = {"customer": {"name": "Ada"}, "amount": 12}


def test_a_delivery_before_the_first_publish_is_kept_and_replayed_after_publishing(
    login, anonymous
):
    admin = login("admin")
    create(admin, signup_flow("signup"), publish=False)
    secret = secret_for(admin, "signup")  # the sender is set up before the first publish

    r = deliver(anonymous, "signup", "generic", secret, PAYLOAD, **{"Idempotency-Key": "evt-1"})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "not_published"
    letter_id = r.headers[DEAD_LETTER]
    (kept,) = letters(admin)
    assert kept["id"] == letter_id
    assert kept["workflow"] == "signup"
    assert kept["status"] == "failed"
    assert kept["error"]["code"] == "not_published"
    detail = admin.get(f"/api/admin/dead-letters/{letter_id}").json()
    assert detail["payload"] == PAYLOAD
    assert detail["headers"]["idempotency-key"] == "evt-1"

    early = admin.post(f"/api/admin/dead-letters/{letter_id}/replay")
    assert early.status_code == 409
    assert early.json()["error"]["code"] == "replay_failed"
    assert early.json()["error"]["details"]["code"] == "not_published"

    assert admin.post("/api/workflows/signup/publish").status_code == 201
    replayed = admin.post(f"/api/admin/dead-letters/{letter_id}/replay")
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["status"] == "replayed"
    assert replayed.json()["replayed_by"] == "admin"
    instance_id = replayed.json()["instance_id"]
    started = admin.get(f"/api/instances/{instance_id}").json()
    assert started["data"]["name"] == "Ada"
    assert started["started_by"] == "webhook:signup"

    again = admin.post(f"/api/admin/dead-letters/{letter_id}/replay")
    assert again.status_code == 200
    assert again.json()["instance_id"] == instance_id
    assert instances(admin, "signup") == 1
    # the sender's own retry now finds the instance the replay started
    retry = deliver(anonymous, "signup", "generic", secret, PAYLOAD, **{"Idempotency-Key": "evt-1"})
    assert retry.status_code == 202
    assert retry.json() == {"instance_id": instance_id, "duplicate": True}
    assert instances(admin, "signup") == 1
    assert letters(admin, status="failed") == []
    audit = admin.get("/api/admin/audit", params={"action": "webhook"}).json()["items"]
    assert {"webhook.dead_letter", "webhook.replay_failed", "webhook.replayed"} <= {
        e["action"] for e in audit
    }


def test_data_the_schema_refuses_after_acceptance_is_kept_and_replayed_after_the_fix(
    login, anonymous
):
    admin = login("admin")
    create(admin, signup_flow("strict-signup", schema=STRICT))
    secret = secret_for(admin, "strict-signup")
    r = deliver(anonymous, "strict-signup", "generic", secret, {**PAYLOAD, "amount": "12.50"})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_data"
    letter_id = r.headers[DEAD_LETTER]
    assert admin.get(f"/api/admin/dead-letters/{letter_id}").json()["error"]["code"] == (
        "invalid_data"
    )
    assert instances(admin, "strict-signup") == 0

    # the fix: the mapping turns the sender's text into a number
    fixed = signup_flow(
        "strict-signup",
        schema=STRICT,
        mapping={"name": "body.customer.name", "amount": "float(body.amount)"},
    )
    republish(admin, fixed)
    replayed = admin.post(f"/api/admin/dead-letters/{letter_id}/replay")
    assert replayed.status_code == 200, replayed.text
    data = admin.get(f"/api/instances/{replayed.json()['instance_id']}").json()["data"]
    assert data["amount"] == 12.5
    assert instances(admin, "strict-signup") == 1


def test_a_mapping_that_fails_is_kept_with_its_error(login, anonymous):
    admin = login("admin")
    create(admin, signup_flow("mapped-signup"))
    secret = secret_for(admin, "mapped-signup")
    r = deliver(anonymous, "mapped-signup", "generic", secret, {"amount": 3})  # no customer
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_payload"
    (kept,) = letters(admin, workflow="mapped-signup")
    assert kept["error"]["code"] == "invalid_payload"
    assert "name" in kept["error"]["message"]
    for odd in (None, [1, 2], "text"):  # JSON, but nothing the mapping can read
        r = deliver(anonymous, "mapped-signup", "generic", secret, odd)
        assert r.status_code == 422, r.text
        detail = admin.get(f"/api/admin/dead-letters/{r.headers[DEAD_LETTER]}").json()
        assert detail["payload"] == odd


def test_a_retried_failing_delivery_is_one_dead_letter_with_its_attempts(login, anonymous):
    admin = login("admin")
    create(admin, signup_flow("retry-signup", schema=STRICT))
    secret = secret_for(admin, "retry-signup")
    bad = {**PAYLOAD, "amount": "twelve"}
    answers = [
        deliver(anonymous, "retry-signup", "generic", secret, bad, **{"Idempotency-Key": "evt-r"})
        for _ in range(3)
    ]
    assert {a.status_code for a in answers} == {422}
    assert len({a.headers[DEAD_LETTER] for a in answers}) == 1
    (kept,) = letters(admin, workflow="retry-signup")
    assert kept["attempts"] == 3
    other = deliver(
        anonymous, "retry-signup", "generic", secret, PAYLOAD, **{"Idempotency-Key": "evt-r"}
    )
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_conflict"


def test_a_sender_retry_that_succeeds_after_the_fix_marks_the_dead_letter_replayed(
    login, anonymous
):
    admin = login("admin")
    create(admin, signup_flow("late-signup"), publish=False)
    secret = secret_for(admin, "late-signup")
    first = deliver(
        anonymous, "late-signup", "generic", secret, PAYLOAD, **{"Idempotency-Key": "evt-l"}
    )
    assert first.status_code == 409
    assert admin.post("/api/workflows/late-signup/publish").status_code == 201
    retry = deliver(
        anonymous, "late-signup", "generic", secret, PAYLOAD, **{"Idempotency-Key": "evt-l"}
    )
    assert retry.status_code == 202, retry.text
    letter = admin.get(f"/api/admin/dead-letters/{first.headers[DEAD_LETTER]}").json()
    assert letter["status"] == "replayed"
    assert letter["instance_id"] == retry.json()["instance_id"]
    replayed = admin.post(f"/api/admin/dead-letters/{letter['id']}/replay")
    assert replayed.json()["instance_id"] == retry.json()["instance_id"]
    assert instances(admin, "late-signup") == 1


def test_what_is_refused_before_acceptance_is_not_kept(login, anonymous):
    admin = login("admin")
    create(admin, signup_flow("guarded-signup"))
    secret = secret_for(admin, "guarded-signup")
    forged = deliver(anonymous, "guarded-signup", "generic", "whsec_forged", PAYLOAD)
    assert forged.status_code == 401
    assert DEAD_LETTER not in forged.headers
    body = b"{not json"
    not_json = anonymous.post(
        "/hooks/guarded-signup",
        content=body,
        headers={
            "content-type": "application/json",
            **sign("generic", secret, body, now=datetime.now(UTC)),
        },
    )
    assert not_json.status_code == 422
    assert deliver(anonymous, "nobody-made-this", "generic", secret, PAYLOAD).status_code == 404
    assert letters(admin) == []


def test_dead_letters_list_newest_first_with_filters_and_unknown_ids_are_404(login, anonymous):
    admin = login("admin")
    create(admin, signup_flow("listed-signup"), publish=False)
    secret = secret_for(admin, "listed-signup")
    ids = [
        deliver(anonymous, "listed-signup", "generic", secret, {**PAYLOAD, "amount": n}).headers[
            DEAD_LETTER
        ]
        for n in (1, 2)
    ]
    page = admin.get("/api/admin/dead-letters", params={"limit": 1}).json()
    assert page["total"] == 2
    assert len(page["items"]) == 1
    assert {x["id"] for x in letters(admin, workflow="listed-signup")} == set(ids)
    assert letters(admin, status="replayed") == []
    assert admin.get("/api/admin/dead-letters", params={"status": "lost"}).status_code == 422
    assert admin.get("/api/admin/dead-letters/nope").status_code == 404
    assert admin.post("/api/admin/dead-letters/nope/replay").status_code == 404


def test_a_discarded_dead_letter_leaves_the_list_to_replay_but_stays_on_record(login, anonymous):
    admin = login("admin")
    create(admin, signup_flow("signup-discard"), publish=False)
    secret = secret_for(admin, "signup-discard")
    sent = deliver(
        anonymous, "signup-discard", "generic", secret, PAYLOAD, **{"Idempotency-Key": "evt-d"}
    )
    letter_id = sent.headers[DEAD_LETTER]

    discarded = admin.post(f"/api/admin/dead-letters/{letter_id}/discard")
    assert discarded.status_code == 200, discarded.text
    assert discarded.json()["status"] == "discarded"
    assert letters(admin, status="failed") == []
    assert [x["id"] for x in letters(admin, status="discarded")] == [letter_id]
    actions = [e["action"] for e in admin.get("/api/admin/audit").json()["items"]]
    assert "webhook.dead_letter_discarded" in actions

    assert admin.post("/api/workflows/signup-discard/publish").status_code == 201
    replayed = admin.post(f"/api/admin/dead-letters/{letter_id}/replay")  # a change of mind
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["status"] == "replayed"
    refused = admin.post(f"/api/admin/dead-letters/{letter_id}/discard")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "already_replayed"
    assert admin.post("/api/admin/dead-letters/nope/discard").status_code == 404
