"""History that does not grow without bound: finished instances older than a workflow's
retention are archived (written to a JSON Lines file, then removed) or purged, in batches, with their
documents' files once no other document has the same content.

Each batch is its own short transaction that touches only finished instances, so live work is
never locked out for longer than one batch takes. An ``instance.purged`` audit event per batch
records what went (the instances' own audit events go with them)."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, inspect, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import AuditEvent, Comment, Document, Instance, Task, Workflow
from app.services.documents import DocumentStore, release
from app.services.records import audit

log = logging.getLogger(__name__)

ACTIONS = ("archive", "purge")
BATCH = 500


@dataclass
class Swept:
    """What one sweep removed, per workflow."""

    removed: dict[str, int] = field(default_factory=dict)
    archived_to: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.removed.values())


def sweep(
    sessions: sessionmaker[Session],
    *,
    now: datetime,
    archive_dir: Path,
    batch: int = BATCH,
    max_batches: int | None = None,
    after_batch: Callable[[int], None] | None = None,
    documents: DocumentStore | None = None,
) -> Swept:
    """Apply every workflow's retention; at most ``max_batches`` batches in all (None: all).
    ``after_batch(n)`` runs after the n-th batch is committed (progress; tests).

    ``documents``: the store of the instances' documents. Their files go with the last
    document that has their content (archiving copies them into the archive first)."""
    swept = Swept()
    with sessions() as session:
        rules = [
            (w.key, w.retention_days or 0, w.retention_action)
            for w in session.scalars(select(Workflow).where(Workflow.retention_days.is_not(None)))
        ]
    batches = 0
    for key, days, action in rules:
        cutoff = now - timedelta(days=days)
        while max_batches is None or batches < max_batches:
            with sessions() as session:
                ids = list(
                    session.scalars(
                        select(Instance.id)
                        .where(
                            Instance.workflow_key == key,
                            Instance.status != "running",
                            Instance.finished_at.is_not(None),
                            Instance.finished_at < cutoff,
                        )
                        .order_by(Instance.finished_at)
                        .limit(batch)
                    )
                )
                if not ids:
                    break
                digests = set(
                    session.scalars(
                        select(Document.sha256).where(Document.instance_id.in_(ids)).distinct()
                    )
                )
                if action == "archive":
                    path = _archive(session, ids, archive_dir / key, now=now, store=documents)
                    if str(path) not in swept.archived_to:
                        swept.archived_to.append(str(path))
                _remove(session, ids)
                audit(
                    session,
                    "instance.purged",
                    actor="retention",
                    now=now,
                    workflow=key,
                    count=len(ids),
                    mode=action,
                    older_than=cutoff.isoformat(),
                )
                session.commit()
            if documents is not None and digests:
                with sessions() as session:
                    release(session, documents, digests)
            batches += 1
            swept.removed[key] = swept.removed.get(key, 0) + len(ids)
            if after_batch is not None:
                after_batch(batches)
    if swept.total:
        log.info("retention removed %d finished instances", swept.total)
    return swept


def _remove(session: Session, ids: list[str]) -> None:
    # Children keep running on their own: they lose the link to a parent that is gone.
    session.execute(update(Instance).where(Instance.parent_id.in_(ids)).values(parent_id=None))
    session.execute(delete(AuditEvent).where(AuditEvent.instance_id.in_(ids)))
    # tasks, timers, outbox rows, documents, comments... go by ON DELETE CASCADE
    session.execute(delete(Instance).where(Instance.id.in_(ids)))


def _archive(
    session: Session,
    ids: list[str],
    folder: Path,
    *,
    now: datetime,
    store: DocumentStore | None = None,
) -> Path:
    """Append the instances, with their tasks, comments, documents and audit events, to a JSON
    Lines file (one line per instance) named by the day of the sweep; the documents' contents
    are copied to ``documents/<sha256>`` beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{now:%Y-%m-%d}.jsonl"
    documents: dict[str, list[dict[str, Any]]] = {}
    for document in session.scalars(select(Document).where(Document.instance_id.in_(ids))):
        documents.setdefault(document.instance_id, []).append(_row(document))
        if store is not None:
            _copy(store.path_for(document.sha256), folder / "documents" / document.sha256)
    tasks: dict[str, list[dict[str, Any]]] = {}
    for task in session.scalars(select(Task).where(Task.instance_id.in_(ids))):
        tasks.setdefault(task.instance_id, []).append(_row(task))
    comments: dict[str, list[dict[str, Any]]] = {}
    for comment in session.scalars(select(Comment).where(Comment.instance_id.in_(ids))):
        comments.setdefault(comment.instance_id, []).append(_row(comment))
    events: dict[str, list[dict[str, Any]]] = {}
    for event in session.scalars(select(AuditEvent).where(AuditEvent.instance_id.in_(ids))):
        events.setdefault(event.instance_id or "", []).append(_row(event))
    with path.open("a", encoding="utf-8") as out:
        for instance in session.scalars(select(Instance).where(Instance.id.in_(ids))):
            record = {
                "instance": _row(instance),
                "tasks": tasks.get(instance.id, []),
                "comments": comments.get(instance.id, []),
                "documents": documents.get(instance.id, []),
                "audit": events.get(instance.id, []),
            }
            out.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")
        out.flush()
    return path


def _copy(source: Path, target: Path) -> None:
    """A document's content into the archive (once per content); a missing file is logged."""
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        shutil.copyfile(source, target)
    except OSError:
        log.exception("could not archive the document content %s", source)


def _row(obj: Any) -> dict[str, Any]:
    return {a.key: getattr(obj, a.key) for a in inspect(obj).mapper.column_attrs}
