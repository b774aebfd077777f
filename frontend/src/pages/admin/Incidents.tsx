// Incidents: steps that failed and wait for an admin (an http call that kept failing, a bad expression).
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

interface InstanceDetail extends InstanceSummary {
  incidents: Incident[];
}

interface Row {
  instance: InstanceDetail;
  incident: Incident;
}

const PAGE = 200;
const MAX_PAGES = 10;

/** There is no list of incidents across instances in the API: read the running instances that
 * count open incidents, then each one's incidents. */
async function loadIncidents(): Promise<{ rows: Row[]; scanned: number; total: number }> {
  const withIncidents: InstanceSummary[] = [];
  let scanned = 0;
  let total = 0;
  for (let page = 0; page < MAX_PAGES; page++) {
    const batch = await api.get<Page<InstanceSummary>>("/api/instances", { status: "running", limit: PAGE, offset: page * PAGE, sort: "-updated_at" });
    total = batch.total;
    scanned += batch.items.length;
    withIncidents.push(...batch.items.filter((i) => i.open_incidents > 0));
    if (scanned >= batch.total || batch.items.length < PAGE) break;
  }
  const details = await Promise.all(withIncidents.map((i) => api.get<InstanceDetail>(`/api/instances/${encodeURIComponent(i.id)}`)));
  const rows = details.flatMap((instance) => instance.incidents.filter((x) => x.status === "open").map((incident) => ({ instance, incident })));
  rows.sort((a, b) => b.incident.created_at.localeCompare(a.incident.created_at));
  return { rows, scanned, total };
}

export default function Incidents() {
  const incidents = useLoad(loadIncidents, []);
  const [done, setDone] = useState<string | null>(null);
  const action = useAction();

  const retry = (row: Row) =>
    action.run(async () => {
      setDone(null);
      const after = await api.post<InstanceDetail>(`/api/instances/${encodeURIComponent(row.instance.id)}/incidents/${encodeURIComponent(row.incident.id)}/retry`);
      const again = after.incidents.filter((x) => x.status === "open").length;
      setDone(
        `Retried “${row.incident.node}” of ${row.instance.business_key ?? row.instance.id}: the instance is ${after.status}` +
          (after.stage ? ` at “${after.stage}”` : "") +
          (again ? `, with ${again} open incident(s) (a step that fails again raises a new one once its retries are spent).` : "."),
      );
      incidents.reload();
    });

  const rows = incidents.data?.rows ?? [];
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
        title="Open incidents"
        hint="An incident stops one path of an instance until someone acts. Fix the cause (the other system is back, the data is corrected on the instance page), then retry: the step runs again. Skipping a step is not offered: the service has no skip yet."
      >
        {incidents.loading && !incidents.data ? (
          <Spinner />
        ) : rows.length === 0 ? (
          <Empty title="No open incidents">Every running instance is moving. Failed steps show up here.</Empty>
        ) : (
          <div className="table-wrap">
            <table aria-label="Open incidents">
              <thead>
                <tr>
                  <th>Instance</th>
                  <th>Step</th>
                  <th>Problem</th>
                  <th>Since</th>
                  <th>
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.incident.id} data-instance={row.instance.id}>
                    <td>
                      <Link to={`/instances/${encodeURIComponent(row.instance.id)}`}>{row.instance.business_key ?? row.instance.id}</Link>
                      <div className="hint">
                        {row.instance.workflow_key} v{row.instance.workflow_version}
                        {row.instance.stage ? ` · ${row.instance.stage}` : ""}
                      </div>
                    </td>
                    <td className="mono">{row.incident.node}</td>
                    <td className="incident-message">
                      <span className="badge bad">{row.incident.code}</span> {row.incident.message}
                    </td>
                    <td className="hint">{formatTime(row.incident.created_at)}</td>
                    <td className="actions">
                      <button type="button" className="primary" disabled={action.busy} onClick={() => retry(row)} aria-label={`Retry ${row.incident.node} of ${row.instance.business_key ?? row.instance.id}`}>
                        Retry
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {incidents.data && incidents.data.scanned < incidents.data.total && (
          <p className="hint">
            Looked at the {incidents.data.scanned} most recently changed of {incidents.data.total} running instances.
          </p>
        )}
      </Section>
    </div>
  );
}
