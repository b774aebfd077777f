// The report builder: a workflow, a measure, a grouping (a data field too), a chart; preview, save, share, pin.
import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";

import { api, errorText, type WorkflowOut, type WorkflowSummary } from "../../api";
import { useAuth } from "../../auth";
import { Empty, ErrorNote, PageHeader, Spinner } from "../../components/ui";
import { useLoad } from "../../components/useLoad";
import { describeQuery, GROUPS, groupAllowed, isoDay, keepSplit, MEASURES, PERIODS, savedSplit, type ChartKind, type Measure, type Period, type ReportQuery, type SavedReport } from "./reportData";
import { ReportView } from "./ReportView";

interface Role {
  name: string;
  description: string;
}

const FIELD = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const CHARTS: { value: ChartKind; label: string }[] = [
  { value: "bar", label: "Bars" },
  { value: "line", label: "Line" },
  { value: "table", label: "Table" },
];

interface Draft {
  name: string;
  workflow: string;
  measure: Measure;
  group: string;
  field: string;
  split: Period | "";
  chart: ChartKind;
  from: string;
  to: string;
  version: string;
  shared: string[];
  pinned: boolean;
}

const EMPTY: Draft = { name: "", workflow: "", measure: "count", group: "stage", field: "", split: "", chart: "bar", from: "", to: "", version: "", shared: [], pinned: false };

function toQuery(d: Draft): ReportQuery {
  const filters: ReportQuery["filters"] = {};
  if (d.version) filters.version = Number(d.version);
  if (d.from) filters.from = d.from;
  if (d.to) filters.to = d.to;
  return { workflow: d.workflow, measure: d.measure, group_by: d.group === "data" ? `data.${d.field.trim()}` : d.group, filters };
}

function fromSaved(r: SavedReport): Draft {
  const group = r.query.group_by.startsWith("data.") ? "data" : r.query.group_by;
  const split = savedSplit(r.id);
  return {
    name: r.name,
    workflow: r.query.workflow,
    measure: r.query.measure,
    group,
    field: group === "data" ? r.query.group_by.slice(5) : "",
    split: split ?? "",
    chart: (["bar", "line", "table"].includes(r.chart) ? r.chart : "bar") as ChartKind,
    from: r.query.filters?.from ?? "",
    to: r.query.filters?.to ?? "",
    version: r.query.filters?.version ? String(r.query.filters.version) : "",
    shared: r.shared_with,
    pinned: r.pinned,
  };
}

function SavedList({ reports, onChanged }: { reports: SavedReport[]; onChanged: () => void }) {
  const { hasRole } = useAuth();
  const [error, setError] = useState<string | null>(null);
  const act = async (work: () => Promise<unknown>) => {
    setError(null);
    try {
      await work();
      onChanged();
    } catch (e) {
      setError(errorText(e));
    }
  };
  if (!reports.length) return <Empty title="No saved reports">Build one above and save it; shared ones from your roles show here too.</Empty>;
  return (
    <>
      <ErrorNote error={error} />
      <div className="table-wrap">
        <table aria-label="Saved reports">
          <thead>
            <tr>
              <th>Name</th>
              <th>What</th>
              <th>Owner</th>
              <th>Shared with</th>
              <th>Dashboard</th>
              <th>
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {reports.map((r) => (
              <tr key={r.id} data-report={r.name}>
                <td>
                  <Link to={`/reports/builder/${encodeURIComponent(r.id)}`}>{r.name}</Link>
                </td>
                <td className="hint">{describeQuery(r.query, savedSplit(r.id))}</td>
                <td>{r.mine ? "me" : r.owner}</td>
                <td>
                  <div className="badges">{r.shared_with.length ? r.shared_with.map((s) => <span key={s} className="badge">{s}</span>) : <span className="hint">only the owner</span>}</div>
                </td>
                <td>
                  <button type="button" aria-pressed={r.pinned} onClick={() => void act(() => api.put(`/api/reports/saved/${encodeURIComponent(r.id)}`, { pinned: !r.pinned }))} aria-label={`${r.pinned ? "Unpin" : "Pin"} ${r.name}`}>
                    {r.pinned ? "Pinned ✓" : "Pin"}
                  </button>
                </td>
                <td className="actions">
                  {(r.mine || hasRole("admin")) && (
                    <button
                      type="button"
                      className="danger"
                      aria-label={`Delete ${r.name}`}
                      onClick={() =>
                        void act(async () => {
                          if (!window.confirm(`Delete the report "${r.name}"? People it is shared with lose it too.`)) return;
                          await api.delete(`/api/reports/saved/${encodeURIComponent(r.id)}`);
                          keepSplit(r.id, null);
                        })
                      }
                    >
                      Delete
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

export default function Builder() {
  const { id } = useParams();
  const navigate = useNavigate();
  const clock = useLoad(() => api.get<{ now: string }>("/api/clock"), []);
  const workflows = useLoad(() => api.get<WorkflowSummary[]>("/api/workflows"), []);
  const roles = useLoad(() => api.get<Role[]>("/api/admin/roles"), []);
  const saved = useLoad(() => api.get<SavedReport[]>("/api/reports/saved"), []);
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [preview, setPreview] = useState<{ query: ReportQuery; chart: ChartKind; split: Period | null; title: string } | null>(null);
  const [note, setNote] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const { hasRole } = useAuth();
  const editing = id ? saved.data?.find((r) => r.id === id) : undefined;
  const canChange = !editing || editing.mine || hasRole("admin");
  const published = (workflows.data ?? []).filter((w) => w.published_version);
  const detail = useLoad(() => (draft.workflow ? api.get<WorkflowOut>(`/api/workflows/${encodeURIComponent(draft.workflow)}`) : Promise.resolve(undefined)), [draft.workflow]);
  const fields = Object.keys(((detail.data?.draft as { data?: { properties?: Record<string, unknown> } } | undefined)?.data?.properties ?? {}) as Record<string, unknown>);

  const loaded = useRef<string | null>(null);
  useEffect(() => {
    if (editing && loaded.current !== editing.id) {
      loaded.current = editing.id;
      setDraft(fromSaved(editing));
      setPreview(null);
    }
  }, [editing]);
  useEffect(() => {
    if (!id && !draft.workflow && published.length) {
      setDraft((d) => ({ ...d, workflow: published.find((w) => w.key === "order-management")?.key ?? published[0]!.key }));
    }
  }, [id, draft.workflow, published]);

  if (!clock.data || !workflows.data) return clock.error || workflows.error ? <ErrorNote error={clock.error ?? workflows.error} /> : <Spinner />;
  const today = isoDay(new Date(clock.data.now));
  const set = <K extends keyof Draft>(key: K, value: Draft[K]) => setDraft((d) => ({ ...d, [key]: value }));
  const fieldOk = draft.group !== "data" || FIELD.test(draft.field.trim());
  const groupOk = groupAllowed(draft.measure, draft.group === "data" ? "data.x" : draft.group);
  const canRun = !!draft.workflow && fieldOk && groupOk;
  const splitUsable = draft.split && !PERIODS.has(draft.group) ? draft.split : null;
  const title = draft.name.trim() || "Preview";

  function run(event?: FormEvent) {
    if (event) {
      event.preventDefault();
      setNote(null);
    }
    if (!canRun) return;
    setPreview({ query: toQuery(draft), chart: draft.chart, split: splitUsable, title });
  }

  async function save(asNew: boolean) {
    setError(null);
    setNote(null);
    if (!draft.name.trim()) {
      setError("Give the report a name to save it.");
      return;
    }
    setBusy(true);
    try {
      const body = { name: draft.name.trim(), query: toQuery(draft), chart: draft.chart, shared_with: draft.shared, pinned: draft.pinned };
      const out = editing && !asNew ? await api.put<SavedReport>(`/api/reports/saved/${encodeURIComponent(editing.id)}`, body) : await api.post<SavedReport>("/api/reports/saved", body);
      keepSplit(out.id, splitUsable);
      loaded.current = out.id;
      setNote(`Saved “${out.name}”${out.shared_with.length ? `, shared with ${out.shared_with.join(", ")}` : ""}${out.pinned ? ", pinned to the dashboard" : ""}.`);
      saved.reload();
      if (!editing || asNew) navigate(`/reports/builder/${encodeURIComponent(out.id)}`, { replace: true });
      run();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div>
      <PageHeader title={editing ? `Report: ${editing.name}` : "Report builder"}>
        {editing && (
          <Link
            to="/reports/builder"
            onClick={() => {
              loaded.current = null;
              setDraft({ ...EMPTY, workflow: draft.workflow });
              setPreview(null);
            }}
          >
            New report
          </Link>
        )}
      </PageHeader>
      {id && saved.data && !editing && <ErrorNote error="This saved report does not exist, or is not shared with you." />}
      <form className="card builder-form" aria-label="Build a report" onSubmit={run}>
        <label>
          Workflow
          <select required value={draft.workflow} onChange={(e) => set("workflow", e.target.value)}>
            {published.map((w) => (
              <option key={w.key} value={w.key}>
                {w.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Measure
          <select
            value={draft.measure}
            onChange={(e) => {
              const measure = e.target.value as Measure;
              setDraft((d) => ({ ...d, measure, group: groupAllowed(measure, d.group === "data" ? "data.x" : d.group) ? d.group : measure === "cycle_time" ? "stage" : "step" }));
            }}
          >
            {MEASURES.map((m) => (
              <option key={m.value} value={m.value}>
                {m.label}
              </option>
            ))}
          </select>
        </label>
        <label>
          Group by
          <select value={draft.group} onChange={(e) => set("group", e.target.value)}>
            {GROUPS.map((g) => (
              <option key={g.value} value={g.value} disabled={!groupAllowed(draft.measure, g.value)}>
                {g.label}
              </option>
            ))}
            <option value="data">A data field…</option>
          </select>
        </label>
        {draft.group === "data" && (
          <label>
            Data field
            <input required value={draft.field} onChange={(e) => set("field", e.target.value)} list="data-fields" placeholder="e.g. warehouse" aria-invalid={!fieldOk} />
            <datalist id="data-fields">
              {fields.map((f) => (
                <option key={f} value={f} />
              ))}
            </datalist>
          </label>
        )}
        <label>
          Per period
          <select value={draft.split} onChange={(e) => set("split", e.target.value as Period | "")} disabled={PERIODS.has(draft.group)}>
            <option value="">— (one value per group)</option>
            <option value="day">per day</option>
            <option value="week">per week</option>
            <option value="month">per month</option>
          </select>
        </label>
        <fieldset className="chart-kind">
          <legend>Chart</legend>
          <div className="checks">
            {CHARTS.map((c) => (
              <label key={c.value} className="check">
                <input type="radio" name="chart" value={c.value} checked={draft.chart === c.value} onChange={() => set("chart", c.value)} />
                {c.label}
              </label>
            ))}
          </div>
        </fieldset>
        <label>
          From
          <input type="date" value={draft.from} max={draft.to || undefined} onChange={(e) => set("from", e.target.value)} />
        </label>
        <label>
          To
          <input type="date" value={draft.to} min={draft.from || undefined} onChange={(e) => set("to", e.target.value)} />
        </label>
        <label>
          Version
          <select value={draft.version} onChange={(e) => set("version", e.target.value)}>
            <option value="">All versions</option>
            {(detail.data?.versions ?? []).map((v) => (
              <option key={v} value={String(v)}>
                v{v}
              </option>
            ))}
          </select>
        </label>
        <p className="hint wide">
          {MEASURES.find((m) => m.value === draft.measure)?.label}: {MEASURES.find((m) => m.value === draft.measure)?.unit}. Empty dates mean all time
          {splitUsable ? `; split per ${splitUsable}, the last ${splitUsable === "week" ? "8 weeks" : splitUsable === "day" ? "14 days" : "12 months"} unless you give dates` : ""}.
          {!groupOk && " This measure cannot be grouped that way."}
        </p>
        <div className="wide row">
          <button type="submit" className="primary" disabled={!canRun}>
            Preview
          </button>
        </div>
      </form>

      {preview && (
        <section className="report-section" aria-label="Preview">
          <ReportView key={JSON.stringify(preview)} id="preview" title={preview.title} query={preview.query} chart={preview.chart} split={preview.split} today={today} />
        </section>
      )}

      <section className="card builder-save" aria-label="Save the report">
        <h2>Save</h2>
        <div className="builder-form">
          <label className="wide">
            Name
            <input value={draft.name} onChange={(e) => set("name", e.target.value)} maxLength={200} placeholder="e.g. Time in step by warehouse" />
          </label>
          <fieldset className="wide">
            <legend>Share with roles</legend>
            <div className="checks">
              {(roles.data ?? []).map((r) => (
                <label key={r.name} className="check" title={r.description}>
                  <input type="checkbox" checked={draft.shared.includes(r.name)} onChange={(e) => set("shared", e.target.checked ? [...draft.shared, r.name] : draft.shared.filter((s) => s !== r.name))} />
                  {r.name}
                </label>
              ))}
            </div>
          </fieldset>
          <label className="check wide">
            <input type="checkbox" checked={draft.pinned} onChange={(e) => set("pinned", e.target.checked)} />
            Pin to my dashboard
          </label>
        </div>
        {splitUsable && <p className="hint">The split per {splitUsable} is kept in this browser: the service stores one grouping per report, so people it is shared with see it by {draft.group === "data" ? draft.field : draft.group} only.</p>}
        <ErrorNote error={error} />
        {note && (
          <div className="ok-note" role="status">
            {note} <Link to="/reports">Open the dashboard</Link>
          </div>
        )}
        <div className="row">
          {canChange && (
            <button type="button" className="primary" disabled={busy || !canRun} onClick={() => void save(false)}>
              {editing ? "Save changes" : "Save report"}
            </button>
          )}
          {editing && (
            <button type="button" disabled={busy || !canRun} onClick={() => void save(true)}>
              Save as a new report
            </button>
          )}
        </div>
      </section>

      <section className="report-section" aria-label="Saved reports list">
        <h2>Saved reports</h2>
        <ErrorNote error={saved.error} />
        {saved.data ? <SavedList reports={saved.data} onChanged={saved.reload} /> : <Spinner />}
      </section>
    </div>
  );
}
