// The reports API's shapes, the builder's options, and running a query (optionally split per period).
import { api } from "../../api";

export interface ReportOut {
  report: string;
  columns: string[];
  rows: Record<string, unknown>[];
  summary: Record<string, unknown> | null;
  truncated: boolean;
}

export type Measure = "count" | "cycle_time" | "time_in_step" | "sla_breach_rate";
export type Period = "day" | "week" | "month";
export type ChartKind = "bar" | "line" | "table";

export interface QueryFilters {
  version?: number | null;
  from?: string | null;
  to?: string | null;
}

export interface ReportQuery {
  workflow: string;
  measure: Measure;
  group_by: string;
  filters?: QueryFilters;
}

export interface SavedReport {
  id: string;
  name: string;
  owner: string;
  mine: boolean;
  query: ReportQuery;
  chart: string;
  shared_with: string[];
  pinned: boolean;
  created_at: string;
  updated_at: string;
}

export const MEASURES: { value: Measure; label: string; unit: string }[] = [
  { value: "count", label: "Count", unit: "instances (tasks when grouped by step, person or role)" },
  { value: "cycle_time", label: "Cycle time", unit: "start to end of instances that ended" },
  { value: "time_in_step", label: "Time in step", unit: "created to completed, of completed tasks" },
  { value: "sla_breach_rate", label: "SLA breach rate", unit: "share of tasks with a due time completed late" },
];

export const GROUPS: { value: string; label: string }[] = [
  { value: "stage", label: "Stage (now)" },
  { value: "step", label: "Step" },
  { value: "assignee", label: "Person" },
  { value: "role", label: "Role" },
  { value: "day", label: "Day" },
  { value: "week", label: "Week" },
  { value: "month", label: "Month" },
];

const INSTANCE_GROUPS = new Set(["stage", "day", "week", "month"]);
const TASK_GROUPS = new Set(["step", "assignee", "role", "day", "week", "month"]);
export const PERIODS = new Set(["day", "week", "month"]);

/** Mirrors app/services/reports.py check_group: which groupings a measure has a meaning for. */
export function groupAllowed(measure: Measure, group: string): boolean {
  if (group.startsWith("data.")) return true;
  if (measure === "count") return INSTANCE_GROUPS.has(group) || TASK_GROUPS.has(group);
  if (measure === "cycle_time") return INSTANCE_GROUPS.has(group);
  return TASK_GROUPS.has(group);
}

/** The column a measure's chart draws. */
export function valueColumn(measure: Measure): string {
  return measure === "count" ? "count" : measure === "sla_breach_rate" ? "rate" : "avg_s";
}

export function valueOf(row: Record<string, unknown>, measure: Measure): number {
  const value = row[valueColumn(measure)];
  return typeof value === "number" ? value : 0;
}

export function groupLabel(value: unknown): string {
  return value === null || value === undefined || value === "" ? "(none)" : String(value);
}

export function describeQuery(q: ReportQuery, split?: Period | null): string {
  const measure = MEASURES.find((m) => m.value === q.measure)?.label ?? q.measure;
  const group = q.group_by.startsWith("data.") ? q.group_by.slice(5) : (GROUPS.find((g) => g.value === q.group_by)?.label ?? q.group_by).toLowerCase();
  const range = q.filters?.from || q.filters?.to ? `, ${q.filters?.from ?? "…"} to ${q.filters?.to ?? "…"}` : "";
  return `${measure} by ${group}${split ? `, per ${split}` : ""} · ${q.workflow}${q.filters?.version ? ` v${q.filters.version}` : ""}${range}`;
}

export function runQuery(query: ReportQuery): Promise<ReportOut> {
  return api.post<ReportOut>("/api/reports/query", query);
}

// --- dates ----------------------------------------------------------------------------------

export function isoDay(date: Date): string {
  return date.toISOString().slice(0, 10);
}

export function addDays(day: string, days: number): string {
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return isoDay(date);
}

function startOf(day: string, period: Period): string {
  const date = new Date(`${day}T00:00:00Z`);
  if (period === "week") date.setUTCDate(date.getUTCDate() - ((date.getUTCDay() + 6) % 7));
  if (period === "month") date.setUTCDate(1);
  return isoDay(date);
}

function next(day: string, period: Period): string {
  if (period === "day") return addDays(day, 1);
  if (period === "week") return addDays(day, 7);
  const date = new Date(`${day}T00:00:00Z`);
  date.setUTCMonth(date.getUTCMonth() + 1, 1);
  return isoDay(date);
}

export const MAX_SPLITS = 26;

/** The periods (as [first day, last day], UTC, both included) that cover `from`..`to`. */
export function periods(from: string, to: string, period: Period): [string, string][] {
  const out: [string, string][] = [];
  for (let day = startOf(from, period); day <= to && out.length < MAX_SPLITS; day = next(day, period)) {
    out.push([day, addDays(next(day, period), -1)]);
  }
  return out;
}

export interface Split {
  periods: string[];
  groups: string[];
  /** values[group][period index] */
  values: Map<string, number[]>;
  tasks: Map<string, number[]>;
}

/** The query once per period (the API has one grouping; the second, time, is done here). */
export async function runSplit(query: ReportQuery, period: Period, today: string): Promise<Split> {
  const to = query.filters?.to || today;
  const from = query.filters?.from || addDays(to, period === "day" ? -13 : period === "week" ? -7 * 7 : -365);
  const spans = periods(from, to, period);
  const answers = await Promise.all(spans.map(([first, last]) => runQuery({ ...query, filters: { ...query.filters, from: first < from ? from : first, to: last > to ? to : last } })));
  const values = new Map<string, number[]>();
  const tasks = new Map<string, number[]>();
  answers.forEach((answer, i) => {
    for (const row of answer.rows) {
      const group = groupLabel(row.group);
      if (!values.has(group)) {
        values.set(group, spans.map(() => 0));
        tasks.set(group, spans.map(() => 0));
      }
      values.get(group)![i] = valueOf(row, query.measure);
      tasks.get(group)![i] = typeof row.count === "number" ? row.count : typeof row.with_due === "number" ? row.with_due : 0;
    }
  });
  const total = (g: string) => (tasks.get(g) ?? []).reduce((a, b) => a + b, 0);
  const groups = [...values.keys()].sort((a, b) => total(b) - total(a) || a.localeCompare(b));
  return { periods: spans.map(([first]) => first), groups, values, tasks };
}

// --- the per-period split is kept in this browser (the API stores one grouping) -------------

const SPLIT_KEY = "stepwise.report-split.";

export function savedSplit(id: string): Period | null {
  const found = window.localStorage.getItem(SPLIT_KEY + id);
  return found === "day" || found === "week" || found === "month" ? found : null;
}

export function keepSplit(id: string, split: Period | null): void {
  if (split) window.localStorage.setItem(SPLIT_KEY + id, split);
  else window.localStorage.removeItem(SPLIT_KEY + id);
}
