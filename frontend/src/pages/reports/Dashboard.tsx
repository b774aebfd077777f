// The reports dashboard: filters, the standard charts, the step-time heat overlay, and pinned reports.
import { Link, useSearchParams } from "react-router-dom";

import { api, withQuery, type WorkflowOut, type WorkflowSummary } from "../../api";
import { Empty, ErrorNote, PageHeader, Spinner } from "../../components/ui";
import { useLoad } from "../../components/useLoad";
import { BarChart, ChartCard, countTicks, duration, Funnel, Histogram, percent, TimeChart, type Bin } from "./charts";
import { HeatDiagram, type Definition, type StepTime } from "./HeatDiagram";
import { addDays, isoDay, savedSplit, type ChartKind, type Period, type ReportOut, type SavedReport } from "./reportData";
import { ReportView } from "./ReportView";

type Params = Record<string, string | undefined>;

function csvHref(path: string, params: Params): string {
  return withQuery(`/api/reports/${path}`, { ...params, format: "csv" });
}

function useReport(path: string, params: Params, enabled = true) {
  const key = JSON.stringify(params);
  return useLoad(() => (enabled ? api.get<ReportOut>(`/api/reports/${path}`, params) : Promise.resolve(null)), [path, key, enabled]);
}

function num(value: unknown): number {
  return typeof value === "number" ? value : 0;
}

function text(value: unknown): string {
  return value === null || value === undefined || value === "" ? "(none)" : String(value);
}

function shortDay(day: string): string {
  const date = new Date(`${day}T00:00:00Z`);
  return Number.isNaN(date.getTime()) ? day : date.toLocaleDateString(undefined, { day: "numeric", month: "short", timeZone: "UTC" });
}

/** A card that loads, fails or has nothing, with one wording everywhere. */
function Loading({ title, error }: { title: string; error: string | null }) {
  return (
    <div className="card chart-card">
      <h3>{title}</h3>
      {error ? <ErrorNote error={error} /> : <Spinner />}
    </div>
  );
}

function Throughput({ params, period }: { params: Params; period: Period }) {
  const all = { ...params, period };
  const report = useReport("throughput", all);
  const title = "Instances started and finished";
  if (!report.data || report.error) return <Loading title={title} error={report.error} />;
  const rows = report.data.rows;
  const kinds = report.data.columns.filter((c) => c !== "period" && (c === "started" || c === "completed" || rows.some((r) => num(r[c]) > 0)));
  const started = rows.reduce((n, r) => n + num(r.started), 0);
  const completed = rows.reduce((n, r) => n + num(r.completed), 0);
  return (
    <ChartCard
      id="throughput"
      title={title}
      summary={`${started} started, ${completed} completed, per ${period}`}
      csv={csvHref("throughput", all)}
      table={{ columns: report.data.columns, rows: rows.map((r) => report.data!.columns.map((c) => (c === "period" ? text(r[c]) : num(r[c])))) }}
    >
      {rows.length === 0 ? (
        <p className="hint chart-empty">No instances in this range.</p>
      ) : (
        <TimeChart labels={rows.map((r) => (period === "month" ? text(r.period).slice(0, 7) : shortDay(text(r.period))))} series={kinds.map((k) => ({ name: k, values: rows.map((r) => num(r[k])) }))} kind={rows.length > 45 ? "line" : "bar"} label={title} ticks={countTicks} />
      )}
    </ChartCard>
  );
}

function CycleTime({ params }: { params: Params }) {
  const report = useReport("cycle-time", params);
  const title = "Cycle time";
  if (!report.data || report.error) return <Loading title={title} error={report.error} />;
  const s = report.data.summary ?? {};
  const bins: Bin[] = report.data.rows.map((r) => ({ label: text(r.bucket), from: num(r.from_s), to: typeof r.to_s === "number" ? r.to_s : null, count: num(r.instances) }));
  const count = num(s.instances);
  const markers = [
    { name: "p50", value: num(s.p50_s) },
    { name: "p90", value: num(s.p90_s) },
  ];
  return (
    <ChartCard
      id="cycle-time"
      title={title}
      summary={count ? `${count} finished · average ${duration(num(s.avg_s))} · p50 ${duration(num(s.p50_s))} · p90 ${duration(num(s.p90_s))}` : "No instance finished in this range."}
      csv={csvHref("cycle-time", params)}
      table={{ columns: report.data.columns, rows: report.data.rows.map((r) => [text(r.bucket), num(r.from_s), typeof r.to_s === "number" ? r.to_s : "", num(r.instances)]) }}
    >
      {count ? <Histogram bins={bins} markers={markers} label="Cycle time distribution, start to end" /> : <p className="hint chart-empty">The histogram fills in as instances finish.</p>}
    </ChartCard>
  );
}

function StepHeat({ params, workflow, version }: { params: Params; workflow: WorkflowOut | undefined; version: string }) {
  const report = useReport("steps", params, !!params.workflow);
  const number = version ? Number(version) : workflow?.published_version;
  const definition = useLoad(
    () => (workflow && number ? api.get<{ definition: Definition }>(`/api/workflows/${encodeURIComponent(workflow.key)}/versions/${number}`).then((v) => v.definition) : Promise.resolve(null)),
    [workflow?.key, number],
  );
  const title = "Time per step";
  if (!params.workflow) {
    return (
      <div className="card chart-card wide">
        <h3>{title}</h3>
        <Empty title="Choose a workflow">The diagram shows one workflow's steps, coloured by how long their tasks took.</Empty>
      </div>
    );
  }
  if (!report.data || report.error || definition.loading) return <Loading title={title} error={report.error ?? definition.error} />;
  const times: StepTime[] = report.data.rows.map((r) => ({ step: text(r.step), name: text(r.name), tasks: num(r.tasks), avg_s: typeof r.avg_s === "number" ? r.avg_s : null, p50_s: typeof r.p50_s === "number" ? r.p50_s : null, p90_s: typeof r.p90_s === "number" ? r.p90_s : null }));
  const rows = report.data.rows.map((r) => report.data!.columns.map((c) => (typeof r[c] === "number" ? (r[c] as number) : text(r[c]))));
  const display = times.map((t) => [params.workflow ?? "", t.step, t.name, t.tasks, duration(t.avg_s ?? 0), duration(t.p50_s ?? 0), duration(t.p90_s ?? 0)]);
  return (
    <ChartCard id="step-heat" title={title} summary={`Average time from task created to completed, on ${workflow?.name ?? params.workflow}${number ? ` v${number}` : ""}`} csv={csvHref("steps", params)} table={{ columns: report.data.columns, rows, display }}>
      {definition.data ? <HeatDiagram definition={definition.data} times={times} label={`Time per step on ${workflow?.name ?? params.workflow}`} /> : <p className="hint chart-empty">This workflow is not published yet.</p>}
    </ChartCard>
  );
}

function SlaBars({ params, by }: { params: Params; by: "step" | "person" }) {
  const all = { ...params, by };
  const report = useReport("sla", all);
  const title = `SLA breaches per ${by}`;
  if (!report.data || report.error) return <Loading title={title} error={report.error} />;
  const rows = report.data.rows;
  const data = rows.map((r) => ({ label: by === "step" ? text(r.name) : text(r.person), value: num(r.rate), note: `${percent(num(r.rate))} (${num(r.breached)} of ${num(r.with_due)})` }));
  const late = rows.reduce((n, r) => n + num(r.breached), 0);
  const due = rows.reduce((n, r) => n + num(r.with_due), 0);
  return (
    <ChartCard
      id={`sla-${by}`}
      title={title}
      summary={due ? `${late} of ${due} tasks with a due time were completed late` : "No completed task had a due time in this range."}
      csv={csvHref("sla", all)}
      table={{ columns: report.data.columns, rows: rows.map((r) => report.data!.columns.map((c) => (typeof r[c] === "number" ? (r[c] as number) : text(r[c])))) }}
    >
      {data.length ? <BarChart data={data} format={percent} max={1} label={`${title}: share of tasks completed after their due time`} colour="#dc2626" /> : <p className="hint chart-empty">Nothing to show yet.</p>}
    </ChartCard>
  );
}

function OpenWork({ params, by }: { params: Params; by: "person" | "role" }) {
  const all = { workflow: params.workflow, version: params.version, by };
  const report = useReport("open-work", all);
  const title = `Open work per ${by}`;
  if (!report.data || report.error) return <Loading title={title} error={report.error} />;
  const rows = report.data.rows;
  const data = rows.map((r) => ({ label: text(r[by]), value: num(r.open), note: `${num(r.open)} open${num(r.overdue) ? `, ${num(r.overdue)} overdue` : ""}${by === "role" && num(r.unassigned) ? `, ${num(r.unassigned)} unclaimed` : ""}` }));
  return (
    <ChartCard
      id={`open-${by}`}
      title={title}
      summary="Open tasks now (the date range does not apply)"
      csv={csvHref("open-work", all)}
      table={{ columns: report.data.columns, rows: rows.map((r) => report.data!.columns.map((c) => (typeof r[c] === "number" ? (r[c] as number) : text(r[c])))) }}
    >
      {data.length ? <BarChart data={data} label={`${title}: open tasks`} colour="#0d9488" ticks={countTicks} /> : <p className="hint chart-empty">No open tasks.</p>}
    </ChartCard>
  );
}

function StageFunnel({ params, name }: { params: Params; name: string }) {
  const report = useReport("funnel", params, !!params.workflow);
  const title = "Stage funnel";
  if (!params.workflow) {
    return (
      <div className="card chart-card">
        <h3>{title}</h3>
        <Empty title="Choose a workflow">The funnel follows one workflow's stages.</Empty>
      </div>
    );
  }
  if (!report.data || report.error) return <Loading title={title} error={report.error} />;
  const started = num(report.data.summary?.started);
  const rows = report.data.rows;
  return (
    <ChartCard
      id="funnel"
      title={title}
      summary={`${started} ${name} instance(s) started in the range; how many reached each stage`}
      csv={csvHref("funnel", params)}
      table={{ columns: report.data.columns, rows: rows.map((r) => [text(r.stage), num(r.instances), typeof r.share === "number" ? r.share : ""]), display: rows.map((r) => [text(r.stage), num(r.instances), typeof r.share === "number" ? percent(r.share) : "—"]) }}
    >
      {started ? <Funnel stages={rows.map((r) => ({ label: text(r.stage), value: num(r.instances) }))} label={`${title} of ${name}`} /> : <p className="hint chart-empty">No instance started in this range.</p>}
    </ChartCard>
  );
}

function Pinned({ today }: { today: string }) {
  const saved = useLoad(() => api.get<SavedReport[]>("/api/reports/saved", { pinned: true }), []);
  if (saved.error) return <ErrorNote error={saved.error} />;
  if (!saved.data?.length) return null;
  const unpin = async (report: SavedReport) => {
    await api.put(`/api/reports/saved/${encodeURIComponent(report.id)}`, { pinned: false });
    saved.reload();
  };
  return (
    <section aria-label="Pinned reports" className="report-section">
      <h2>Pinned reports</h2>
      <div className="chart-grid">
        {saved.data.map((r) => (
          <ReportView
            key={r.id}
            id={`pinned-${r.id}`}
            title={r.name}
            query={r.query}
            chart={(["bar", "line", "table"].includes(r.chart) ? r.chart : "bar") as ChartKind}
            split={savedSplit(r.id)}
            today={today}
            actions={
              <>
                <Link to={`/reports/builder/${encodeURIComponent(r.id)}`}>Open</Link>
                <button type="button" className="link" onClick={() => void unpin(r)} aria-label={`Unpin ${r.name}`}>
                  Unpin
                </button>
              </>
            }
          />
        ))}
      </div>
    </section>
  );
}

export default function Dashboard() {
  const [search, setSearch] = useSearchParams();
  const clock = useLoad(() => api.get<{ now: string }>("/api/clock"), []);
  const workflows = useLoad(() => api.get<WorkflowSummary[]>("/api/workflows"), []);
  const published = (workflows.data ?? []).filter((w) => w.published_version);
  const fallback = published.find((w) => w.key === "order-management")?.key ?? published[0]?.key ?? "";
  const workflow = search.get("workflow") ?? fallback;
  const detail = useLoad(() => (workflow ? api.get<WorkflowOut>(`/api/workflows/${encodeURIComponent(workflow)}`) : Promise.resolve(undefined)), [workflow]);
  if (!clock.data || !workflows.data) return clock.error || workflows.error ? <ErrorNote error={clock.error ?? workflows.error} /> : <Spinner />;

  const today = isoDay(new Date(clock.data.now));
  const from = search.get("from") ?? addDays(today, -29);
  const to = search.get("to") ?? today;
  const version = search.get("version") ?? "";
  const period = (search.get("period") as Period | null) ?? "day";
  const params: Params = { workflow: workflow || undefined, version: version || undefined, from, to };
  const set = (key: string, value: string) => {
    const next = new URLSearchParams(search);
    next.set(key, value);
    if (key === "workflow") next.delete("version");
    setSearch(next, { replace: true });
  };
  const name = published.find((w) => w.key === workflow)?.name ?? workflow;

  return (
    <div>
      <PageHeader title="Reports">
        <Link to="/reports/builder">Build a report</Link>
      </PageHeader>
      <form className="card report-filters" aria-label="Report filters" onSubmit={(e) => e.preventDefault()}>
        <label>
          Workflow
          <select value={workflow} onChange={(e) => set("workflow", e.target.value)}>
            <option value="">All workflows</option>
            {published.map((w) => (
              <option key={w.key} value={w.key}>
                {w.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Version
          <select value={version} onChange={(e) => set("version", e.target.value)} disabled={!workflow}>
            <option value="">All versions</option>
            {(detail.data?.versions ?? []).map((v) => (
              <option key={v} value={String(v)}>
                v{v}
              </option>
            ))}
          </select>
        </label>
        <label>
          From
          <input type="date" value={from} max={to} onChange={(e) => e.target.value && set("from", e.target.value)} />
        </label>
        <label>
          To
          <input type="date" value={to} min={from} onChange={(e) => e.target.value && set("to", e.target.value)} />
        </label>
        <label>
          Per
          <select value={period} onChange={(e) => set("period", e.target.value)}>
            <option value="day">day</option>
            <option value="week">week</option>
            <option value="month">month</option>
          </select>
        </label>
        <p className="hint">Days are UTC, both included. Each chart has its numbers in a table and as CSV.</p>
      </form>
      <Pinned today={today} />
      {from > to ? (
        <ErrorNote error={`“From” (${from}) is after “To” (${to}): choose a From day on or before the To day to see the reports.`} />
      ) : (
      <section aria-label="Standard reports" className="report-section">
        <div className="chart-grid">
          <Throughput params={params} period={period} />
          <CycleTime params={params} />
          <StepHeat params={params} workflow={detail.data} version={version} />
          <SlaBars params={params} by="step" />
          <SlaBars params={params} by="person" />
          <OpenWork params={params} by="person" />
          <OpenWork params={params} by="role" />
          <StageFunnel params={params} name={name} />
        </div>
      </section>
      )}
    </div>
  );
}

