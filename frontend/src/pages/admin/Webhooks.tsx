// Incoming webhook triggers with their secrets, and outgoing event endpoints with theirs
// (and what was sent to each: its delivery log).
import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link } from "react-router-dom";

import { api, type Page, type WorkflowOut, type WorkflowSummary } from "../../api";
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

/** One event queued for one endpoint (app/routes/endpoints.py DeliveryOut). */
interface Delivery {
  id: number;
  event_id: string;
  event_type: string;
  instance_id: string | null;
  status: "pending" | "delivered" | "failed" | "skipped";
  attempts: number;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
  next_attempt_at: string | null;
}

type DeliveryFilter = "all" | Delivery["status"];

const DELIVERY_PAGE = 50;

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

function DeliveryStatus({ d }: { d: Delivery }) {
  if (d.status === "delivered") return <span className="badge ok">delivered</span>;
  if (d.status === "failed") return <span className="badge bad">failed</span>;
  if (d.status === "skipped") return <span className="badge" title="the endpoint was off when its turn came">skipped</span>;
  return <span className={d.last_error ? "badge warn" : "badge"} title={d.last_error ? "failed so far; it is tried again" : undefined}>pending</span>;
}

/** The delivery log of one endpoint: newest first, a page at a time ("Load more"). */
function Deliveries({ endpoint, onClose }: { endpoint: Endpoint; onClose: () => void }) {
  const base = `/api/admin/event-endpoints/${encodeURIComponent(endpoint.id)}/deliveries`;
  const [status, setStatus] = useState<DeliveryFilter>("all");
  const [nonce, setNonce] = useState(0);
  const first = useLoad(() => api.get<Page<Delivery>>(base, { status, offset: 0, limit: DELIVERY_PAGE }), [base, status, nonce]);
  // pages after the first, and rows changed by a retry: both dropped when the first page reloads
  const [more, setMore] = useState<Page<Delivery> | null>(null);
  const [changed, setChanged] = useState<Record<number, Delivery>>({});
  const [done, setDone] = useState<string | null>(null);
  const action = useAction();
  const ref = useRef<HTMLElement>(null);
  useEffect(() => ref.current?.focus(), [endpoint.id]);

  const restart = (next: DeliveryFilter = status) => {
    setMore(null);
    setChanged({});
    setDone(null);
    action.setError(null);
    setStatus(next);
    setNonce((n) => n + 1);
  };

  const items: Delivery[] = [];
  const seen = new Set<number>();
  for (const d of [...(first.data?.items ?? []), ...(more?.items ?? [])]) {
    if (seen.has(d.id)) continue; // a later page repeats rows when new deliveries arrived meanwhile
    seen.add(d.id);
    items.push(changed[d.id] ?? d);
  }
  const total = more?.total ?? first.data?.total ?? 0;

  const loadMore = () =>
    action.run(async () => {
      const next = await api.get<Page<Delivery>>(base, { status, offset: items.length, limit: DELIVERY_PAGE });
      setMore({ items: [...(more?.items ?? []), ...next.items], total: next.total });
    });
  const retry = (d: Delivery) =>
    action.run(async () => {
      setDone(null);
      const out = await api.post<Delivery>(`${base}/${d.id}/retry`);
      setChanged((rows) => ({ ...rows, [out.id]: out }));
      setDone(`The ${d.event_type} event is queued to be sent again.`);
    });

  return (
    <section className="card stack" aria-label={`Deliveries to ${endpoint.url}`} tabIndex={-1} ref={ref} style={{ marginTop: "0.75rem" }}>
      <div className="section-head">
        <div>
          <h3>Deliveries</h3>
          <p className="hint wrap-anywhere">
            To <span className="mono">{endpoint.url}</span>, newest first. A failed one can be sent again, with the same webhook-id.
          </p>
        </div>
        <div className="row">
          <label className="check">
            Show
            <select aria-label="Which deliveries" value={status} onChange={(e) => restart(e.target.value as DeliveryFilter)}>
              <option value="all">all</option>
              <option value="pending">pending</option>
              <option value="delivered">delivered</option>
              <option value="failed">failed</option>
              <option value="skipped">skipped</option>
            </select>
          </label>
          <button type="button" disabled={first.loading} onClick={() => restart()}>
            Refresh
          </button>
          <button type="button" onClick={onClose}>
            Close
          </button>
        </div>
      </div>
      {done && (
        <div className="ok-note" role="status">
          {done}
        </div>
      )}
      <ErrorNote error={action.error ?? first.error} />
      {first.loading && !first.data ? (
        <Spinner />
      ) : items.length === 0 ? (
        <Empty title={status === "all" ? "No deliveries" : `No ${status} deliveries`}>
          {status === "all" ? "Nothing sent to this endpoint yet." : "None of this endpoint's deliveries is in this state."}
        </Empty>
      ) : (
        <div className="table-wrap">
          <table aria-label="Deliveries">
            <thead>
              <tr>
                <th>Queued</th>
                <th>Event</th>
                <th>Instance</th>
                <th>Status</th>
                <th className="num">Attempts</th>
                <th>Last error</th>
                <th>
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((d) => (
                <tr key={d.id} data-delivery={d.id}>
                  <td className="hint">
                    {formatTime(d.created_at)}
                    {d.delivered_at && <div>delivered {formatTime(d.delivered_at)}</div>}
                    {d.status === "pending" && d.next_attempt_at && d.attempts > 0 && <div>next try {formatTime(d.next_attempt_at)}</div>}
                  </td>
                  <td>
                    <span className="mono">{d.event_type}</span>
                    <div className="hint mono">{d.event_id}</div>
                  </td>
                  <td className="mono">{d.instance_id ? <Link to={`/instances/${encodeURIComponent(d.instance_id)}`}>{d.instance_id.slice(0, 10)}…</Link> : "—"}</td>
                  <td>
                    <DeliveryStatus d={d} />
                  </td>
                  <td className="num">{d.attempts}</td>
                  <td className="incident-message">{d.last_error ?? <span className="hint">—</span>}</td>
                  <td className="actions">
                    {(d.status === "failed" || d.status === "skipped") && (
                      <button
                        type="button"
                        className="primary"
                        disabled={action.busy || !endpoint.enabled}
                        title={endpoint.enabled ? undefined : "Turn the endpoint on first"}
                        aria-label={`Retry the ${d.event_type} delivery`}
                        onClick={() => retry(d)}
                      >
                        Retry
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {items.length > 0 && (
        <div className="row">
          <span className="hint">
            {items.length} of {total}
          </span>
          {items.length < total && (
            <button type="button" disabled={action.busy} onClick={loadMore}>
              Load more
            </button>
          )}
        </div>
      )}
    </section>
  );
}

function EventEndpoints() {
  const endpoints = useLoad(() => api.get<Endpoint[]>("/api/admin/event-endpoints"), []);
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [types, setTypes] = useState<string[]>(["instance.stage_changed", "instance.completed"]);
  const [made, setMade] = useState<EndpointWithSecret | null>(null);
  const [logOf, setLogOf] = useState<string | null>(null);
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
      if (logOf === e.id) setLogOf(null);
      endpoints.reload();
    });

  const list = endpoints.data ?? [];
  const logged = list.find((e) => e.id === logOf);
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
      <form className="card admin-form" aria-label="Add an event endpoint" onSubmit={submit} style={{ marginBottom: "0.75rem" }} onChange={() => create.error && create.setError(null)}>
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
                    <button type="button" aria-expanded={logOf === e.id} aria-label={`Deliveries to ${e.url}`} onClick={() => setLogOf(logOf === e.id ? null : e.id)}>
                      Deliveries
                    </button>
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
      {logged && <Deliveries key={logged.id} endpoint={logged} onClose={() => setLogOf(null)} />}
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
