// Message hooks: signed deliveries from other systems (a carrier's "delivered") matched to waiting instances.
import { useState, type FormEvent } from "react";

import { api } from "../../api";
import { Empty, ErrorNote, formatTime, Spinner } from "../../components/ui";
import { useLoad } from "../../components/useLoad";
import { CopyField, Dialog, Section, useAction } from "./common";
import { SCHEMES, SecretsPanel } from "./secrets";

interface MessageHook {
  name: string;
  url: string;
  scheme: string;
  tolerance_s: number;
  correlation: string;
  mapping: Record<string, string>;
  idempotency: string | null;
  active_secrets: number;
  created_at: string;
  created_by: string | null;
  updated_at: string;
  updated_by: string | null;
}

/** The body the service signs in a new message-hook secret's example (app/routes/hooks.py). */
const MESSAGE_EXAMPLE_BODY = '{"tracking_number": "TRK00001"}';

function mappingText(mapping: Record<string, string>): string {
  return Object.entries(mapping)
    .map(([field, source]) => `${field} = ${source}`)
    .join("\n");
}

function parseMapping(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const at = line.indexOf("=");
    if (at < 1) throw new Error(`“${line.trim()}”: write each field as name = expression`);
    out[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return out;
}

function HookEditor({ hook, onClose, onSaved }: { hook: MessageHook | null; onClose: () => void; onSaved: () => void }) {
  const [name, setName] = useState(hook?.name ?? "");
  const [scheme, setScheme] = useState(hook?.scheme ?? "generic");
  const [correlation, setCorrelation] = useState(hook?.correlation ?? "body.tracking_number");
  const [mapping, setMapping] = useState(mappingText(hook?.mapping ?? {}));
  const [idempotency, setIdempotency] = useState(hook?.idempotency ?? "");
  const action = useAction();

  async function submit(event: FormEvent) {
    event.preventDefault();
    const ok = await action.run(async () => {
      await api.put(`/api/admin/message-hooks/${encodeURIComponent(name.trim())}`, {
        scheme,
        tolerance_s: hook?.tolerance_s ?? 300,
        correlation: correlation.trim(),
        mapping: parseMapping(mapping),
        idempotency: idempotency.trim() || null,
      });
    });
    if (ok) onSaved();
  }

  return (
    <Dialog title={hook ? `Message hook ${hook.name}` : "New message hook"} onClose={onClose}>
      <form onSubmit={submit}>
        {!hook && (
          <label>
            Message name (what the workflow's receive step waits for)
            <input required value={name} onChange={(e) => setName(e.target.value)} maxLength={200} placeholder="e.g. delivered" />
          </label>
        )}
        <label>
          Signature scheme
          <select value={scheme} onChange={(e) => setScheme(e.target.value)}>
            {Object.keys(SCHEMES).map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Correlation (matches the waiting instance)
          <input required className="mono" value={correlation} onChange={(e) => setCorrelation(e.target.value)} maxLength={1000} />
        </label>
        <label>
          Data, one field a line (empty: the body itself)
          <textarea className="mono" rows={3} value={mapping} onChange={(e) => setMapping(e.target.value)} placeholder="delivered_at = body.delivered_at" />
        </label>
        <label>
          Delivery id (optional)
          <input className="mono" value={idempotency} onChange={(e) => setIdempotency(e.target.value)} maxLength={1000} placeholder="e.g. body.event_id" />
        </label>
        <p className="hint">Expressions read body, headers (lower-case names) and query.</p>
        <ErrorNote error={action.error} />
        <div className="row">
          <button type="submit" className="primary" disabled={action.busy || !name.trim() || !correlation.trim()}>
            Save hook
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export default function MessageHooks() {
  const hooks = useLoad(() => api.get<MessageHook[]>("/api/admin/message-hooks"), []);
  const [editing, setEditing] = useState<MessageHook | "new" | null>(null);
  const action = useAction();

  const remove = (hook: MessageHook) =>
    action.run(async () => {
      if (!window.confirm(`Delete the message hook ${hook.name} and its secrets? Its deliveries are refused from then on.`)) return;
      await api.delete(`/api/admin/message-hooks/${encodeURIComponent(hook.name)}`);
      hooks.reload();
    });

  const list = hooks.data ?? [];
  return (
    <Section
      title="Incoming messages"
      hint="Another system tells a waiting instance that something happened (the carrier: delivered). Each delivery is signed, and matched to the instance by its correlation value."
      actions={
        <button type="button" onClick={() => setEditing("new")}>
          New message hook
        </button>
      }
    >
      <ErrorNote error={action.error ?? hooks.error} />
      {hooks.loading && !hooks.data ? (
        <Spinner />
      ) : list.length === 0 ? (
        <Empty title="No message hooks">Add one when another system should deliver messages (such as “delivered”) over a signed webhook.</Empty>
      ) : (
        <div className="stack">
          {list.map((hook) => {
            const url = `${window.location.origin}${hook.url}`;
            return (
              <article key={hook.name} className="card calendar-card" aria-label={`Message hook ${hook.name}`}>
                <div className="row" style={{ justifyContent: "space-between" }}>
                  <h3 className="mono">{hook.name}</h3>
                  <div className="row">
                    <span className="badge brand">{hook.scheme}</span>
                    <button type="button" onClick={() => setEditing(hook)} aria-label={`Edit message hook ${hook.name}`}>
                      Edit
                    </button>
                    <button type="button" className="danger" disabled={action.busy} onClick={() => remove(hook)} aria-label={`Delete message hook ${hook.name}`}>
                      Delete
                    </button>
                  </div>
                </div>
                <CopyField label={`Message URL for ${hook.name}`} value={url} />
                <dl className="facts">
                  <dt>Correlation</dt>
                  <dd className="mono">{hook.correlation}</dd>
                  <dt>Data</dt>
                  <dd className="mono">{Object.keys(hook.mapping).length ? mappingText(hook.mapping).replace(/\n/g, "; ") : "the body itself"}</dd>
                  {hook.idempotency && (
                    <>
                      <dt>Delivery id</dt>
                      <dd className="mono">{hook.idempotency}</dd>
                    </>
                  )}
                  <dt>Changed</dt>
                  <dd className="hint">
                    {formatTime(hook.updated_at)}
                    {hook.updated_by ? ` by ${hook.updated_by}` : ""}
                  </dd>
                </dl>
                <SecretsPanel base={`/api/admin/message-hooks/${encodeURIComponent(hook.name)}/secrets`} name={hook.name} url={url} scheme={hook.scheme} exampleBody={MESSAGE_EXAMPLE_BODY} />
              </article>
            );
          })}
        </div>
      )}
      {editing && (
        <HookEditor
          hook={editing === "new" ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            hooks.reload();
          }}
        />
      )}
    </Section>
  );
}
