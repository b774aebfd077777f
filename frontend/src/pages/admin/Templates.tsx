// The template gallery: what new workflows can start from.
import { useState, type FormEvent } from "react";
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
  shipped?: boolean;
  source_workflow?: string | null;
}

export default function Templates() {
  const navigate = useNavigate();
  const templates = useLoad(() => api.get<Template[]>("/api/templates"), []);
  const workflows = useLoad(() => api.get<WorkflowSummary[]>("/api/workflows"), []);
  const action = useAction();
  const [source, setSource] = useState("");
  const [name, setName] = useState("");

  function publish(event: FormEvent) {
    event.preventDefault();
    if (!source) return;
    void action.run(async () => {
      await api.post("/api/templates", { workflow: source, id: keyFrom(name || source), name: name || undefined });
      setName("");
      templates.reload();
    });
  }

  const remove = (t: Template) =>
    action.run(async () => {
      if (!window.confirm(`Take "${t.name}" out of the gallery? Workflows made from it stay.`)) return;
      await api.delete(`/api/templates/${encodeURIComponent(t.id)}`);
      templates.reload();
    });

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
            New workflows can start from these: the templates shipped in the installation's <code>templates/</code> folder, and workflows an admin published as templates below.
          </>
        }
      >
        <form className="card row" onSubmit={publish} aria-label="Publish a workflow as a template" style={{ marginBottom: "1rem", alignItems: "flex-end" }}>
          <label>
            Workflow
            <select value={source} onChange={(e) => setSource(e.target.value)} required>
              <option value="">Choose a workflow…</option>
              {(workflows.data ?? []).map((w) => (
                <option key={w.key} value={w.key}>
                  {w.name}
                </option>
              ))}
            </select>
          </label>
          <label style={{ flex: 1 }}>
            Template name
            <input value={name} onChange={(e) => setName(e.target.value)} placeholder="as the workflow is named" maxLength={200} />
          </label>
          <button type="submit" className="primary" disabled={action.busy || !source}>
            Publish as template
          </button>
        </form>
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
                  <span className="hint mono">{t.shipped === false ? `from ${t.source_workflow ?? "a workflow"}` : `${t.id}.json`}</span>
                  {inUse.has(t.id) && <span className="badge ok">in use</span>}
                </div>
                <div className="row">
                  <button type="button" disabled={action.busy} onClick={() => use(t)} aria-label={`New workflow from ${t.name}`}>
                    New workflow from it
                  </button>
                  {t.shipped === false && (
                    <button type="button" className="danger" disabled={action.busy} onClick={() => remove(t)} aria-label={`Remove ${t.name} from the gallery`}>
                      Remove
                    </button>
                  )}
                </div>
              </article>
            ))}
          </div>
        )}
      </Section>
    </div>
  );
}
