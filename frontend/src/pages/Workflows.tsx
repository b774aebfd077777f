import { useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router-dom";

import { api, errorText, type WorkflowOut, type WorkflowSummary } from "../api";
import { useAuth } from "../auth";
import { Empty, ErrorNote, formatTime, PageHeader, Spinner } from "../components/ui";
import { useLoad } from "../components/useLoad";

interface Template {
  id: string;
  name: string;
  description: string;
  category?: string;
}

const OTHER = "Other";

/** The gallery's categories in order: named ones alphabetically, then templates without one. */
export function categoriesOf(templates: Template[]): string[] {
  const named = [...new Set(templates.map((t) => t.category?.trim() || OTHER))].filter((c) => c !== OTHER).sort((a, b) => a.localeCompare(b));
  return templates.some((t) => !t.category?.trim()) ? [...named, OTHER] : named;
}

/** A key from a name: "Purchase approval" → "purchase-approval". */
export function keyFrom(name: string): string {
  return (
    name
      .toLowerCase()
      .normalize("NFKD")
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-+|-+$/g, "")
      .slice(0, 60) || "workflow"
  );
}

function uniqueKey(base: string, taken: Set<string>): string {
  let key = base;
  for (let n = 2; taken.has(key); n++) key = `${base}-${n}`;
  return key;
}

export default function Workflows() {
  const navigate = useNavigate();
  const { hasRole } = useAuth();
  const [showArchived, setShowArchived] = useState(false);
  const workflows = useLoad(() => api.get<WorkflowSummary[]>("/api/workflows", showArchived ? { archived: true } : undefined), [showArchived]);
  const templates = useLoad(() => api.get<Template[]>("/api/templates"), []);
  const [name, setName] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [filter, setFilter] = useState("");
  const [category, setCategory] = useState<string | null>(null);
  const taken = new Set((workflows.data ?? []).map((w) => w.key));
  const designer = hasRole("admin", "designer");
  const admin = hasRole("admin");

  async function act(work: () => Promise<void>) {
    setError(null);
    try {
      await work();
    } catch (e) {
      setError(errorText(e));
    }
  }

  function create(event: FormEvent) {
    event.preventDefault();
    const trimmed = name.trim();
    if (!trimmed) return;
    void act(async () => {
      const made = await api.post<WorkflowOut>("/api/workflows", { key: uniqueKey(keyFrom(trimmed), taken), name: trimmed });
      navigate(`/designer/${made.key}`);
    });
  }

  const useTemplate = (template: Template) =>
    act(async () => {
      const made = await api.post<WorkflowOut>(`/api/templates/${encodeURIComponent(template.id)}/use`, {
        key: uniqueKey(keyFrom(template.name), taken),
        name: template.name,
        description: template.description,
      });
      navigate(`/designer/${made.key}`);
    });

  const duplicate = (w: WorkflowSummary) =>
    act(async () => {
      const full = await api.get<WorkflowOut>(`/api/workflows/${encodeURIComponent(w.key)}`);
      const key = uniqueKey(`${w.key}-copy`, taken);
      await api.post<WorkflowOut>("/api/workflows", { key, name: `${w.name} (copy)`, description: w.description, draft: { ...full.draft, name: `${w.name} (copy)` } });
      workflows.reload();
    });

  const rename = (w: WorkflowSummary) =>
    act(async () => {
      const next = window.prompt("New name", w.name);
      if (!next || next.trim() === w.name) return;
      await api.patch(`/api/workflows/${encodeURIComponent(w.key)}`, { name: next.trim() });
      workflows.reload();
    });

  const remove = (w: WorkflowSummary) =>
    act(async () => {
      if (!window.confirm(`Delete the draft "${w.name}"? This cannot be undone.`)) return;
      await api.delete(`/api/workflows/${encodeURIComponent(w.key)}`);
      workflows.reload();
    });

  const archive = (w: WorkflowSummary) =>
    act(async () => {
      if (!window.confirm(`Archive "${w.name}"? Nobody can start it any more (API, webhook, schedule, request form); its running instances go on to their end. You can restore it.`)) return;
      await api.post(`/api/workflows/${encodeURIComponent(w.key)}/archive`);
      workflows.reload();
    });

  const restore = (w: WorkflowSummary) =>
    act(async () => {
      await api.post(`/api/workflows/${encodeURIComponent(w.key)}/restore`);
      workflows.reload();
    });

  const shown = (workflows.data ?? []).filter((w) => `${w.name} ${w.key}`.toLowerCase().includes(filter.toLowerCase()));

  return (
    <div>
      <PageHeader title="Workflows">
        <input type="search" placeholder="Filter workflows" aria-label="Filter workflows" value={filter} onChange={(e) => setFilter(e.target.value)} />
        {designer && (
          <label className="check">
            <input type="checkbox" checked={showArchived} onChange={(e) => setShowArchived(e.target.checked)} />
            Show archived
          </label>
        )}
      </PageHeader>
      <ErrorNote error={error ?? workflows.error} />
      {designer && (
        <form className="card row" onSubmit={create} aria-label="Create a workflow" style={{ marginBottom: "1rem" }}>
          <label style={{ flex: 1 }}>
            New workflow
            <input placeholder="Name, e.g. Purchase approval" value={name} onChange={(e) => setName(e.target.value)} maxLength={200} />
          </label>
          <button type="submit" className="primary" disabled={!name.trim()} style={{ alignSelf: "flex-end" }}>
            Create
          </button>
        </form>
      )}
      {workflows.loading && !workflows.data ? (
        <Spinner />
      ) : shown.length === 0 ? (
        showArchived ? (
          <Empty title={filter ? "No archived workflow matches" : "No archived workflows"}>Workflows taken out of use show up here, to restore.</Empty>
        ) : (
          <Empty title={filter ? "No workflow matches" : "No workflows yet"}>Create one above, or start from a template below.</Empty>
        )
      ) : (
        <div className="grid" data-testid="workflow-list">
          {shown.map((w) => (
            <article key={w.key} className="card workflow-card" data-key={w.key}>
              <h3>{w.archived ? w.name : <Link to={`/designer/${encodeURIComponent(w.key)}`}>{w.name}</Link>}</h3>
              <div className="row">
                {w.archived ? <span className="badge">Archived</span> : w.published_version ? <span className="badge ok">Published v{w.published_version}</span> : <span className="badge">Draft only</span>}
                <span className="hint">
                  edited {formatTime(w.updated_at)}
                  {w.updated_by ? ` by ${w.updated_by}` : ""}
                </span>
              </div>
              {w.description && <p className="muted">{w.description}</p>}
              {w.archived ? (
                admin && (
                  <div className="actions">
                    <button type="button" className="link" onClick={() => restore(w)}>
                      Restore
                    </button>
                  </div>
                )
              ) : designer && (
                <div className="actions">
                  <Link to={`/designer/${encodeURIComponent(w.key)}`}>Open</Link>
                  <button type="button" className="link" onClick={() => rename(w)}>
                    Rename
                  </button>
                  <button type="button" className="link" onClick={() => duplicate(w)}>
                    Duplicate
                  </button>
                  {!w.published_version && (
                    <button type="button" className="link danger" onClick={() => remove(w)}>
                      Delete draft
                    </button>
                  )}
                  {admin && w.published_version && (
                    <button type="button" className="link danger" onClick={() => archive(w)}>
                      Archive
                    </button>
                  )}
                </div>
              )}
            </article>
          ))}
        </div>
      )}
      <h2>Template gallery</h2>
      <ErrorNote error={templates.error} />
      {(() => {
        const all = templates.data ?? [];
        const categories = categoriesOf(all);
        const shownCategories = category && categories.includes(category) ? [category] : categories;
        return (
          <>
            {categories.length > 1 && (
              <div className="row" role="group" aria-label="Template categories" style={{ marginBottom: "0.75rem" }}>
                <button type="button" className={category === null ? "primary" : ""} aria-pressed={category === null} onClick={() => setCategory(null)}>
                  All
                </button>
                {categories.map((c) => (
                  <button key={c} type="button" className={category === c ? "primary" : ""} aria-pressed={category === c} onClick={() => setCategory(c)}>
                    {c}
                  </button>
                ))}
              </div>
            )}
            <div data-testid="template-gallery">
              {shownCategories.map((c) => (
                <section key={c} aria-label={c} data-category={c}>
                  {categories.length > 1 && <h3 className="muted">{c}</h3>}
                  <div className="grid">
                    {all
                      .filter((t) => (t.category?.trim() || OTHER) === c)
                      .map((t) => (
                        <article key={t.id} className="card workflow-card">
                          <h3>{t.name}</h3>
                          <p className="muted">{t.description}</p>
                          {designer && (
                            <div className="actions">
                              <button type="button" onClick={() => useTemplate(t)}>
                                Use this template
                              </button>
                            </div>
                          )}
                        </article>
                      ))}
                  </div>
                </section>
              ))}
            </div>
          </>
        );
      })()}
    </div>
  );
}
