// The template gallery: what new workflows can start from.
import { useNavigate } from "react-router-dom";

import { api, type WorkflowOut, type WorkflowSummary } from "../../api";
import { Empty, ErrorNote, PageHeader, Spinner } from "../../components/ui";
import { useLoad } from "../../components/useLoad";
import { Section, useAction } from "./common";

/** A workflow key from a name: "Purchase approval" → "purchase-approval". */
function keyFrom(name: string): string {
  return (
    name
      .toLowerCase()
      .normalize("NFKD")
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 60) || "workflow"
  );
}

interface Template {
  id: string;
  name: string;
  description: string;
}

export default function Templates() {
  const navigate = useNavigate();
  const templates = useLoad(() => api.get<Template[]>("/api/templates"), []);
  const workflows = useLoad(() => api.get<WorkflowSummary[]>("/api/workflows"), []);
  const action = useAction();

  const use = (t: Template) =>
    action.run(async () => {
      const taken = new Set((workflows.data ?? []).map((w) => w.key));
      let key = keyFrom(t.name);
      for (let n = 2; taken.has(key); n++) key = `${keyFrom(t.name)}-${n}`;
      const made = await api.post<WorkflowOut>(`/api/templates/${encodeURIComponent(t.id)}/use`, { key, name: t.name, description: t.description });
      navigate(`/designer/${encodeURIComponent(made.key)}`);
    });

  const list = templates.data ?? [];
  const inUse = new Set((workflows.data ?? []).map((w) => w.key));
  return (
    <div>
      <PageHeader title="Templates" />
      <ErrorNote error={action.error ?? templates.error} />
      <Section
        title="Gallery"
        hint={
          <>
            New workflows can start from these. The gallery is the set of JSON files in the installation's <code>templates/</code> folder (the workflow format, as the designer exports it); add a file there and restart to offer
            another. Publishing a workflow as a template from here is not offered: the service has no endpoint for it yet.
          </>
        }
      >
        {templates.loading && !templates.data ? (
          <Spinner />
        ) : list.length === 0 ? (
          <Empty title="No templates">The templates folder is empty.</Empty>
        ) : (
          <div className="grid" data-testid="admin-templates">
            {list.map((t) => (
              <article key={t.id} className="card calendar-card" aria-label={`Template ${t.name}`}>
                <h3>{t.name}</h3>
                <p className="muted">{t.description || "No description."}</p>
                <div className="row" style={{ marginTop: "auto" }}>
                  <span className="hint mono">{t.id}.json</span>
                  {inUse.has(t.id) && <span className="badge ok">in use</span>}
                </div>
                <div className="row">
                  <button type="button" disabled={action.busy} onClick={() => use(t)} aria-label={`New workflow from ${t.name}`}>
                    New workflow from it
                  </button>
                </div>
              </article>
            ))}
          </div>
        )}
      </Section>
    </div>
  );
}
