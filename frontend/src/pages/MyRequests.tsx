// My requests: the instances I started, newest first, with where each one is now.
import { Link, useLocation, useNavigate, useSearchParams } from "react-router-dom";

import { api } from "../api";
import { Empty, ErrorNote, formatTime, PageHeader, Spinner } from "../components/ui";
import { useLoad } from "../components/useLoad";
import { useMediaQuery } from "./work/hooks";
import { Pager, StatusBadge } from "./work/parts";
import type { Page } from "../api";
import type { RequestOut } from "./work/types";
import "./work/work.css";

const PAGE = 25;
const STATUSES = ["", "running", "completed", "cancelled", "failed"];

export default function MyRequests() {
  const navigate = useNavigate();
  const location = useLocation();
  const [params, setParams] = useSearchParams();
  const fresh = params.get("new");
  const status = params.get("status") ?? "";
  const offset = Math.max(0, Number(params.get("offset")) || 0);
  const list = useLoad(() => api.get<Page<RequestOut>>("/api/requests", { status, offset, limit: PAGE }), [status, offset]);
  const phone = useMediaQuery("(max-width: 640px)");
  const started = (location.state as { started?: string } | null)?.started;

  const set = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    if (key !== "offset") next.delete("offset");
    setParams(next, { replace: true });
  };
  const open = (id: string) => navigate(`/instances/${encodeURIComponent(id)}`);
  const items = list.data?.items ?? [];

  return (
    <div className="work-page my-requests">
      <PageHeader title="My requests">
        <label className="inline-label">
          Status
          <select value={status} onChange={(e) => set("status", e.target.value)}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s ? s.charAt(0).toUpperCase() + s.slice(1) : "All"}
              </option>
            ))}
          </select>
        </label>
        <Link to="/new" className="button-link primary">
          New request
        </Link>
      </PageHeader>
      {fresh && started && (
        <div className="ok-note" role="status">
          Your request “{started}” has started. It is highlighted below; open it to follow each step.
        </div>
      )}
      <ErrorNote error={list.error} />
      {list.loading && !list.data ? (
        <Spinner />
      ) : items.length === 0 ? (
        <Empty title={status ? "No request with this status" : "You have not started any request yet"}>
          <Link to="/new">Start a request</Link> — it will show here with its progress.
        </Empty>
      ) : phone ? (
        <ul className="task-cards" aria-label="My requests">
          {items.map((r) => (
            <li key={r.id} className={`task-card card${r.id === fresh ? " highlight" : ""}`} data-instance={r.id}>
              <Link to={`/instances/${encodeURIComponent(r.id)}`} className="task-name">
                {r.workflow_name}
              </Link>
              {r.business_key && <div className="hint">{r.business_key}</div>}
              <div className="task-card-meta">
                <StatusBadge status={r.status} />
                {r.stage && <span className="badge">{r.stage}</span>}
                {r.id === fresh && <span className="badge brand">Just started</span>}
              </div>
              <div className="hint">Started {formatTime(r.started_at)}</div>
            </li>
          ))}
        </ul>
      ) : (
        <table className="task-table clickable">
          <thead>
            <tr>
              <th scope="col">Request</th>
              <th scope="col">Stage</th>
              <th scope="col">Status</th>
              <th scope="col">Started</th>
              <th scope="col">Last change</th>
            </tr>
          </thead>
          <tbody>
            {items.map((r) => (
              <tr key={r.id} className={r.id === fresh ? "highlight" : undefined} data-instance={r.id} onClick={() => open(r.id)}>
                <td>
                  <Link to={`/instances/${encodeURIComponent(r.id)}`} className="task-name" onClick={(e) => e.stopPropagation()}>
                    {r.workflow_name}
                  </Link>
                  {r.business_key && <div className="hint">{r.business_key}</div>}
                  {r.id === fresh && <span className="badge brand">Just started</span>}
                </td>
                <td>{r.stage ?? <span className="hint">—</span>}</td>
                <td>
                  <StatusBadge status={r.status} />
                </td>
                <td>{formatTime(r.started_at)}</td>
                <td>{r.finished_at ? `Finished ${formatTime(r.finished_at)}` : formatTime(r.updated_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {list.data && <Pager offset={offset} limit={PAGE} total={list.data.total} onPage={(o) => set("offset", o ? String(o) : "")} />}
    </div>
  );
}
