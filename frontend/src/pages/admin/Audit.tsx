// The audit log: who did what, newest first, with filters.
import { useState, type ChangeEvent } from "react";
import { Link } from "react-router-dom";

import { api, type Page } from "../../api";
import { Empty, ErrorNote, formatTime, PageHeader, Spinner } from "../../components/ui";
import { useLoad } from "../../components/useLoad";
import { ACTION_WORDS, actionCode, actionWords } from "../../components/auditWords";

interface AuditEvent {
  id: number;
  at: string;
  actor: string | null;
  on_behalf_of: string | null;
  action: string;
  instance_id: string | null;
  task_id: string | null;
  details: Record<string, unknown>;
}

const LIMIT = 50;

function brief(details: Record<string, unknown>): string {
  return Object.entries(details)
    .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" · ");
}

export default function Audit() {
  const [actor, setActor] = useState("");
  const [action, setAction] = useState("");
  const [instance, setInstance] = useState("");
  const [offset, setOffset] = useState(0);
  const events = useLoad(() => api.get<Page<AuditEvent>>("/api/admin/audit", { actor: actor.trim(), action: actionCode(action), instance: instance.trim(), offset, limit: LIMIT }), [actor, action, instance, offset]);
  const page = events.data;
  const filter = (set: (v: string) => void) => (e: ChangeEvent<HTMLInputElement>) => {
    set(e.target.value);
    setOffset(0);
  };

  return (
    <div>
      <PageHeader title="Audit log" />
      <div className="card admin-form" role="search" aria-label="Filter the audit log" style={{ marginBottom: "1rem" }}>
        <label>
          Who
          <input value={actor} onChange={filter(setActor)} placeholder="username" />
        </label>
        <label>
          Action
          <input value={action} onChange={filter(setAction)} placeholder="e.g. Task completed, or task" list="audit-actions" />
        </label>
        <datalist id="audit-actions">
          {ACTION_WORDS.map((words) => (
            <option key={words} value={words} />
          ))}
        </datalist>
        <label>
          Instance
          <input value={instance} onChange={filter(setInstance)} placeholder="instance id" />
        </label>
      </div>
      <ErrorNote error={events.error} />
      {events.loading && !page ? (
        <Spinner />
      ) : !page?.items.length ? (
        <Empty title="Nothing recorded">{actor || action || instance ? "No event matches these filters." : "Nothing has happened yet."}</Empty>
      ) : (
        <>
          <div className="table-wrap">
            <table aria-label="Audit events">
              <thead>
                <tr>
                  <th>When</th>
                  <th>Who</th>
                  <th>Action</th>
                  <th>Instance</th>
                  <th>Details</th>
                </tr>
              </thead>
              <tbody>
                {page.items.map((e) => (
                  <tr key={e.id}>
                    <td className="hint" style={{ whiteSpace: "nowrap" }}>
                      {formatTime(e.at)}
                    </td>
                    <td>
                      {e.actor ?? "—"}
                      {e.on_behalf_of && e.on_behalf_of !== e.actor && <div className="hint">for {e.on_behalf_of}</div>}
                    </td>
                    <td>
                      {actionWords(e.action)}
                      <div className="hint mono">{e.action}</div>
                    </td>
                    <td className="mono">{e.instance_id ? <Link to={`/instances/${encodeURIComponent(e.instance_id)}`}>{e.instance_id.slice(0, 10)}…</Link> : "—"}</td>
                    <td className="hint wrap-anywhere">{brief(e.details)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div className="row" style={{ marginTop: "0.5rem" }}>
            <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - LIMIT))}>
              Newer
            </button>
            <span className="hint">
              {offset + 1}–{Math.min(offset + LIMIT, page.total)} of {page.total}
            </span>
            <button type="button" disabled={offset + LIMIT >= page.total} onClick={() => setOffset(offset + LIMIT)}>
              Older
            </button>
          </div>
        </>
      )}
    </div>
  );
}
