// Retention: how long each workflow's finished instances are kept, and a sweep on demand.
import { useState } from "react";

import { api } from "../../api";
import { Empty, ErrorNote, PageHeader, Spinner } from "../../components/ui";
import { useLoad } from "../../components/useLoad";
import { Section, useAction } from "./common";

interface Retention {
  workflow: string;
  days: number | null;
  action: "archive" | "purge";
}

interface Swept {
  removed: Record<string, number>;
  archived_to: string[];
}

function Row({ rule, onSaved }: { rule: Retention; onSaved: () => void }) {
  const [days, setDays] = useState(rule.days === null ? "" : String(rule.days));
  const [action, setAction] = useState(rule.action);
  const save = useAction();
  const changed = days !== (rule.days === null ? "" : String(rule.days)) || action !== rule.action;
  return (
    <tr>
      <td className="mono">{rule.workflow}</td>
      <td>
        <input type="number" min={1} max={36500} value={days} onChange={(e) => setDays(e.target.value)} placeholder="keep for ever" aria-label={`Days to keep finished ${rule.workflow} instances`} style={{ width: "9rem" }} />
      </td>
      <td>
        <select value={action} onChange={(e) => setAction(e.target.value as Retention["action"])} aria-label={`What happens to old ${rule.workflow} instances`}>
          <option value="archive">archive to a file, then remove</option>
          <option value="purge">remove</option>
        </select>
      </td>
      <td className="actions">
        <button
          type="button"
          className="primary"
          disabled={!changed || save.busy}
          onClick={async () => {
            if (await save.run(() => api.put(`/api/admin/retention/${encodeURIComponent(rule.workflow)}`, { days: days ? Number(days) : null, action }))) onSaved();
          }}
        >
          Save
        </button>
        {save.error && <div className="error-note">{save.error}</div>}
      </td>
    </tr>
  );
}

export default function RetentionPage() {
  const rules = useLoad(() => api.get<Retention[]>("/api/admin/retention"), []);
  const [swept, setSwept] = useState<Swept | null>(null);
  const sweep = useAction();
  const removed = swept ? Object.entries(swept.removed).filter(([, n]) => n > 0) : [];
  return (
    <div>
      <PageHeader title="Data retention">
        <button
          type="button"
          disabled={sweep.busy}
          onClick={() =>
            void sweep.run(async () => {
              if (!window.confirm("Apply every workflow's retention now? Finished instances past their time are archived or removed.")) return;
              setSwept(await api.post<Swept>("/api/admin/retention/sweep"));
            })
          }
        >
          Apply now
        </button>
      </PageHeader>
      <ErrorNote error={sweep.error ?? rules.error} />
      {swept && (
        <div className="ok-note" role="status">
          {removed.length ? `Removed ${removed.map(([k, n]) => `${n} ${k}`).join(", ")}.` : "Nothing was old enough to remove."}
          {swept.archived_to.length > 0 && ` Archived to ${swept.archived_to.join(", ")}.`}
        </div>
      )}
      <Section title="Per workflow" hint="Finished instances older than this are archived (written to a JSON Lines file in the data folder, then removed) or just removed, with their own history. Running instances are never touched. The service applies it every hour.">
        {rules.loading && !rules.data ? (
          <Spinner />
        ) : !rules.data?.length ? (
          <Empty title="No workflows">Retention is set per workflow.</Empty>
        ) : (
          <div className="table-wrap">
            <table aria-label="Retention">
              <thead>
                <tr>
                  <th>Workflow</th>
                  <th>Keep finished instances (days)</th>
                  <th>Then</th>
                  <th>
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rules.data.map((r) => (
                  <Row key={r.workflow} rule={r} onSaved={rules.reload} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
    </div>
  );
}
