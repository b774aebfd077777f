// One task: what to do, the instance it belongs to, its form, comments and the actions I may take.
import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";

import { api, ApiError, errorText } from "../api";
import { useAuth } from "../auth";
import { ErrorNote, formatTime, PageHeader, Spinner } from "../components/ui";
import { useDocumentTitle } from "../components/useDocumentTitle";
import { useLoad } from "../components/useLoad";
import { useServiceNow } from "./work/hooks";
import { Comments, ConfirmDialog, DataView, Dialog, holder, SlaBadge, slaOf, StatusBadge } from "./work/parts";
import { SchemaForm } from "./work/SchemaForm";
import type { TaskCan, TaskDetail } from "./work/types";
import "./work/work.css";

const OUTCOME_LABELS: Record<string, string> = { approve: "Approve", reject: "Reject", approved: "Approve", rejected: "Reject" };

/** Outcomes that say no: asked about before they are sent, with a reason for the record. */
const SAYS_NO = /reject|decline|deny|refuse|cancel/i;

function outcomeLabel(outcome: string): string {
  return OUTCOME_LABELS[outcome] ?? outcome.charAt(0).toUpperCase() + outcome.slice(1).replace(/[_-]+/g, " ");
}

/** What I may do, from the service's `can` or, on an older service, from the task itself. */
function permissions(task: TaskDetail, username: string | undefined, roles: string[], admin: boolean): TaskCan {
  if (task.can) return task.can;
  const open = task.status === "open";
  const offered = task.candidate_users.includes(username ?? "") || task.candidate_roles.some((r) => roles.includes(r));
  const mine = task.assignee === username;
  const takes = open && (mine || (!task.assignee && offered));
  const pool = task.candidate_roles.length + task.candidate_users.length > 0;
  return {
    claim: takes && !task.assignee,
    unclaim: open && !!task.assignee && (mine || admin) && pool,
    complete: takes,
    delegate: open && mine,
    reassign: open && admin,
  };
}

interface Conflict {
  text: string;
}

/** The words for a completion someone else got to first. */
function conflictText(error: ApiError): string {
  if (error.code === "task_already_completed") {
    const details = (error.details ?? {}) as { completed_at?: string | null };
    const who = error.message.replace(/ completed this task.*$/, "");
    const when = details.completed_at ? new Date(details.completed_at).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" }) : null;
    return `${who} completed this task${when ? ` at ${when}` : ""} — nothing to do.`;
  }
  if (error.status === 404) return "This task is no longer open to you — someone else has probably completed or taken it. Nothing to do.";
  const message = error.message.charAt(0).toUpperCase() + error.message.slice(1);
  return `${message} — nothing to do.`;
}

export default function TaskPage() {
  const { id = "" } = useParams();
  const navigate = useNavigate();
  const { me, hasRole } = useAuth();
  const task = useLoad(() => api.get<TaskDetail>(`/api/tasks/${encodeURIComponent(id)}`), [id]);
  const [error, setError] = useState<string | null>(null);
  const [formErrors, setFormErrors] = useState<string[]>([]);
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const [busy, setBusy] = useState(false);
  const [dialog, setDialog] = useState<"delegate" | "reassign" | null>(null);
  const [confirming, setConfirming] = useState<{ data: Record<string, unknown>; outcome: string } | null>(null);
  const d = task.data;
  const serviceNow =
    d?.due_at && typeof d.seconds_left === "number" ? new Date(new Date(d.due_at).getTime() - d.seconds_left * 1000).toISOString() : undefined;
  const now = useServiceNow(serviceNow);
  useDocumentTitle(d?.name);

  if (task.loading && !task.data) return <Spinner />;
  if (!task.data)
    return (
      <div className="work-page">
        <PageHeader title="Task" />
        <ErrorNote error={task.error ?? "This task was not found."} />
        <p>
          Back to your <Link to="/inbox">inbox</Link>.
        </p>
      </div>
    );

  const t = task.data;
  const allowed = permissions(t, me?.username, me?.roles ?? [], hasRole("admin"));
  // once someone else got there first, nothing here applies any more
  const can: TaskCan = conflict ? { claim: false, unclaim: false, complete: false, delegate: false, reassign: false } : allowed;
  const open = t.status === "open";
  const sla = slaOf(t, now);
  const instance = t.instance;
  const keyData = instance?.key_fields ?? t.instance_data;

  async function act(work: () => Promise<void>, completing = false) {
    setBusy(true);
    setError(null);
    try {
      await work();
    } catch (e) {
      if (completing && e instanceof ApiError && (e.status === 409 || e.status === 404)) {
        setConflict({ text: conflictText(e) }); // the task may be gone for me now: no reload
      } else if (e instanceof ApiError && e.status === 409) {
        setError(e.message.charAt(0).toUpperCase() + e.message.slice(1) + "."); // e.g. someone claimed it first
        task.reload();
      } else setError(errorText(e));
    } finally {
      setBusy(false);
    }
  }

  const post = (action: string, body?: unknown) =>
    act(async () => {
      await api.post(`/api/tasks/${encodeURIComponent(t.id)}/${action}`, body);
      task.reload();
    });

  function complete(data: Record<string, unknown>, outcome: string | undefined) {
    if (t.outcomes.length > 0 && !outcome) {
      setError("Choose one of the buttons: " + t.outcomes.map(outcomeLabel).join(", ") + ".");
      return;
    }
    if (outcome && SAYS_NO.test(outcome)) {
      setConfirming({ data, outcome });
      return;
    }
    send(data, outcome);
  }

  function send(data: Record<string, unknown>, outcome: string | undefined) {
    setFormErrors([]);
    void act(async () => {
      try {
        await api.post(`/api/tasks/${encodeURIComponent(t.id)}/complete`, { data, outcome: outcome ?? null });
      } catch (e) {
        if (e instanceof ApiError && e.code === "invalid_form" && Array.isArray(e.details)) {
          setFormErrors(e.details.map(String));
          return;
        }
        throw e;
      }
      navigate("/inbox", { state: { done: `“${t.name}” is done.` } });
    }, true);
  }

  return (
    <div className="work-page task-page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link to="/inbox">Inbox</Link> <span aria-hidden="true">›</span> <span>{t.name}</span>
      </nav>
      <PageHeader title={t.name || t.node}>
        <StatusBadge status={conflict ? "closed" : t.status} />
        {open && !conflict && <SlaBadge state={sla} due={t.due_at} now={now} />}
      </PageHeader>

      {conflict && (
        <div className="conflict-note" role="alert" data-testid="conflict">
          <strong>{conflict.text}</strong>{" "}
          <Link to="/inbox">Back to your inbox</Link>
        </div>
      )}
      <ErrorNote error={error ?? task.error} />

      <div className="task-layout">
        <div className="task-main">
          {t.instructions && (
            <section className="card instructions" aria-labelledby="instructions-title">
              <h2 id="instructions-title">What to do</h2>
              <p className="prewrap">{t.instructions}</p>
            </section>
          )}

          <section className="card" aria-labelledby="form-title">
            <h2 id="form-title">{open ? (t.outcomes.length ? "Your decision" : "Complete the task") : "Result"}</h2>
            {open ? (
              <>
                {!can.complete && !conflict && (
                  <p className="hint">
                    {t.assignee && t.assignee !== me?.username ? `${t.assignee} has this task.` : "This task is not yours to complete."}
                  </p>
                )}
                <SchemaForm
                  schema={t.form}
                  ui={t.ui}
                  context={{ instanceId: t.instance_id, taskId: t.id }}
                  disabled={!can.complete || busy}
                  idPrefix={`task-${t.id}`}
                  onSubmit={complete}
                  serverErrors={formErrors}
                >
                  <div className="form-actions">
                    {t.outcomes.length > 0 ? (
                      t.outcomes.map((o, i) => (
                        <button key={o} type="submit" value={o} className={i === 0 ? "primary" : /reject|decline|deny/i.test(o) ? "danger" : ""} disabled={!can.complete || busy}>
                          {outcomeLabel(o)}
                        </button>
                      ))
                    ) : (
                      <button type="submit" className="primary" disabled={!can.complete || busy}>
                        Complete
                      </button>
                    )}
                  </div>
                </SchemaForm>
              </>
            ) : (
              <div>
                <p>
                  {t.status === "completed" ? "Completed" : t.status.charAt(0).toUpperCase() + t.status.slice(1)}
                  {t.completed_by ? ` by ${t.completed_by}` : ""}
                  {t.completed_at ? ` on ${formatTime(t.completed_at)}` : ""}
                  {t.outcome ? ` — ${outcomeLabel(t.outcome)}` : ""}.
                </p>
              </div>
            )}
          </section>

          <section className="card" aria-labelledby="comments-title">
            <h2 id="comments-title">Comments</h2>
            <Comments path={`/api/tasks/${encodeURIComponent(t.id)}/comments`} />
          </section>
        </div>

        <aside className="task-side">
          <section className="card" aria-labelledby="assignment-title">
            <h2 id="assignment-title">Assignment</h2>
            <dl className="kv compact">
              <div className="kv-row">
                <dt>Who</dt>
                <dd>{holder(t, me?.username)}</dd>
              </div>
              <div className="kv-row">
                <dt>Created</dt>
                <dd>{formatTime(t.created_at)}</dd>
              </div>
              <div className="kv-row">
                <dt>Due</dt>
                <dd>{t.due_at ? formatTime(t.due_at) : "—"}</dd>
              </div>
            </dl>
            <div className="side-actions">
              {can.claim && (
                <button type="button" className="primary" disabled={busy} onClick={() => void post("claim")}>
                  Claim
                </button>
              )}
              {can.unclaim && (
                <button type="button" disabled={busy} onClick={() => void post("unclaim")}>
                  Give back to the team
                </button>
              )}
              {can.delegate && (
                <button type="button" disabled={busy} onClick={() => setDialog("delegate")}>
                  Delegate…
                </button>
              )}
              {can.reassign && (
                <button type="button" disabled={busy} onClick={() => setDialog("reassign")}>
                  Reassign…
                </button>
              )}
            </div>
          </section>

          <section className="card" aria-labelledby="instance-title">
            <h2 id="instance-title">{instance?.workflow_name ?? t.workflow_key}</h2>
            <dl className="kv compact">
              {instance?.business_key && (
                <div className="kv-row">
                  <dt>Reference</dt>
                  <dd>{instance.business_key}</dd>
                </div>
              )}
              <div className="kv-row">
                <dt>Stage</dt>
                <dd>{instance?.stage ?? t.instance_stage ?? "—"}</dd>
              </div>
              {instance?.started_by && (
                <div className="kv-row">
                  <dt>Started</dt>
                  <dd>
                    {formatTime(instance.started_at)} by {instance.started_by}
                  </dd>
                </div>
              )}
            </dl>
            <h3>Key data</h3>
            <DataView data={keyData} />
            {Object.keys(t.instance_data ?? {}).length > Object.keys(keyData ?? {}).length && (
              <details className="all-data">
                <summary>All of the case's data</summary>
                <DataView data={t.instance_data} />
              </details>
            )}
            <p>
              <Link to={`/instances/${encodeURIComponent(t.instance_id)}`}>Open the whole case →</Link>
            </p>
          </section>
        </aside>
      </div>

      <ConfirmDialog
        title={confirming ? `${outcomeLabel(confirming.outcome)} “${t.name}”?` : ""}
        message="Your decision is final: the request goes on the way this answer leads. Say why, for whoever reads its history."
        confirmLabel={confirming ? outcomeLabel(confirming.outcome) : ""}
        open={confirming !== null}
        danger
        withReason
        onConfirm={async (reason) => {
          const chosen = confirming;
          if (!chosen) return;
          if (reason) await api.post(`/api/tasks/${encodeURIComponent(t.id)}/comments`, { body: `${outcomeLabel(chosen.outcome)}: ${reason}` });
          send(chosen.data, chosen.outcome);
        }}
        onClose={() => setConfirming(null)}
      />
      <HandOverDialog taskId={t.id} kind={dialog} onClose={() => setDialog(null)} onSubmit={async (body) => {
          // an error stays in the dialog, with what was typed, to be corrected
          await api.post(`/api/tasks/${encodeURIComponent(t.id)}/${dialog === "delegate" ? "delegate" : "reassign"}`, body);
          task.reload();
        }} />
    </div>
  );
}

interface Handover {
  people: { username: string; display_name: string; in_team: boolean; away: boolean }[];
  roles: string[];
}

function HandOverDialog({ taskId, kind, onClose, onSubmit }: { taskId: string; kind: "delegate" | "reassign" | null; onClose: () => void; onSubmit: (body: Record<string, string>) => Promise<void> }) {
  // who it may go to, offered as suggestions while typing; any name can still be typed
  const offer = useLoad(() => (kind === null ? Promise.resolve(undefined) : api.get<Handover>(`/api/tasks/${encodeURIComponent(taskId)}/handover`)), [kind, taskId]).data;
  const [to, setTo] = useState("");
  const [note, setNote] = useState("");
  const [target, setTarget] = useState<"user" | "role">("user");
  const forRole = kind === "reassign" && target === "role";
  const shown = (offer?.people ?? []).find((p) => p.username === to.trim());
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function submit(event: FormEvent) {
    event.preventDefault();
    const typed = to.trim();
    if (!typed) return;
    // a person may be named as the list shows them ("Walt Warehouse"), when only one has that name
    const byName = forRole || shown ? [] : (offer?.people ?? []).filter((p) => p.display_name.toLowerCase() === typed.toLowerCase());
    const name = byName.length === 1 && byName[0] ? byName[0].username : typed;
    setBusy(true);
    setError(null);
    try {
      if (kind === "delegate") await onSubmit(note.trim() ? { to: name, note: note.trim() } : { to: name });
      else await onSubmit(target === "user" ? { user: name } : { role: name });
    } catch (e) {
      setError(errorText(e));
      return;
    } finally {
      setBusy(false);
    }
    setTo("");
    setNote("");
    onClose();
  }
  return (
    <Dialog title={kind === "delegate" ? "Delegate this task" : "Reassign this task"} open={kind !== null} onClose={() => {
        setError(null);
        onClose();
      }}>
      <form onSubmit={submit} className="dialog-form">
        {kind === "reassign" && (
          <fieldset className="radio-row">
            <legend>Give it to</legend>
            <label className="check">
              <input type="radio" name="target" checked={target === "user"} onChange={() => setTarget("user")} /> a person
            </label>
            <label className="check">
              <input type="radio" name="target" checked={target === "role"} onChange={() => setTarget("role")} /> a team (role)
            </label>
          </fieldset>
        )}
        <label>
          {forRole ? "Role" : "Person"}
          <input
            autoFocus
            value={to}
            onChange={(e) => setTo(e.target.value)}
            maxLength={100}
            list={forRole ? "handover-roles" : "handover-people"}
            placeholder={forRole ? "e.g. warehouse" : "Start typing a name or username"}
          />
        </label>
        <datalist id="handover-people">
          {offer?.people.map((p) => (
            <option key={p.username} value={p.username}>
              {`${p.display_name}${p.in_team ? " · this task's team" : ""}${p.away ? " · away" : ""}`}
            </option>
          ))}
        </datalist>
        <datalist id="handover-roles">
          {offer?.roles.map((r) => <option key={r} value={r} />)}
        </datalist>
        {!forRole && shown?.away && <p className="hint">{shown.username} is out of office now.</p>}
        {kind === "delegate" && (
          <label>
            Note (optional)
            <textarea rows={2} value={note} onChange={(e) => setNote(e.target.value)} maxLength={2000} />
          </label>
        )}
        <p className="hint">{kind === "delegate" ? "They do it on your behalf; you see it done." : "The SLA clock keeps running."}</p>
        <ErrorNote error={error} />
        <div className="dialog-actions">
          <button
            type="button"
            onClick={() => {
              setError(null);
              onClose();
            }}
          >
            Cancel
          </button>
          <button type="submit" className="primary" disabled={!to.trim() || busy}>
            {kind === "delegate" ? "Delegate" : "Reassign"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
