// The inbox: my tasks, those handed to me and my roles' pools in one list, most urgent first.
import { useCallback, useEffect, useMemo, useRef, useState, type FormEvent } from "react";
import { Link, useLocation, useNavigate, useSearchParams } from "react-router-dom";

import { api, ApiError, errorText, type WorkflowSummary } from "../api";
import { useAuth } from "../auth";
import { Empty, ErrorNote, formatTime, PageHeader, Spinner } from "../components/ui";
import { useLoad } from "../components/useLoad";
import { useInboxFeed, useMediaQuery, useServiceNow, type FeedMode } from "./work/hooks";
import { holder, Pager, SlaBadge, slaOf } from "./work/parts";
import type { ClaimResult, InboxItem, InboxPage, InboxQuery, SavedView, Scope, Sort } from "./work/types";
import "./work/work.css";

const PAGE = 25;
const FILTER_KEYS = ["scope", "workflow", "stage", "due_before", "due_after", "q", "sla", "sort"] as const;
const SCOPES: { value: Scope; label: string }[] = [
  { value: "all", label: "All" },
  { value: "mine", label: "Mine" },
  { value: "roles", label: "My teams" },
  { value: "delegated", label: "Handed to me" },
];
const SORTS: { value: Sort; label: string }[] = [
  { value: "sla", label: "Most urgent" },
  { value: "due", label: "Due soonest" },
  { value: "-due", label: "Due latest" },
  { value: "-created", label: "Newest" },
  { value: "created", label: "Oldest" },
  { value: "priority", label: "Priority" },
];
const SLAS = [
  { value: "", label: "Any" },
  { value: "overdue", label: "Overdue" },
  { value: "at_risk", label: "At risk" },
  { value: "ok", label: "On track" },
  { value: "none", label: "No due time" },
];

/** A date input's day → the moment it starts (due after) or ends (due before), in local time. */
function dayToIso(day: string, end: boolean): string | undefined {
  if (!day) return undefined;
  const date = new Date(`${day}T00:00:00`);
  if (Number.isNaN(date.getTime())) return undefined;
  if (end) date.setDate(date.getDate() + 1);
  return date.toISOString();
}

function isoToDay(iso: string | null | undefined, end: boolean): string {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  if (end) date.setDate(date.getDate() - 1);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

function queryFrom(params: URLSearchParams): InboxQuery {
  const get = (k: string) => params.get(k) || null;
  return {
    scope: (get("scope") as Scope | null) ?? "all",
    workflow: get("workflow"),
    stage: get("stage"),
    due_before: get("due_before"),
    due_after: get("due_after"),
    q: get("q"),
    sla: get("sla") as InboxQuery["sla"],
    sort: (get("sort") as Sort | null) ?? "sla",
  };
}

function filtered(query: InboxQuery): boolean {
  return !!(query.workflow || query.stage || query.due_before || query.due_after || query.q || query.sla || (query.scope && query.scope !== "all"));
}

/** `GET /api/inbox`; on a service without it, `GET /api/tasks` (mine and my roles'). */
async function loadInbox(query: InboxQuery, offset: number): Promise<InboxPage> {
  try {
    return await api.get<InboxPage>("/api/inbox", { ...query, offset, limit: PAGE });
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 404)) throw e;
    const scope = query.scope === "all" ? "inbox" : query.scope;
    return api.get<InboxPage>("/api/tasks", { scope, workflow: query.workflow, offset, limit: PAGE });
  }
}

export default function Inbox() {
  const { me } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const [params, setParams] = useSearchParams();
  const query = useMemo(() => queryFrom(params), [params]);
  const offset = Math.max(0, Number(params.get("offset")) || 0);
  const [nonce, setNonce] = useState(0);
  const list = useLoad(() => loadInbox(query, offset), [query, offset, nonce]);
  const workflows = useLoad(() => api.get<WorkflowSummary[]>("/api/workflows"), []);
  const [views, setViews] = useState<SavedView[] | null>(null);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [note, setNote] = useState<string | null>((location.state as { done?: string } | null)?.done ?? null);
  const [error, setError] = useState<string | null>(null);
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const phone = useMediaQuery("(max-width: 640px)");
  const now = useServiceNow(list.data?.now);

  const refresh = useCallback(() => setNonce((n) => n + 1), []);
  const feed = useInboxFeed(refresh);

  useEffect(() => {
    api
      .get<SavedView[]>("/api/views")
      .then(setViews)
      .catch(() => setViews(null)); // a service without saved views: the control stays hidden
  }, []);

  // Mark tasks that arrived while the page was open (not those a new filter shows), for a moment.
  const items = list.data?.items;
  const listKey = JSON.stringify([query, offset]);
  const known = useRef<{ key: string; ids: Set<string> } | null>(null);
  useEffect(() => {
    if (!items) return;
    const ids = items.map((t) => t.id);
    const before = known.current?.key === listKey ? known.current.ids : null;
    known.current = { key: listKey, ids: new Set([...(before ?? []), ...ids]) };
    setSelected((old) => new Set([...old].filter((id) => ids.includes(id))));
    const arrived = before ? ids.filter((id) => !before.has(id)) : [];
    if (!arrived.length) return;
    setFresh(new Set(arrived));
    const timer = window.setTimeout(() => setFresh(new Set()), 4000);
    return () => window.clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [items]);

  function update(changes: Partial<Record<(typeof FILTER_KEYS)[number] | "offset", string | null | undefined>>) {
    const next = new URLSearchParams(params);
    for (const [key, value] of Object.entries(changes)) {
      if (value) next.set(key, value);
      else next.delete(key);
    }
    if (!("offset" in changes)) next.delete("offset");
    setParams(next, { replace: true });
  }

  function applyView(view: SavedView) {
    const next = new URLSearchParams();
    for (const key of FILTER_KEYS) {
      const value = view.query[key];
      if (value !== undefined && value !== null && value !== "") next.set(key, String(value));
    }
    setParams(next, { replace: true });
  }

  async function saveView(name: string) {
    const body: InboxQuery = {};
    for (const key of FILTER_KEYS) {
      const value = query[key];
      if (value) (body as Record<string, unknown>)[key] = value;
    }
    const made = await api.post<SavedView>("/api/views", { name, query: body });
    setViews((old) => [...(old ?? []).filter((v) => v.id !== made.id), made].sort((a, b) => a.name.localeCompare(b.name)));
  }

  async function deleteView(view: SavedView) {
    if (!window.confirm(`Delete the view "${view.name}"?`)) return;
    try {
      await api.delete(`/api/views/${encodeURIComponent(view.id)}`);
      setViews((old) => (old ?? []).filter((v) => v.id !== view.id));
    } catch (e) {
      setError(errorText(e));
    }
  }

  async function claim(ids: string[]) {
    setError(null);
    setNote(null);
    let results: ClaimResult[];
    try {
      results = (await api.post<{ results: ClaimResult[] }>("/api/tasks/claim", { ids })).results;
    } catch (e) {
      if (!(e instanceof ApiError && (e.status === 404 || e.status === 405))) {
        setError(errorText(e));
        return;
      }
      results = [];
      for (const id of ids) {
        try {
          await api.post(`/api/tasks/${encodeURIComponent(id)}/claim`);
          results.push({ id, result: "claimed", code: "claimed", message: "" });
        } catch (one) {
          results.push({ id, result: "not_allowed", code: "error", message: errorText(one) });
        }
      }
    }
    const claimed = results.filter((r) => r.result === "claimed").length;
    const missed = results.filter((r) => r.result !== "claimed");
    setNote(claimed ? `You took ${claimed} task${claimed === 1 ? "" : "s"}.` : null);
    if (missed.length) {
      const byId = new Map((items ?? []).map((t) => [t.id, t.name]));
      setError(missed.map((r) => `${byId.get(r.id) ?? r.id}: ${r.message || r.result.replace("_", " ")}`).join(" · "));
    }
    setSelected(new Set());
    refresh();
  }

  const claimable = (items ?? []).filter((t) => !t.assignee);
  const selectedClaimable = claimable.filter((t) => selected.has(t.id)).map((t) => t.id);
  const allSelected = claimable.length > 0 && claimable.every((t) => selected.has(t.id));
  const toggle = (id: string) =>
    setSelected((old) => {
      const next = new Set(old);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const total = list.data?.total ?? 0;

  return (
    <div className="work-page inbox">
      <PageHeader title="Inbox">
        <FeedBadge mode={feed} />
        {list.data && (
          <span className="hint" aria-live="polite" data-testid="inbox-count">
            {total} {total === 1 ? "task" : "tasks"}
          </span>
        )}
      </PageHeader>

      <Filters
        query={query}
        workflows={workflows.data ?? []}
        onChange={update}
        views={views}
        onApplyView={applyView}
        onSaveView={saveView}
        onDeleteView={deleteView}
      />

      {note && (
        <div className="ok-note" role="status">
          {note}
        </div>
      )}
      <ErrorNote error={error ?? list.error} />

      {claimable.length > 0 && (
        <div className="bulk-bar" role="region" aria-label="Claim several tasks">
          <label className="check">
            <input type="checkbox" checked={allSelected} onChange={() => setSelected(allSelected ? new Set() : new Set(claimable.map((t) => t.id)))} />
            Select all open to claim
          </label>
          <button type="button" className="primary" disabled={selectedClaimable.length === 0} onClick={() => void claim(selectedClaimable)}>
            Claim {selectedClaimable.length || ""} selected
          </button>
        </div>
      )}

      {list.loading && !list.data ? (
        <Spinner />
      ) : !items || items.length === 0 ? (
        filtered(query) ? (
          <Empty title="No task matches these filters">
            <button type="button" className="link" onClick={() => setParams(new URLSearchParams(), { replace: true })}>
              Clear the filters
            </button>{" "}
            to see everything waiting for you.
          </Empty>
        ) : (
          <div className="inbox-empty" data-testid="inbox-empty">
            <Empty title="Nothing waiting for you">
              New tasks for you and your teams appear here as they arrive — no need to reload. Meanwhile, you can{" "}
              <Link to="/new">start a request</Link> or follow <Link to="/requests">your requests</Link>.
            </Empty>
          </div>
        )
      ) : phone ? (
        <ul className="task-cards" aria-label="Tasks">
          {items.map((t) => (
            <TaskCard key={t.id} task={t} now={now} me={me?.username} fresh={fresh.has(t.id)} selected={selected.has(t.id)} onToggle={toggle} onClaim={claim} />
          ))}
        </ul>
      ) : (
        <table className="task-table">
          <thead>
            <tr>
              <th scope="col" className="col-check">
                <span className="visually-hidden">Select</span>
              </th>
              <th scope="col">Task</th>
              <th scope="col">Stage</th>
              <th scope="col">Due</th>
              <th scope="col">Who</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((t) => (
              <TaskRow key={t.id} task={t} now={now} me={me?.username} fresh={fresh.has(t.id)} selected={selected.has(t.id)} onToggle={toggle} onClaim={claim} onOpen={() => navigate(`/tasks/${encodeURIComponent(t.id)}`)} />
            ))}
          </tbody>
        </table>
      )}
      <Pager offset={offset} limit={PAGE} total={total} onPage={(o) => update({ offset: o ? String(o) : null })} />
    </div>
  );
}

function FeedBadge({ mode }: { mode: FeedMode }) {
  const text = mode === "live" ? "Live" : mode === "polling" ? "Refreshes every 10 s" : "Connecting…";
  return (
    <span className={`feed feed-${mode}`} title={mode === "live" ? "New tasks appear as they arrive" : undefined}>
      <span className="feed-dot" aria-hidden="true" /> {text}
    </span>
  );
}

interface RowProps {
  task: InboxItem;
  now: number;
  me: string | undefined;
  fresh: boolean;
  selected: boolean;
  onToggle: (id: string) => void;
  onClaim: (ids: string[]) => void;
}

function subtitle(t: InboxItem): string {
  return [t.workflow_name ?? t.workflow_key, t.business_key].filter(Boolean).join(" · ");
}

function TaskRow({ task: t, now, me, fresh, selected, onToggle, onClaim, onOpen }: RowProps & { onOpen: () => void }) {
  const sla = slaOf(t, now);
  return (
    <tr className={`task-row sla-row-${sla ?? "none"}${fresh ? " fresh" : ""}`} data-task={t.id} data-node={t.node}>
      <td className="col-check">
        {!t.assignee && <input type="checkbox" aria-label={`Select ${t.name}`} checked={selected} onChange={() => onToggle(t.id)} />}
      </td>
      <td>
        <Link to={`/tasks/${encodeURIComponent(t.id)}`} className="task-name">
          {t.name || t.node}
        </Link>
        <div className="hint">{subtitle(t)}</div>
      </td>
      <td>{t.stage ?? <span className="hint">—</span>}</td>
      <td>
        <SlaBadge state={sla} due={t.due_at} now={now} />
      </td>
      <td>{holder(t, me)}</td>
      <td className="row-actions">
        {!t.assignee ? (
          <button type="button" onClick={() => onClaim([t.id])} aria-label={`Claim ${t.name}`}>
            Claim
          </button>
        ) : (
          <button type="button" onClick={onOpen} aria-label={`Open ${t.name}`}>
            Open
          </button>
        )}
      </td>
    </tr>
  );
}

function TaskCard({ task: t, now, me, fresh, selected, onToggle, onClaim }: RowProps) {
  const sla = slaOf(t, now);
  return (
    <li className={`task-card card sla-row-${sla ?? "none"}${fresh ? " fresh" : ""}`} data-task={t.id} data-node={t.node}>
      <div className="task-card-head">
        {!t.assignee && <input type="checkbox" aria-label={`Select ${t.name}`} checked={selected} onChange={() => onToggle(t.id)} />}
        <Link to={`/tasks/${encodeURIComponent(t.id)}`} className="task-name">
          {t.name || t.node}
        </Link>
      </div>
      <div className="hint">{subtitle(t)}</div>
      <div className="task-card-meta">
        <SlaBadge state={sla} due={t.due_at} now={now} />
        {t.stage && <span className="badge">{t.stage}</span>}
      </div>
      <div className="task-card-foot">
        <span className="hint">{holder(t, me)}</span>
        {!t.assignee && (
          <button type="button" onClick={() => onClaim([t.id])} aria-label={`Claim ${t.name}`}>
            Claim
          </button>
        )}
      </div>
    </li>
  );
}

interface FiltersProps {
  query: InboxQuery;
  workflows: WorkflowSummary[];
  onChange: (changes: Record<string, string | null | undefined>) => void;
  views: SavedView[] | null;
  onApplyView: (view: SavedView) => void;
  onSaveView: (name: string) => Promise<void>;
  onDeleteView: (view: SavedView) => void;
}

function Filters({ query, workflows, onChange, views, onApplyView, onSaveView, onDeleteView }: FiltersProps) {
  const [q, setQ] = useState(query.q ?? "");
  const [stage, setStage] = useState(query.stage ?? "");
  const [naming, setNaming] = useState(false);
  const [viewName, setViewName] = useState("");
  const [viewError, setViewError] = useState<string | null>(null);
  const [more, setMore] = useState(!!(query.due_before || query.due_after || query.stage));

  useEffect(() => setQ(query.q ?? ""), [query.q]);
  useEffect(() => setStage(query.stage ?? ""), [query.stage]);

  function search(event: FormEvent) {
    event.preventDefault();
    onChange({ q: q.trim() || null, stage: stage.trim() || null });
  }

  async function save(event: FormEvent) {
    event.preventDefault();
    if (!viewName.trim()) return;
    setViewError(null);
    try {
      await onSaveView(viewName.trim());
      setNaming(false);
      setViewName("");
    } catch (e) {
      setViewError(errorText(e));
    }
  }

  const activeView = views?.find((v) => FILTER_KEYS.every((k) => (v.query[k] ?? defaults[k]) === (query[k] ?? defaults[k])));

  return (
    <section className="filters card" aria-label="Filters">
      <div className="scope-tabs" role="group" aria-label="Show">
        {SCOPES.map((s) => (
          <button key={s.value} type="button" aria-pressed={(query.scope ?? "all") === s.value} onClick={() => onChange({ scope: s.value === "all" ? null : s.value })}>
            {s.label}
          </button>
        ))}
      </div>
      <form className="filter-row" onSubmit={search} role="search">
        <label className="grow">
          Search
          <input type="search" placeholder="Task, workflow or order number" value={q} onChange={(e) => setQ(e.target.value)} maxLength={200} />
        </label>
        <label>
          Workflow
          <select value={query.workflow ?? ""} onChange={(e) => onChange({ workflow: e.target.value || null })}>
            <option value="">All workflows</option>
            {workflows.map((w) => (
              <option key={w.key} value={w.key}>
                {w.name || w.key}
              </option>
            ))}
          </select>
        </label>
        <label>
          Due
          <select value={query.sla ?? ""} onChange={(e) => onChange({ sla: e.target.value || null })}>
            {SLAS.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Sort
          <select value={query.sort ?? "sla"} onChange={(e) => onChange({ sort: e.target.value === "sla" ? null : e.target.value })}>
            {SORTS.map((s) => (
              <option key={s.value} value={s.value}>
                {s.label}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Search</button>
        <button type="button" className="link" aria-expanded={more} onClick={() => setMore(!more)}>
          {more ? "Fewer filters" : "More filters"}
        </button>
      </form>
      {more && (
        <div className="filter-row">
          <form onSubmit={search} className="inline-form">
            <label>
              Stage
              <input value={stage} placeholder="e.g. Being prepared" onChange={(e) => setStage(e.target.value)} onBlur={() => stage.trim() !== (query.stage ?? "") && onChange({ stage: stage.trim() || null })} maxLength={200} />
            </label>
          </form>
          <label>
            Due from
            <input type="date" value={isoToDay(query.due_after, false)} onChange={(e) => onChange({ due_after: dayToIso(e.target.value, false) })} />
          </label>
          <label>
            Due by
            <input type="date" value={isoToDay(query.due_before, true)} onChange={(e) => onChange({ due_before: dayToIso(e.target.value, true) })} />
          </label>
          {(query.due_after || query.due_before) && (
            <span className="hint">
              {query.due_after ? `from ${formatTime(query.due_after)} ` : ""}
              {query.due_before ? `until ${formatTime(query.due_before)}` : ""}
            </span>
          )}
        </div>
      )}
      {views && (
        <div className="filter-row views">
          <span className="hint">Saved views:</span>
          {views.length === 0 && <span className="hint">none yet</span>}
          {views.map((v) => (
            <span key={v.id} className={`view-chip${activeView?.id === v.id ? " active" : ""}`}>
              <button type="button" className="link" onClick={() => onApplyView(v)} aria-pressed={activeView?.id === v.id}>
                {v.name}
              </button>
              <button type="button" className="link chip-x" aria-label={`Delete view ${v.name}`} onClick={() => onDeleteView(v)}>
                ×
              </button>
            </span>
          ))}
          {naming ? (
            <form onSubmit={save} className="inline-form">
              <input aria-label="Name of the view" placeholder="Name, e.g. Overdue picks" autoFocus value={viewName} onChange={(e) => setViewName(e.target.value)} maxLength={100} onKeyDown={(e) => e.key === "Escape" && setNaming(false)} />
              <button type="submit" disabled={!viewName.trim()}>
                Save
              </button>
              <button type="button" className="link" onClick={() => setNaming(false)}>
                Cancel
              </button>
            </form>
          ) : (
            <button type="button" className="link" onClick={() => setNaming(true)}>
              + Save these filters
            </button>
          )}
          <ErrorNote error={viewError} />
        </div>
      )}
    </section>
  );
}

const defaults: InboxQuery = { scope: "all", sort: "sla", workflow: null, stage: null, due_before: null, due_after: null, q: null, sla: null };
