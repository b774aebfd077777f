// New request: the workflows I may start, each with its start form.
import { useEffect, useRef, useState } from "react";
import { useNavigate } from "react-router-dom";

import { api, ApiError, errorText } from "../api";
import { Empty, ErrorNote, PageHeader, Spinner } from "../components/ui";
import { useLoad } from "../components/useLoad";
import { SchemaForm } from "./work/SchemaForm";
import type { InstanceOut, Startable } from "./work/types";
import "./work/work.css";

const TRIGGER_NOTE: Record<string, string> = {
  api: "Usually started by another system",
  webhook: "Usually arrives from another system",
};

export default function NewRequest() {
  const navigate = useNavigate();
  const startable = useLoad(() => api.get<Startable[]>("/api/startable"), []);
  const [chosen, setChosen] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [formErrors, setFormErrors] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [filter, setFilter] = useState("");
  const [category, setCategory] = useState("");
  const formRef = useRef<HTMLElement>(null);

  const workflow = (startable.data ?? []).find((w) => w.key === chosen) ?? null;
  const categories = [...new Set((startable.data ?? []).map((w) => w.category ?? "").filter(Boolean))].sort((a, b) => a.localeCompare(b));
  const shown = (startable.data ?? []).filter(
    (w) => `${w.name} ${w.description}`.toLowerCase().includes(filter.toLowerCase()) && (!category || w.category === category),
  );

  useEffect(() => {
    // bring the form into sight only when it opened below the fold
    const box = formRef.current?.getBoundingClientRect();
    if (workflow && box && box.top > window.innerHeight - 160) formRef.current?.scrollIntoView({ block: "start" });
  }, [workflow]);

  async function start(data: Record<string, unknown>) {
    if (!workflow) return;
    setBusy(true);
    setError(null);
    setFormErrors([]);
    try {
      const made = await api.post<InstanceOut>(`/api/workflows/${encodeURIComponent(workflow.key)}/instances`, { data });
      navigate(`/requests?new=${encodeURIComponent(made.id)}`, { state: { started: workflow.name } });
    } catch (e) {
      if (e instanceof ApiError && e.code === "invalid_form" && Array.isArray(e.details)) setFormErrors(e.details.map(String));
      else setError(errorText(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="work-page new-request">
      <PageHeader title="New request">
        {categories.length > 1 && (
          <select aria-label="Category" value={category} onChange={(e) => setCategory(e.target.value)}>
            <option value="">All categories</option>
            {categories.map((c) => (
              <option key={c} value={c}>
                {c}
              </option>
            ))}
          </select>
        )}
        <input type="search" placeholder="Find a request type" aria-label="Find a request type" value={filter} onChange={(e) => setFilter(e.target.value)} />
      </PageHeader>
      <p className="muted lead">Choose what you need. Your request then shows in “My requests”, where you can follow it step by step.</p>
      <ErrorNote error={startable.error} />
      {startable.loading && !startable.data ? (
        <Spinner />
      ) : shown.length === 0 ? (
        <Empty title={filter || category ? "No request type matches" : "There is nothing you can start yet"}>
          {filter || category ? "Try another word or category." : "Ask an admin to publish a workflow you may start."}
        </Empty>
      ) : (
        <div className="grid startable-grid" data-testid="startable">
          {shown.map((w) => (
            <article key={w.key} className={`card startable-card${chosen === w.key ? " chosen" : ""}`} data-key={w.key}>
              {w.category && <span className="hint startable-category">{w.category}</span>}
              <h3>{w.name}</h3>
              {w.description && <p className="muted">{w.description}</p>}
              <div className="startable-foot">
                {TRIGGER_NOTE[w.trigger] && <span className="hint">{TRIGGER_NOTE[w.trigger]}</span>}
                <button
                  type="button"
                  className={chosen === w.key ? "" : "primary"}
                  aria-expanded={chosen === w.key}
                  aria-controls="start-form"
                  onClick={() => {
                    setChosen(chosen === w.key ? null : w.key);
                    setError(null);
                    setFormErrors([]);
                  }}
                >
                  {chosen === w.key ? "Close" : "Start"}
                  <span className="visually-hidden"> {w.name}</span>
                </button>
              </div>
            </article>
          ))}
        </div>
      )}

      {workflow && (
        <section id="start-form" ref={formRef} className="card start-form" aria-labelledby="start-form-title">
          <h2 id="start-form-title">{workflow.name}</h2>
          {workflow.description && <p className="muted">{workflow.description}</p>}
          <ErrorNote error={error} />
          <SchemaForm
            key={workflow.key}
            schema={workflow.form ?? workflow.data_schema}
            idPrefix={`start-${workflow.key}`}
            disabled={busy}
            onSubmit={(data) => void start(data)}
            serverErrors={formErrors}
          >
            <div className="form-actions">
              <button type="submit" className="primary" disabled={busy}>
                {busy ? "Sending…" : "Send request"}
              </button>
              <button type="button" onClick={() => setChosen(null)}>
                Cancel
              </button>
            </div>
          </SchemaForm>
        </section>
      )}
    </div>
  );
}
