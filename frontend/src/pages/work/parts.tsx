// Small pieces the work pages share: SLA badge, status badge, data view, comments, dialogs.
import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from "react";

import { api, errorText } from "../../api";
import { countdown, ErrorNote, formatTime } from "../../components/ui";
import type { CommentOut, SlaState, TaskOut } from "./types";

/** The SLA state of a task, judged at `now` when the service did not say. */
export function slaOf(task: { due_at: string | null; overdue: boolean; at_risk?: boolean; sla_state?: SlaState | null }, now: number): SlaState | null {
  if (task.sla_state !== undefined) {
    // the service judged it at its own time; a countdown that ran out since is overdue
    if (task.due_at && new Date(task.due_at).getTime() <= now) return "overdue";
    return task.sla_state;
  }
  if (!task.due_at) return null;
  if (task.overdue || new Date(task.due_at).getTime() <= now) return "overdue";
  return task.at_risk ? "at_risk" : "ok";
}

const SLA_LABEL: Record<SlaState, string> = { overdue: "Overdue", at_risk: "At risk", ok: "On track" };
const SLA_CLASS: Record<SlaState, string> = { overdue: "bad", at_risk: "warn", ok: "ok" };

export function SlaBadge({ state, due, now }: { state: SlaState | null; due: string | null; now: number }) {
  if (!state || !due) return <span className="hint">No due time</span>;
  return (
    <span className={`sla sla-${state}`} title={`Due ${formatTime(due)}`}>
      <span className={`badge ${SLA_CLASS[state]}`}>{SLA_LABEL[state]}</span>{" "}
      <span className="sla-countdown">{countdown(due, now)}</span>
    </span>
  );
}

export function StatusBadge({ status, suspended }: { status: string; suspended?: boolean }) {
  if (suspended && status === "running") return <span className="badge warn">Suspended</span>;
  const cls = status === "completed" ? "ok" : status === "running" || status === "open" ? "brand" : status === "failed" ? "bad" : "";
  const label = status.charAt(0).toUpperCase() + status.slice(1).replace(/_/g, " ");
  return <span className={`badge ${cls}`}>{label}</span>;
}

/** Who holds a task, or whom it is offered to. */
export function holder(task: Pick<TaskOut, "assignee" | "candidate_roles" | "candidate_users" | "delegated_from">, me?: string): string {
  if (task.assignee) {
    const who = task.assignee === me ? "You" : task.assignee;
    return task.delegated_from ? `${who} (for ${task.delegated_from})` : who;
  }
  const pool = [...task.candidate_roles.map((r) => `${r} team`), ...task.candidate_users];
  return pool.length ? `Open to ${pool.join(", ")}` : "Nobody yet";
}

/** "picked_at" → "Picked at". */
export function labelOf(key: string): string {
  const text = key.replace(/[_-]+/g, " ").trim();
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : key;
}

function scalarText(value: unknown): string {
  if (value === null || value === undefined) return "—";
  if (typeof value === "boolean") return value ? "Yes" : "No";
  return String(value);
}

/** Key/value view of instance data; nested objects and lists fold away. */
export function DataView({ data, depth = 0 }: { data: Record<string, unknown>; depth?: number }) {
  const entries = Object.entries(data);
  if (!entries.length) return <p className="hint">No data.</p>;
  return (
    <dl className="kv">
      {entries.map(([key, value]) => (
        <div key={key} className="kv-row">
          <dt>{labelOf(key)}</dt>
          <dd>
            <Value value={value} depth={depth} name={key} />
          </dd>
        </div>
      ))}
    </dl>
  );
}

function Value({ value, depth, name }: { value: unknown; depth: number; name: string }) {
  if (value === null || typeof value !== "object") return <span className="kv-value">{scalarText(value)}</span>;
  const isList = Array.isArray(value);
  const size = isList ? value.length : Object.keys(value).length;
  const summary = isList ? `${size} item${size === 1 ? "" : "s"}` : `${size} field${size === 1 ? "" : "s"}`;
  if (size === 0) return <span className="hint">{isList ? "none" : "empty"}</span>;
  const asObject: Record<string, unknown> = isList ? Object.fromEntries(value.map((v, i) => [`#${i + 1}`, v])) : (value as Record<string, unknown>);
  return (
    <details className="kv-nested" open={depth < 1 && size <= 4}>
      <summary aria-label={`${labelOf(name)}: ${summary}`}>{summary}</summary>
      <DataView data={asObject} depth={depth + 1} />
    </details>
  );
}

/** Comments on a task or an instance: the list, and a box to add one. */
export function Comments({ path, canAdd = true }: { path: string; canAdd?: boolean }) {
  const [items, setItems] = useState<CommentOut[] | null>(null);
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const fieldId = useId();

  useEffect(() => {
    let live = true;
    api
      .get<CommentOut[]>(path)
      .then((found) => live && setItems(found))
      .catch((e: unknown) => live && setError(errorText(e)));
    return () => {
      live = false;
    };
  }, [path]);

  async function add(event: FormEvent) {
    event.preventDefault();
    const body = text.trim();
    if (!body) return;
    setBusy(true);
    setError(null);
    try {
      const made = await api.post<CommentOut>(path, { body });
      setItems((old) => [...(old ?? []), made]);
      setText("");
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="comments" aria-label="Comments">
      <ErrorNote error={error} />
      {items && items.length === 0 && <p className="hint">No comments yet.</p>}
      <ol className="comment-list">
        {(items ?? []).map((c) => (
          <li key={c.id} className="comment">
            <div className="comment-head">
              <strong>{c.author}</strong> <span className="hint">{formatTime(c.created_at)}</span>
              {c.task_name && !path.startsWith("/api/tasks/") && <span className="hint"> · on {c.task_name}</span>}
            </div>
            <p className="comment-body">{c.body}</p>
          </li>
        ))}
      </ol>
      {canAdd && (
        <form onSubmit={add} className="comment-form">
          <label htmlFor={fieldId} className="visually-hidden">
            Add a comment
          </label>
          <textarea id={fieldId} rows={2} placeholder="Add a comment…" value={text} onChange={(e) => setText(e.target.value)} maxLength={10_000} />
          <button type="submit" disabled={busy || !text.trim()}>
            Add comment
          </button>
        </form>
      )}
    </section>
  );
}

/** A modal dialog (native <dialog>: focus is trapped, Escape closes it). */
export function Dialog({ title, open, onClose, children }: { title: string; open: boolean; onClose: () => void; children: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  return (
    <dialog ref={ref} className="work-dialog" aria-labelledby={titleId} onClose={onClose} onCancel={onClose}>
      {open && (
        <>
          <h2 id={titleId}>{title}</h2>
          {children}
        </>
      )}
    </dialog>
  );
}

/** Ask before doing something that cannot be undone; an optional reason goes with it. */
export function ConfirmDialog({
  title,
  message,
  confirmLabel,
  open,
  danger,
  withReason,
  reasonRequired,
  onConfirm,
  onClose,
  children,
}: {
  title: string;
  message: ReactNode;
  confirmLabel: string;
  open: boolean;
  danger?: boolean;
  withReason?: boolean;
  /** The confirm button waits for a reason. */
  reasonRequired?: boolean;
  /** Throws to stay open with the error (a refusal, or what was filled in does not do). */
  onConfirm: (reason: string) => Promise<void>;
  onClose: () => void;
  /** Fields of the action itself, between the message and the reason. */
  children?: ReactNode;
}) {
  const [reason, setReason] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (open) {
      setReason("");
      setError(null);
    }
  }, [open]);
  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onConfirm(reason.trim());
      onClose();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  }
  return (
    <Dialog title={title} open={open} onClose={onClose}>
      <form onSubmit={submit} className="dialog-form">
        <p>{message}</p>
        {children}
        {withReason && (
          <label>
            Reason (kept in the audit log)
            <textarea rows={2} value={reason} onChange={(e) => setReason(e.target.value)} maxLength={2000} required={reasonRequired} />
          </label>
        )}
        <ErrorNote error={error} />
        <div className="dialog-actions">
          <button type="button" onClick={onClose}>
            Keep it
          </button>
          <button type="submit" className={danger ? "primary danger-fill" : "primary"} disabled={busy || (reasonRequired && !reason.trim())}>
            {confirmLabel}
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export function Pager({ offset, limit, total, onPage }: { offset: number; limit: number; total: number; onPage: (offset: number) => void }) {
  if (total <= limit && offset === 0) return null;
  const last = Math.min(offset + limit, total);
  return (
    <nav className="pager" aria-label="Pages">
      <button type="button" onClick={() => onPage(Math.max(0, offset - limit))} disabled={offset === 0}>
        ← Previous
      </button>
      <span className="hint">
        {total === 0 ? 0 : offset + 1}–{last} of {total}
      </span>
      <button type="button" onClick={() => onPage(offset + limit)} disabled={last >= total}>
        Next →
      </button>
    </nav>
  );
}
