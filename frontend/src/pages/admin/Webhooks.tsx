// Incoming webhook triggers with their secrets, and outgoing event endpoints with theirs.
import { useState, type FormEvent } from "react";

import { api, type WorkflowOut, type WorkflowSummary } from "../../api";
import { Empty, ErrorNote, formatTime, PageHeader, Spinner } from "../../components/ui";
import { useLoad } from "../../components/useLoad";
import { CopyField, Section, ShownOnce, useAction } from "./common";
import { SCHEMES, SecretsPanel } from "./secrets";
import MessageHooks from "./MessageHooks";

interface HookTrigger {
  key: string;
  name: string;
  published: boolean;
  scheme: string;
  mapping: Record<string, string>;
}

interface Endpoint {
  id: string;
  url: string;
  description: string;
  event_types: string[];
  enabled: boolean;
  disabled_reason: string | null;
  secret_prefix: string;
  previous_secret_expires_at: string | null;
  created_at: string;
  created_by: string | null;
  updated_at: string;
}

interface EndpointWithSecret extends Endpoint {
  secret: string;
}

const EVENT_TYPES = ["instance.started", "instance.stage_changed", "instance.completed", "instance.cancelled", "instance.rejected", "task.created", "task.overdue"];
/** The body the service signs in a new workflow secret's example (app/routes/hooks.py). */
const WORKFLOW_EXAMPLE_BODY = '{"order_id": "A-1"}';

interface StartNode {
  type?: string;
  trigger?: { type?: string; webhook?: { scheme?: string; mapping?: Record<string, string> } };
}

function webhookOf(definition: Record<string, unknown>): { scheme: string; mapping: Record<string, string> } | null {
  const nodes = Array.isArray(definition.nodes) ? (definition.nodes as StartNode[]) : [];
  const start = nodes.find((n) => n.type === "start");
  if (start?.trigger?.type !== "webhook") return null;
  return { scheme: start.trigger.webhook?.scheme ?? "generic", mapping: start.trigger.webhook?.mapping ?? {} };
}

async function loadTriggers(): Promise<HookTrigger[]> {
  const workflows = await api.get<WorkflowSummary[]>("/api/workflows");
  const found = await Promise.all(
    workflows.map(async (w) => {
      const definition = w.published_version
        ? (await api.get<{ definition: Record<string, unknown> }>(`/api/workflows/${encodeURIComponent(w.key)}/versions/${w.published_version}`)).definition
        : (await api.get<WorkflowOut>(`/api/workflows/${encodeURIComponent(w.key)}`)).draft;
      const hook = webhookOf(definition);
      return hook ? { key: w.key, name: w.name, published: !!w.published_version, ...hook } : null;
    }),
  );
  return found.filter((t): t is HookTrigger => t !== null);
}

function TriggerCard({ trigger }: { trigger: HookTrigger }) {
  const url = `${window.location.origin}/hooks/${encodeURIComponent(trigger.key)}`;
  return (
    <article className="card calendar-card" data-hook={trigger.key} aria-label={`Webhook ${trigger.name}`}>
      <div className="row" style={{ justifyContent: "space-between" }}>
        <h3>
          {trigger.name} <span className="hint mono">{trigger.key}</span>
        </h3>
        <div className="row">
          <span className="badge brand">{trigger.scheme}</span>
          {trigger.published ? <span className="badge ok">published</span> : <span className="badge warn">draft only</span>}
        </div>
      </div>
      <CopyField label={`Webhook URL for ${trigger.key}`} value={url} />
      <p className="hint">Sign each delivery with a secret below: {SCHEMES[trigger.scheme] ?? trigger.scheme}.</p>
      {Object.keys(trigger.mapping).length > 0 && (
        <p className="hint">
          Mapped into the data: {Object.entries(trigger.mapping).map(([field, source]) => `${field} ← ${source}`).join(", ")}
        </p>
      )}
      <SecretsPanel base={`/api/admin/webhooks/${encodeURIComponent(trigger.key)}/secrets`} name={trigger.key} url={url} scheme={trigger.scheme} exampleBody={WORKFLOW_EXAMPLE_BODY} />
    </article>
  );
}

function EventTypes({ chosen, onChange }: { chosen: string[]; onChange: (types: string[]) => void }) {
  return (
    <fieldset className="wide">
      <legend>Events</legend>
      <div className="checks">
        {EVENT_TYPES.map((type) => (
          <label key={type} className="check">
            <input type="checkbox" checked={chosen.includes(type)} onChange={(e) => onChange(e.target.checked ? [...chosen, type] : chosen.filter((t) => t !== type))} />
            <span className="mono">{type}</span>
          </label>
        ))}
      </div>
    </fieldset>
  );
}

function EventEndpoints() {
  const endpoints = useLoad(() => api.get<Endpoint[]>("/api/admin/event-endpoints"), []);
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [types, setTypes] = useState<string[]>(["instance.stage_changed", "instance.completed"]);
  const [made, setMade] = useState<EndpointWithSecret | null>(null);
  const create = useAction();
  const action = useAction();

  async function submit(event: FormEvent) {
    event.preventDefault();
    const ok = await create.run(async () => {
      setMade(await api.post<EndpointWithSecret>("/api/admin/event-endpoints", { url: url.trim(), event_types: types, description: description.trim() }));
    });
    if (ok) {
      setUrl("");
      setDescription("");
      endpoints.reload();
    }
  }

  const rotate = (e: Endpoint) =>
    action.run(async () => {
      if (!window.confirm(`Make a new signing secret for ${e.url}? The old one keeps signing for 24 hours.`)) return;
      setMade(await api.post<EndpointWithSecret>(`/api/admin/event-endpoints/${encodeURIComponent(e.id)}/rotate`, { keep_previous_for: "PT24H" }));
      endpoints.reload();
    });
  const toggle = (e: Endpoint) =>
    action.run(async () => {
      await api.patch(`/api/admin/event-endpoints/${encodeURIComponent(e.id)}`, { enabled: !e.enabled });
      endpoints.reload();
    });
  const remove = (e: Endpoint) =>
    action.run(async () => {
      if (!window.confirm(`Delete the endpoint ${e.url}? Events queued for it are dropped.`)) return;
      await api.delete(`/api/admin/event-endpoints/${encodeURIComponent(e.id)}`);
      endpoints.reload();
    });

  const list = endpoints.data ?? [];
  return (
    <Section
      title="Outgoing events"
      hint="Stepwise POSTs events to these URLs, signed the Standard Webhooks way (webhook-id, webhook-timestamp, webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>), and retries for about 14 hours."
    >
      {made && (
        <ShownOnce title={`Signing secret for ${made.url}`} onDone={() => setMade(null)}>
          <CopyField label="Signing secret" value={made.secret} />
        </ShownOnce>
      )}
      <form className="card admin-form" aria-label="Add an event endpoint" onSubmit={submit} style={{ marginBottom: "0.75rem" }}>
        <label className="wide">
          Endpoint URL
          <input type="url" required value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://example.com/stepwise-events" maxLength={2000} />
        </label>
        <label className="wide">
          Description
          <input value={description} onChange={(e) => setDescription(e.target.value)} maxLength={500} />
        </label>
        <EventTypes chosen={types} onChange={setTypes} />
        <div className="form-actions">
          <button type="submit" className="primary" disabled={create.busy || !url.trim() || types.length === 0}>
            Add endpoint
          </button>
        </div>
        <div className="wide">
          <ErrorNote error={create.error} />
        </div>
      </form>
      <ErrorNote error={action.error ?? endpoints.error} />
      {endpoints.loading && !endpoints.data ? (
        <Spinner />
      ) : list.length === 0 ? (
        <Empty title="No event endpoints">Add one above to tell another system when orders change stage or tasks are created.</Empty>
      ) : (
        <div className="table-wrap">
          <table aria-label="Event endpoints">
            <thead>
              <tr>
                <th>URL</th>
                <th>Events</th>
                <th>Secret</th>
                <th>Status</th>
                <th>
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((e) => (
                <tr key={e.id} className={e.enabled ? undefined : "inactive"}>
                  <td className="wrap-anywhere">
                    <span className="mono">{e.url}</span>
                    {e.description && <div className="hint">{e.description}</div>}
                  </td>
                  <td>
                    <div className="badges">
                      {e.event_types.map((t) => (
                        <span key={t} className="badge">
                          {t}
                        </span>
                      ))}
                    </div>
                  </td>
                  <td className="mono">
                    {e.secret_prefix}…
                    {e.previous_secret_expires_at && <div className="hint">old one signs until {formatTime(e.previous_secret_expires_at)}</div>}
                  </td>
                  <td>{e.enabled ? <span className="badge ok">on</span> : <span className="badge bad" title={e.disabled_reason ?? undefined}>off{e.disabled_reason ? `: ${e.disabled_reason}` : ""}</span>}</td>
                  <td className="actions">
                    <button type="button" disabled={action.busy} onClick={() => rotate(e)}>
                      Rotate secret
                    </button>
                    <button type="button" disabled={action.busy} onClick={() => toggle(e)}>
                      {e.enabled ? "Turn off" : "Turn on"}
                    </button>
                    <button type="button" className="danger" disabled={action.busy} onClick={() => remove(e)}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Section>
  );
}

export default function Webhooks() {
  const triggers = useLoad(loadTriggers, []);
  return (
    <div>
      <PageHeader title="Webhooks & events" />
      <Section title="Incoming webhooks" hint="Workflows whose start is a webhook. Another system POSTs JSON to the URL, signed with one of the workflow's secrets, and an instance starts.">
        <ErrorNote error={triggers.error} />
        {triggers.loading && !triggers.data ? (
          <Spinner />
        ) : !triggers.data?.length ? (
          <Empty title="No workflow starts by webhook">Set a workflow's start trigger to “webhook” in the designer and publish it; it then shows here.</Empty>
        ) : (
          <div className="stack">
            {triggers.data.map((t) => (
              <TriggerCard key={t.key} trigger={t} />
            ))}
          </div>
        )}
      </Section>
      <MessageHooks />
      <EventEndpoints />
    </div>
  );
}
