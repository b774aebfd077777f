// Instances: find any instance I may see by workflow, stage, status, start date or a data value.
import { useEffect, useMemo, useState, type FormEvent } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";

import { api, type Page, type WorkflowSummary } from "../api";
import { Empty, ErrorNote, formatTime, PageHeader, Spinner } from "../components/ui";
import { useLoad } from "../components/useLoad";
import { useMediaQuery } from "./work/hooks";
import { Pager, StatusBadge } from "./work/parts";
import type { InstanceSummary } from "./work/types";
import "./work/work.css";

const PAGE = 25;
const KEYS = ["workflow", "stage", "status", "from", "to", "field", "value", "sort"] as const;
type Key = (typeof KEYS)[number];
const STATUSES = ["running", "completed", "cancelled", "failed"];

function startOfDay(day: string, next: boolean): string | undefined {
  if (!day) return undefined;
  const date = new Date(`${day}T00:00:00`);
  if (Number.isNaN(date.getTime())) return undefined;
  if (next) date.setDate(date.getDate() + 1);
  return date.toISOString();
}

export default function Instances() {
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const get = (k: Key) => params.get(k) ?? "";
  const offset = Math.max(0, Number(params.get("offset")) || 0);
  const search = useMemo(
    () => ({
      workflow: params.get("workflow"),
      stage: params.get("stage"),
      status: params.get("status"),
      started_after: startOfDay(params.get("from") ?? "", false),
      started_before: startOfDay(params.get("to") ?? "", true),
      field: params.get("field") && params.get("value") !== null ? params.get("field") : null,
      value: params.get("field") ? params.get("value") : null,
      sort: params.get("sort") || "-started_at",
    }),
    [params],
  );
  const list = useLoad(() => api.get<Page<InstanceSummary>>("/api/instances", { ...search, offset, limit: PAGE }), [search, offset]);
  const workflows = useLoad(() => api.get<WorkflowSummary[]>("/api/workflows"), []);
  const names = new Map((workflows.data ?? []).map((w) => [w.key, w.name || w.key]));
  const phone = useMediaQuery("(max-width: 640px)");

  const [draft, setDraft] = useState<Record<Key, string>>(() => Object.fromEntries(KEYS.map((k) => [k, get(k)])) as Record<Key, string>);
  useEffect(() => setDraft(Object.fromEntries(KEYS.map((k) => [k, params.get(k) ?? ""])) as Record<Key, string>), [params]);
  const edit = (k: Key) => (e: { target: { value: string } }) => setDraft((d) => ({ ...d, [k]: e.target.value }));

  function apply(event?: FormEvent, changes?: Partial<Record<Key, string>>) {
    event?.preventDefault();
    const values = { ...draft, ...changes };
    const next = new URLSearchParams();
    for (const k of KEYS) if (values[k].trim()) next.set(k, values[k].trim());
    setParams(next, { replace: true });
  }
  const searching = KEYS.some((k) => k !== "sort" && get(k));
  const items = list.data?.items ?? [];

  return (
    <div className="work-page instances">
      <PageHeader title="Instances">
        {list.data && <span className="hint">{list.data.total} found</span>}
      </PageHeader>
      <form className="filters card" onSubmit={apply} role="search" aria-label="Find instances">
        <div className="filter-row">
          <label>
            Workflow
            <select value={draft.workflow} onChange={(e) => apply(undefined, { workflow: e.target.value })}>
              <option value="">All workflows</option>
              {(workflows.data ?? []).filter((w) => w.published_version != null).map((w) => (
                <option key={w.key} value={w.key}>
                  {w.name || w.key}
                </option>
              ))}
            </select>
          </label>
          <label>
            Status
            <select value={draft.status} onChange={(e) => apply(undefined, { status: e.target.value })}>
              <option value="">Any</option>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s.charAt(0).toUpperCase() + s.slice(1)}
                </option>
              ))}
            </select>
          </label>
          <label>
            Stage
            <input value={draft.stage} onChange={edit("stage")} placeholder="e.g. Shipped" maxLength={200} />
          </label>
          <label>
            Started from
            <input type="date" value={draft.from} onChange={edit("from")} />
          </label>
          <label>
            to
            <input type="date" value={draft.to} onChange={edit("to")} />
          </label>
        </div>
        <div className="filter-row">
          <label>
            Data field
            <input value={draft.field} onChange={edit("field")} placeholder="e.g. order_id or customer.email" maxLength={300} />
          </label>
          <label>
            equals
            <input value={draft.value} onChange={edit("value")} placeholder="e.g. A-1001" maxLength={500} />
          </label>
          <label>
            Sort
            <select value={draft.sort || "-started_at"} onChange={(e) => apply(undefined, { sort: e.target.value })}>
              <option value="-started_at">Newest first</option>
              <option value="started_at">Oldest first</option>
              <option value="-updated_at">Recently changed</option>
              <option value="stage">Stage</option>
            </select>
          </label>
          <button type="submit" className="primary">
            Search
          </button>
          {searching && (
            <button type="button" className="link" onClick={() => setParams(new URLSearchParams(), { replace: true })}>
              Clear
            </button>
          )}
        </div>
      </form>
      <ErrorNote error={list.error} />
      {list.loading && !list.data ? (
        <Spinner />
      ) : items.length === 0 ? (
        <Empty title={searching ? "No instance matches" : "No instances yet"}>
          {searching ? "Try fewer filters, or another value." : "Instances appear here once someone starts a workflow."}
        </Empty>
      ) : phone ? (
        <ul className="task-cards" aria-label="Instances">
          {items.map((i) => (
            <li key={i.id} className="task-card card" data-instance={i.id}>
              <Link to={`/instances/${encodeURIComponent(i.id)}`} className="task-name">
                {names.get(i.workflow_key) ?? i.workflow_key}
                {i.business_key ? ` · ${i.business_key}` : ""}
              </Link>
              <div className="task-card-meta">
                <StatusBadge status={i.status} suspended={i.suspended} />
                {i.stage && <span className="badge">{i.stage}</span>}
                {i.open_incidents > 0 && <span className="badge bad">{i.open_incidents} incident(s)</span>}
              </div>
              <div className="hint">Started {formatTime(i.started_at)}</div>
            </li>
          ))}
        </ul>
      ) : (
        <table className="task-table clickable">
          <thead>
            <tr>
              <th scope="col">Instance</th>
              <th scope="col">Stage</th>
              <th scope="col">Status</th>
              <th scope="col">Started</th>
              <th scope="col">Last change</th>
            </tr>
          </thead>
          <tbody>
            {items.map((i) => (
              <tr key={i.id} data-instance={i.id} onClick={() => navigate(`/instances/${encodeURIComponent(i.id)}`)}>
                <td>
                  <Link to={`/instances/${encodeURIComponent(i.id)}`} className="task-name" onClick={(e) => e.stopPropagation()}>
                    {names.get(i.workflow_key) ?? i.workflow_key}
                  </Link>
                  <div className="hint">
                    {i.business_key ?? i.id.slice(0, 8)} · v{i.workflow_version}
                  </div>
                </td>
                <td>{i.stage ?? <span className="hint">—</span>}</td>
                <td>
                  <StatusBadge status={i.status} suspended={i.suspended} />{" "}
                  {i.open_incidents > 0 && <span className="badge bad">{i.open_incidents} incident(s)</span>}
                </td>
                <td>
                  {formatTime(i.started_at)}
                  {i.started_by && <div className="hint">by {i.started_by}</div>}
                </td>
                <td>{i.finished_at ? `Finished ${formatTime(i.finished_at)}` : formatTime(i.updated_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {list.data && (
        <Pager
          offset={offset}
          limit={PAGE}
          total={list.data.total}
          onPage={(o) => {
            const next = new URLSearchParams(params);
            if (o) next.set("offset", String(o));
            else next.delete("offset");
            setParams(next, { replace: true });
          }}
        />
      )}
    </div>
  );
}
