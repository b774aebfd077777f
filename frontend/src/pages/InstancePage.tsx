// One instance: its diagram with the path taken, stages, data, documents, comments, open tasks,
// the audit log, and (for admins) cancel / suspend / resume and incident retry / skip.
// A document can be deleted by whoever uploaded it while the instance runs, and by admins.
import { useEffect, useRef, useState } from "react";
import { Link, useParams } from "react-router-dom";

import { api, ApiError, errorText } from "../api";
import { useAuth } from "../auth";
import { ErrorNote, formatTime, PageHeader, Spinner } from "../components/ui";
import { useDocumentTitle } from "../components/useDocumentTitle";
import { useLoad } from "../components/useLoad";
import { Comments, ConfirmDialog, DataView, holder, StatusBadge } from "./work/parts";
import { PathDiagram } from "./work/PathDiagram";
import type { AuditOut, DocumentOut, IncidentOut, InstanceOut, PathOut, VersionOut } from "./work/types";
import "./work/work.css";
import { actionWords } from "../components/auditWords";

type Action = { kind: "cancel" | "suspend" | "resume" } | { kind: "retry" | "skip"; incident: IncidentOut };

let skipRoute: Promise<boolean> | null = null;
/** Whether this service can skip an incident (an admin's action that came later than retry). */
function canSkip(): Promise<boolean> {
  skipRoute ??= api
    .get<{ paths?: Record<string, unknown> }>("/openapi.json")
    .then((doc) => Object.keys(doc.paths ?? {}).some((p) => p.endsWith("/incidents/{incident_id}/skip")))
    .catch(() => false);
  return skipRoute;
}

function sizeText(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function detailsText(details: Record<string, unknown>): string {
  return Object.entries(details)
    .filter(([, v]) => v !== null && v !== undefined && v !== "" && !(Array.isArray(v) && v.length === 0))
    .map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(" · ");
}

export default function InstancePage() {
  const { id = "" } = useParams();
  const { me, hasRole } = useAuth();
  const admin = hasRole("admin");
  const base = `/api/instances/${encodeURIComponent(id)}`;
  const instance = useLoad(() => api.get<InstanceOut>(base), [base]);
  const path = useLoad(() => api.get<PathOut>(`${base}/path`), [base, instance.data?.version]);
  const key = instance.data?.workflow_key;
  const version = instance.data?.workflow_version;
  const definition = useLoad(
    () => (key && version ? api.get<VersionOut>(`/api/workflows/${encodeURIComponent(key)}/versions/${version}`) : Promise.resolve(null)),
    [key, version],
  );
  const history = useLoad(() => api.get<AuditOut[]>(`${base}/history`), [base, instance.data?.version]);
  const documents = useLoad(() => api.get<DocumentOut[]>(`${base}/documents`), [base]);
  const skip = useLoad(() => (admin ? canSkip() : Promise.resolve(false)), [admin]);
  const [action, setAction] = useState<Action | null>(null);
  const [correcting, setCorrecting] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [uploading, setUploading] = useState(false);
  const [deleting, setDeleting] = useState<string | null>(null);
  const [documentError, setDocumentError] = useState<string | null>(null);
  const fileRef = useRef<HTMLInputElement>(null);
  const shown = instance.data;
  useDocumentTitle(shown ? shown.business_key || shown.workflow_name || shown.workflow_key : undefined);

  if (instance.loading && !instance.data) return <Spinner />;
  if (!instance.data)
    return (
      <div className="work-page">
        <PageHeader title="Instance" />
        <ErrorNote error={instance.error ?? "This instance was not found."} />
        <p>
          Back to the <Link to="/instances">instances</Link>.
        </p>
      </div>
    );

  const i = instance.data;
  const def = definition.data?.definition;
  const name = def?.name || i.workflow_key;
  const running = i.status === "running";
  const mayCancel = running && (admin || i.started_by === me?.username);
  const openIncidents = i.incidents.filter((x) => x.status === "open");
  const mayDelete = (d: DocumentOut) => admin || (running && d.uploaded_by === me?.username);

  async function run(kind: Action["kind"], reason: string, incident?: IncidentOut) {
    setError(null);
    if (kind === "retry" || kind === "skip") await api.post(`${base}/incidents/${encodeURIComponent(incident?.id ?? "")}/${kind}`, {});
    else await api.post(`${base}/${kind}`, { reason });
    instance.reload();
    documents.reload();
  }

  async function upload(file: File | undefined) {
    if (!file) return;
    setUploading(true);
    setError(null);
    const body = new FormData();
    body.append("file", file);
    try {
      await api.upload<DocumentOut>(`${base}/documents`, body);
      documents.reload();
      history.reload();
    } catch (e) {
      setError(e instanceof ApiError && e.status === 415 ? `${e.message}` : errorText(e));
    } finally {
      setUploading(false);
      if (fileRef.current) fileRef.current.value = "";
    }
  }

  async function removeDocument(d: DocumentOut) {
    if (!window.confirm(`Delete the document ${d.filename}? This cannot be undone.`)) return;
    setDeleting(d.id);
    setDocumentError(null);
    try {
      await api.delete(`/api/documents/${encodeURIComponent(d.id)}`);
      history.reload();
    } catch (e) {
      setDocumentError(errorText(e));
    } finally {
      setDeleting(null);
      documents.reload(); // also when it failed: someone may have deleted it meanwhile
    }
  }

  const dialog = action && {
    cancel: { title: "Cancel this instance?", message: "Every open task, timer and wait of it ends. This cannot be undone.", confirm: "Cancel instance", danger: true, reason: true },
    suspend: { title: "Suspend this instance?", message: "It stops moving on until someone resumes it; its tasks stay where they are.", confirm: "Suspend", danger: false, reason: true },
    resume: { title: "Resume this instance?", message: "It carries on from where it was suspended.", confirm: "Resume", danger: false, reason: true },
    retry: { title: "Retry this step?", message: "The step that failed runs again with the data as it is now.", confirm: "Retry", danger: false, reason: false },
    skip: { title: "Skip this step?", message: "The instance goes on as if the failed step had succeeded, without its result. This cannot be undone.", confirm: "Skip step", danger: true, reason: false },
  }[action.kind];

  return (
    <div className="work-page instance-page">
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link to="/instances">Instances</Link> <span aria-hidden="true">›</span> <span>{name}</span>
      </nav>
      <PageHeader title={i.business_key ? `${name} · ${i.business_key}` : name}>
        <StatusBadge status={i.status} suspended={i.suspended} />
        {i.stage && <span className="badge brand">{i.stage}</span>}
        {mayCancel && (
          <button type="button" className="danger" onClick={() => setAction({ kind: "cancel" })}>
            Cancel…
          </button>
        )}
        {admin && running && !i.suspended && (
          <button type="button" onClick={() => setAction({ kind: "suspend" })}>
            Suspend…
          </button>
        )}
        {admin && running && i.suspended && (
          <button type="button" onClick={() => setAction({ kind: "resume" })}>
            Resume…
          </button>
        )}
      </PageHeader>
      <p className="hint instance-meta">
        Started {formatTime(i.started_at)}
        {i.started_by ? ` by ${i.started_by}` : ""} · version {i.workflow_version}
        {i.finished_at ? ` · finished ${formatTime(i.finished_at)}` : ` · last change ${formatTime(i.updated_at)}`}
      </p>
      <ErrorNote error={error} />

      {openIncidents.length > 0 && (
        <section className="card incidents" aria-labelledby="incidents-title">
          <h2 id="incidents-title">Needs attention</h2>
          <ul className="plain-list">
            {openIncidents.map((x) => (
              <li key={x.id} className="incident">
                <div>
                  <strong>{def?.nodes.find((n) => n.id === x.node)?.name ?? x.node}</strong>: {x.message}
                  <div className="hint">
                    {x.code} · {formatTime(x.created_at)}
                    {Object.keys(x.details).length > 0 && ` · ${detailsText(x.details)}`}
                  </div>
                </div>
                {admin && (
                  <div className="row">
                    <button type="button" onClick={() => setAction({ kind: "retry", incident: x })}>
                      Retry…
                    </button>
                    {skip.data && (
                      <button type="button" className="danger" onClick={() => setAction({ kind: "skip", incident: x })}>
                        Skip…
                      </button>
                    )}
                  </div>
                )}
              </li>
            ))}
          </ul>
        </section>
      )}

      <section className="card diagram-card" aria-labelledby="path-title">
        <div className="card-head">
          <h2 id="path-title">Path</h2>
          <ul className="legend" aria-label="Legend">
            <li>
              <span className="swatch swatch-visited" /> taken
            </li>
            <li>
              <span className="swatch swatch-waiting" /> waiting now
            </li>
            <li>
              <span className="swatch swatch-idle" /> not taken
            </li>
            <li className="hint">Hover or tab to a step with “?” to see why it went that way.</li>
          </ul>
        </div>
        <ErrorNote error={definition.error ?? path.error} />
        {def ? <PathDiagram definition={def} path={path.data ?? null} raw={i.decisions} /> : <Spinner label="Loading the diagram…" />}
        {path.data && path.data.waiting.length > 0 && running && (
          <p className="waiting-line">
            <strong>Waiting at:</strong>{" "}
            {path.data.waiting.map((w, n) => (
              <span key={`${w.node}-${n}`}>
                {n > 0 && ", "}
                {w.name}
                {w.since && <span className="hint"> (since {formatTime(w.since)})</span>}
              </span>
            ))}
          </p>
        )}
      </section>

      <section className="card" aria-labelledby="stages-title">
        <h2 id="stages-title">Stages</h2>
        {i.stages.length === 0 ? (
          <p className="hint">No stage reached yet.</p>
        ) : (
          <ol className="timeline">
            {i.stages.map((s, n) => (
              <li key={`${s.stage}-${n}`} className={n === i.stages.length - 1 ? "current" : "done"}>
                <span className="timeline-dot" aria-hidden="true" />
                <span className="timeline-stage">{s.stage}</span>
                <span className="hint">{formatTime(s.at)}</span>
              </li>
            ))}
          </ol>
        )}
      </section>

      <div className="instance-grid">
        <div>
          <section className="card" aria-labelledby="tasks-title">
            <h2 id="tasks-title">Open tasks</h2>
            {i.open_tasks.length === 0 ? (
              <p className="hint">No open task.</p>
            ) : (
              <ul className="plain-list">
                {i.open_tasks.map((t) => (
                  <li key={t.id}>
                    <Link to={`/tasks/${encodeURIComponent(t.id)}`}>{t.name}</Link>{" "}
                    <span className="hint">
                      {holder(t, me?.username)}
                      {t.due_at ? ` · due ${formatTime(t.due_at)}` : ""}
                    </span>
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section className="card" aria-labelledby="data-title">
            <div className="card-head">
              <h2 id="data-title">Data</h2>
              {admin && running && (
                <button type="button" onClick={() => setCorrecting(true)}>
                  Correct data…
                </button>
              )}
            </div>
            <DataView data={i.data} />
          </section>
        </div>
        <div>
          <section className="card" aria-labelledby="docs-title">
            <h2 id="docs-title">Documents</h2>
            <ErrorNote error={documents.error ?? documentError} />
            {(documents.data ?? []).length === 0 ? (
              <p className="hint">No documents.</p>
            ) : (
              <ul className="plain-list">
                {(documents.data ?? []).map((d) => (
                  <li key={d.id}>
                    <a href={`/api/documents/${encodeURIComponent(d.id)}`} download={d.filename}>
                      {d.filename}
                    </a>{" "}
                    <span className="hint">
                      {sizeText(d.size)} · {d.uploaded_by ?? "system"} · {formatTime(d.uploaded_at)}
                    </span>
                    {mayDelete(d) && (
                      <>
                        {" "}
                        <button
                          type="button"
                          className="link danger"
                          aria-label={`Delete ${d.filename}`}
                          disabled={deleting === d.id}
                          onClick={() => void removeDocument(d)}
                        >
                          Delete
                        </button>
                      </>
                    )}
                  </li>
                ))}
              </ul>
            )}
            <label className="upload">
              Attach a document
              <input ref={fileRef} type="file" disabled={uploading} onChange={(e) => void upload(e.target.files?.[0])} />
            </label>
            {uploading && <span className="hint">Uploading…</span>}
          </section>
          <section className="card" aria-labelledby="comments-title">
            <h2 id="comments-title">Comments</h2>
            <Comments path={`${base}/comments`} />
          </section>
        </div>
      </div>

      <section className="card" aria-labelledby="audit-title">
        <h2 id="audit-title">Audit log</h2>
        <ErrorNote error={history.error} />
        {(history.data ?? []).length === 0 ? (
          <p className="hint">Nothing recorded yet.</p>
        ) : (
          <div className="table-scroll">
            <table className="audit-table">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Who</th>
                  <th scope="col">What</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {(history.data ?? []).map((a) => (
                  <tr key={a.id}>
                    <td className="nowrap">{formatTime(a.at)}</td>
                    <td>
                      {a.actor ?? "system"}
                      {a.on_behalf_of && <span className="hint"> for {a.on_behalf_of}</span>}
                    </td>
                    <td title={a.action}>{actionWords(a.action)}</td>
                    <td className="audit-details">{detailsText(a.details)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <CorrectDataDialog
        open={correcting}
        data={i.data}
        path={`${base}/data`}
        version={i.version}
        onDone={() => instance.reload()}
        onClose={() => setCorrecting(false)}
      />
      {dialog && action && (
        <ConfirmDialog
          open
          title={dialog.title}
          message={dialog.message}
          confirmLabel={dialog.confirm}
          danger={dialog.danger}
          withReason={dialog.reason}
          onClose={() => setAction(null)}
          onConfirm={(reason) => run(action.kind, reason, "incident" in action ? action.incident : undefined)}
        />
      )}
    </div>
  );
}

/** An admin puts right what made a step fail: the fields given are merged into the data
 * (`POST /api/instances/{id}/data`), audited with the reason; then Retry runs the step again. */
function CorrectDataDialog({ open, data, path, version, onDone, onClose }: { open: boolean; data: Record<string, unknown>; path: string; version: number; onDone: () => void; onClose: () => void }) {
  const [text, setText] = useState("");
  useEffect(() => {
    if (open) setText(JSON.stringify(data, null, 2));
  }, [open]); // eslint-disable-line react-hooks/exhaustive-deps -- the data as it is when opened

  async function save(reason: string) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error("That is not valid JSON yet: check the quotes, commas and brackets.");
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error('The data is an object: { "field": value, … }.');
    await api.post(path, { data: parsed, reason, version });
    onDone();
  }
  return (
    <ConfirmDialog
      title="Correct this instance's data"
      message="The fields here are merged into the data: a field you change is replaced, one you leave out stays as it is. Then retry the step that failed."
      confirmLabel="Save the data"
      open={open}
      withReason
      reasonRequired
      onConfirm={save}
      onClose={onClose}
    >
      <label>
        Data (JSON)
        <textarea className="mono" rows={12} value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} />
      </label>
    </ConfirmDialog>
  );
}
