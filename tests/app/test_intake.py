"""Webhook starts in group commits (app/services/intake.py): deliveries waiting together
start in one transaction, and each is answered as it would have been alone — retries,
refusals, dead letters, and a batch whose commit another process beat."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, func, select

from app.db.models import AuditEvent, Instance, WebhookDelivery
from app.errors import ApiError
from app.services import deadletters, intake
from app.services.intake import DEAD_LETTER_HEADER, Answer, Delivery, Intake
from app.services.signatures import sign
from tests.app.builders import deliver, secret_for

KEY = "order-management"


def order(n: int, **changes: Any) -> dict[str, Any]:
    return {
        "order_id": f"B-{n}",
        "customer": {"name": "Ada", "email": "ada@example.com"},
        "items": [{"sku": "MUG-01", "quantity": 1}],
        "total": 20,
        "payment": {"method": "card"},
        **changes,
    }


def signed(secret: str, payload: Any, *, idem: str | None = None) -> Delivery:
    body = json.dumps(payload).encode()
    now = datetime.now(UTC)
    headers = {k.lower(): v for k, v in sign("generic", secret, body, now=now).items()}
    headers["content-type"] = "application/json"
    if idem is not None:
        headers["idempotency-key"] = idem
    return Delivery(key=KEY, body=body, headers=headers, query={}, now=now)


def answers(batch: list[Delivery]) -> list[Answer | BaseException]:
    return [d.future.exception() or d.future.result() for d in batch]


def accepted(outcome: Answer | BaseException, *, status: int = 202) -> Answer:
    assert isinstance(outcome, Answer), outcome
    assert outcome.status == status, outcome
    return outcome


def refused(outcome: Answer | BaseException) -> ApiError:
    assert isinstance(outcome, ApiError), outcome
    return outcome


@pytest.fixture
def secret(login: Any) -> str:
    return secret_for(login("admin"), KEY)


@pytest.fixture
def statements(app: Any) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()[:3]))

    event.listen(app.state.engine, "before_cursor_execute", record)
    yield seen
    event.remove(app.state.engine, "before_cursor_execute", record)


def started(app: Any) -> int:
    with app.state.sessionmaker() as session:
        return int(session.scalar(select(func.count()).select_from(Instance)) or 0)


def test_deliveries_waiting_together_start_in_one_transaction(
    app: Any, secret: str, statements: list[str]
) -> None:
    batch = [signed(secret, order(n), idem=f"k-{n}") for n in range(5)]
    app.state.intake.handle(batch)
    got = answers(batch)
    ids = {accepted(a).body["instance_id"] for a in got}
    assert len(ids) == 5
    assert statements.count("INSERT INTO instances") == 1
    assert statements.count("INSERT INTO webhook_deliveries") == 1
    assert app.state.intake.batches == 1
    with app.state.sessionmaker() as session:
        rows = session.scalars(select(Instance).where(Instance.id.in_(ids))).all()
        assert {r.stage for r in rows} == {"Received"}
        assert {r.business_key for r in rows} == {f"B-{n}" for n in range(5)}


def test_a_retry_in_the_same_batch_gets_the_first_ones_instance(app: Any, secret: str) -> None:
    first, again = signed(secret, order(1), idem="same"), signed(secret, order(1), idem="same")
    changed = signed(secret, order(2), idem="same")
    app.state.intake.handle([first, again, changed])
    one, two, three = answers([first, again, changed])
    assert accepted(one).body["duplicate"] is False
    assert accepted(two).body == {**accepted(one).body, "duplicate": True}
    assert refused(three).code == "idempotency_conflict"
    assert started(app) == 1


def test_a_bad_signature_in_a_batch_is_refused_and_the_others_start(app: Any, secret: str) -> None:
    forged = signed("whsec_" + "x" * 43, order(9), idem="forged")
    batch = [signed(secret, order(1), idem="a"), forged, signed(secret, order(2), idem="b")]
    app.state.intake.handle(batch)
    good, bad, other = answers(batch)
    assert (refused(bad).status, refused(bad).code) == (401, "bad_signature")
    accepted(good)
    accepted(other)
    assert started(app) == 2


def test_a_delivery_that_cannot_start_is_kept_as_a_dead_letter_and_the_others_start(
    app: Any, secret: str
) -> None:
    lacking = signed(secret, {"order_id": "B-7"}, idem="lacking")  # the mapping reads more
    batch = [signed(secret, order(1), idem="a"), lacking, signed(secret, order(2), idem="b")]
    app.state.intake.handle(batch)
    good, kept, other = answers(batch)
    assert (accepted(kept, status=422).headers or {}).get(DEAD_LETTER_HEADER)
    accepted(good)
    accepted(other)
    assert started(app) == 2


def test_a_batch_whose_commit_is_refused_is_received_alone(
    app: Any, login: Any, anonymous: Any, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    earlier = deliver(anonymous, KEY, "generic", secret, order(1), **{"Idempotency-Key": "dup"})
    assert earlier.status_code == 202, earlier.text
    # As if another process recorded "dup" between this batch's look-up and its commit:
    monkeypatch.setattr(intake, "_seen", lambda *_args: ({}, set()))
    batch = [signed(secret, order(1), idem="dup"), signed(secret, order(2), idem="new")]
    app.state.intake.handle(batch)
    retried, new = answers(batch)
    assert accepted(retried).body == {
        "instance_id": earlier.json()["instance_id"],
        "duplicate": True,
    }
    assert accepted(new).body["duplicate"] is False
    assert app.state.intake.batches == 0
    assert started(app) == 2


def test_a_failed_start_that_left_rows_behind_sends_the_whole_batch_alone(
    app: Any, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = deadletters.start_from_delivery

    def start(session: Any, **kw: Any) -> Any:
        if kw["payload"]["order_id"] == "B-bad":
            session.add(AuditEvent(at=kw["now"], actor="test", action="stray", details={}))
            raise ApiError(409, "not_now", "refused after writing")
        return real(session, **kw)

    monkeypatch.setattr(deadletters, "start_from_delivery", start)
    batch = [signed(secret, order(1), idem="a"), signed(secret, order("bad"), idem="bad")]
    app.state.intake.handle(batch)
    good, bad = answers(batch)
    accepted(good)
    accepted(bad, status=409)  # kept as a dead letter, alone
    with app.state.sessionmaker() as session:
        stray = session.scalar(select(func.count()).where(AuditEvent.action == "stray"))
        assert stray == 0
    assert started(app) == 1


def test_the_intake_thread_answers_every_sender(app: Any, secret: str) -> None:
    own = Intake(app.state.sessionmaker, app.state.definitions, app.state.clock)
    batch = [signed(secret, order(n % 6), idem=f"t-{n % 6}") for n in range(8)]  # two twice

    async def send_all() -> list[Answer]:
        return list(await asyncio.gather(*(own.receive(d) for d in batch)))

    try:
        got = asyncio.run(send_all())
    finally:
        own.close()
    by_key: dict[str, set[str]] = {}
    for d, a in zip(batch, got, strict=True):
        assert a.status == 202
        by_key.setdefault(d.headers["idempotency-key"], set()).add(a.body["instance_id"])
    assert all(len(ids) == 1 for ids in by_key.values())
    assert started(app) == 6
    with app.state.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 6


def test_a_sender_gone_away_still_has_its_instance_started(app: Any, secret: str) -> None:
    own = Intake(app.state.sessionmaker, app.state.definitions, app.state.clock)
    gone, next_one = signed(secret, order(1), idem="gone"), signed(secret, order(2), idem="next")

    async def send() -> Answer:
        waiting = asyncio.ensure_future(own.receive(gone))
        await asyncio.sleep(0)  # it is handed over, then its sender disconnects
        waiting.cancel()
        return await own.receive(next_one)

    try:
        accepted(asyncio.run(send()))
    finally:
        own.close()
    assert accepted(gone.future.result()).body["duplicate"] is False
    assert started(app) == 2


def test_a_batch_that_fails_unexpectedly_is_answered_and_the_intake_goes_on(
    app: Any, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    own = Intake(app.state.sessionmaker, app.state.definitions, app.state.clock)
    real, calls = Intake.handle, []

    def handle(self: Intake, batch: list[Delivery]) -> None:
        calls.append(len(batch))
        if len(calls) == 1:
            raise RuntimeError("a bug")
        real(self, batch)

    monkeypatch.setattr(Intake, "handle", handle)

    async def send() -> Answer:
        with pytest.raises(RuntimeError, match="intake failed"):
            await own.receive(signed(secret, order(1), idem="first"))
        return await own.receive(signed(secret, order(2), idem="second"))

    try:
        accepted(asyncio.run(send()))
    finally:
        own.close()
    assert calls == [1, 1]
