// Incidents: steps that failed and wait for an admin (an http call that kept failing, a bad expression),
// from GET /api/incidents (across instances, newest first).
import { useState } from "react";
import { Link } from "react-router-dom";

import { api, type Page } from "../../api";
import { Empty, ErrorNote, formatTime, PageHeader, Spinner } from "../../components/ui";
import { useLoad } from "../../components/useLoad";
import { Section, useAction } from "./common";

interface InstanceSummary {
  id: string;
  workflow_key: string;
  workflow_version: number;
  status: string;
  stage: string | null;
  business_key: string | null;
  started_at: string;
  open_incidents: number;
}

interface Incident {
  id: string;
  engine_id: string;
  node: string;
  code: string;
  message: string;
  details: Record<string, unknown>;
  status: string;
  created_at: string;
}

/** One row of `GET /api/incidents`: the incident with the instance it stopped. */
interface IncidentRow extends Incident {
  instance: InstanceSummary;
}

interface InstanceDetail extends InstanceSummary {
  incidents: Incident[];
}

const PAGE = 200;
const STATUSES: [string, string][] = [
  ["open", "Open"],
  ["resolved", "Retried"],
  ["skipped", "Skipped"],
  ["closed", "Instance ended"],
  ["all", "All"],
];

export default function Incidents() {
  const [status, setStatus] = useState("open");
  const incidents = useLoad(() => api.get<Page<IncidentRow>>("/api/incidents", { status, limit: PAGE }), [status]);
  const [done, setDone] = useState<string | null>(null);
  const action = useAction();

  const name = (row: IncidentRow) => row.instance.business_key ?? row.instance.id;
  const act = (row: IncidentRow, verb: "retry" | "skip") =>
    action.run(async () => {
      setDone(null);
      if (verb === "skip" && !window.confirm(`Go on past “${row.node}” of ${name(row)} as if it had done its work? Its result stays unset.`)) return;
      const after = await api.post<InstanceDetail>(`/api/instances/${encodeURIComponent(row.instance.id)}/incidents/${encodeURIComponent(row.id)}/${verb}`);
      const again = after.incidents.filter((x) => x.status === "open").length;
      setDone(
        `${verb === "retry" ? "Retried" : "Skipped"} “${row.node}” of ${name(row)}: the instance is ${after.status}` +
          (after.stage ? ` at “${after.stage}”` : "") +
          (again ? `, with ${again} open incident(s) (a step that fails again raises a new one once its retries are spent).` : "."),
      );
      incidents.reload();
    });

  const rows = incidents.data?.items ?? [];
  const open = status === "open";
  return (
    <div>
      <PageHeader title="Incidents">
        <button type="button" onClick={incidents.reload} disabled={incidents.loading}>
          Refresh
        </button>
      </PageHeader>
      {done && (
        <div className="ok-note" role="status">
          {done}
        </div>
      )}
      <ErrorNote error={action.error ?? incidents.error} />
      <Section
        title={open ? "Open incidents" : "Incidents"}
        hint="An incident stops one path of an instance until someone acts. Fix the cause (the other system is back, the data is corrected on the instance page), then retry: the step runs again. Or skip it: the instance goes on past the step as if it had done its work (for a call whose effect was made by hand; not at a gateway, where the way on is not a guess to make)."
        actions={
          <label>
            Show{" "}
            <select value={status} onChange={(e) => setStatus(e.target.value)} aria-label="Which incidents">
              {STATUSES.map(([value, label]) => (
                <option key={value} value={value}>
                  {label}
                </option>
              ))}
            </select>
          </label>
        }
      >
        {incidents.loading && !incidents.data ? (
          <Spinner />
        ) : rows.length === 0 ? (
          <Empty title={open ? "No open incidents" : "No incidents"}>{open ? "Every running instance is moving. Failed steps show up here." : "None of this kind."}</Empty>
        ) : (
          <div className="table-wrap">
            <table aria-label={open ? "Open incidents" : "Incidents"}>
              <thead>
                <tr>
                  <th>Instance</th>
                  <th>Step</th>
                  <th>Problem</th>
                  <th>Since</th>
                  <th>{open ? <span className="sr-only">Actions</span> : "Status"}</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.id} data-instance={row.instance.id}>
                    <td>
                      <Link to={`/instances/${encodeURIComponent(row.instance.id)}`}>{name(row)}</Link>
                      <div className="hint">
                        {row.instance.workflow_key} v{row.instance.workflow_version}
                        {row.instance.stage ? ` · ${row.instance.stage}` : ""}
                      </div>
                    </td>
                    <td className="mono">{row.node}</td>
                    <td className="incident-message">
                      <span className="badge bad">{row.code}</span> {row.message}
                    </td>
                    <td className="hint">{formatTime(row.created_at)}</td>
                    {open ? (
                      <td className="actions">
                        <button type="button" className="primary" disabled={action.busy} onClick={() => act(row, "retry")} aria-label={`Retry ${row.node} of ${name(row)}`}>
                          Retry
                        </button>
                        <button type="button" disabled={action.busy} onClick={() => act(row, "skip")} aria-label={`Skip ${row.node} of ${name(row)}`}>
                          Skip
                        </button>
                      </td>
                    ) : (
                      <td>{row.instance.status === "running" ? row.status : `${row.status} · instance ${row.instance.status}`}</td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {incidents.data && incidents.data.total > rows.length && (
          <p className="hint">
            The newest {rows.length} of {incidents.data.total}.
          </p>
        )}
      </Section>
    </div>
  );
}
