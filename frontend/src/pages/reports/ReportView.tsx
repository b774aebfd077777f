// One builder report drawn: its chart (bar, line or table), its data table and a CSV download.
import type { ReactNode } from "react";

import { ErrorNote, Spinner } from "../../components/ui";
import { useLoad } from "../../components/useLoad";
import { BarChart, ChartCard, countTicks, duration, durationTicks, percent, plain, TimeChart, type Format } from "./charts";
import { describeQuery, groupLabel, PERIODS, runQuery, runSplit, valueColumn, valueOf, type ChartKind, type Period, type ReportOut, type ReportQuery, type Split } from "./reportData";

const MAX_SERIES = 6;

/** "2026-11-23" as "23 Nov" (a month as "Nov 2026"), for axis labels. */
export function periodLabel(value: string, period: string): string {
  const date = new Date(`${value.slice(0, 10)}T00:00:00Z`);
  if (Number.isNaN(date.getTime())) return value;
  return period === "month" ? date.toLocaleDateString(undefined, { month: "short", year: "numeric", timeZone: "UTC" }) : date.toLocaleDateString(undefined, { day: "numeric", month: "short", timeZone: "UTC" });
}

export function formatFor(measure: ReportQuery["measure"]): Format {
  return measure === "count" ? plain : measure === "sla_breach_rate" ? percent : duration;
}

function ticksFor(measure: ReportQuery["measure"]) {
  return measure === "cycle_time" || measure === "time_in_step" ? durationTicks : measure === "count" ? countTicks : undefined;
}

function cell(column: string, value: unknown): string | number {
  if (value === null || value === undefined) return "";
  if (typeof value === "number" && column.endsWith("_s")) return duration(value);
  if (typeof value === "number" && column === "rate") return percent(value);
  if (typeof value === "number") return value;
  return String(value);
}

function Plain({ out, query, chart, title, actions, id }: { out: ReportOut; query: ReportQuery; chart: ChartKind; title: string; actions?: ReactNode; id?: string }) {
  const format = formatFor(query.measure);
  const labels = out.rows.map((r) => groupLabel(r.group));
  const data = out.rows.map((r, i) => ({ label: labels[i] ?? "", value: valueOf(r, query.measure) }));
  const rows = out.rows.map((r) => out.columns.map((c) => (typeof r[c] === "number" ? (r[c] as number) : groupLabel(r[c]))));
  const display = out.rows.map((r) => out.columns.map((c) => (c === "group" ? groupLabel(r[c]) : cell(c, r[c]))));
  const byTime = PERIODS.has(query.group_by);
  const label = `${title}: ${describeQuery(query)}`;
  return (
    <ChartCard title={title} id={id} summary={title === describeQuery(query) ? undefined : describeQuery(query)} csv={{ name: title.replace(/[^A-Za-z0-9-]+/g, "-").toLowerCase() }} table={{ columns: out.columns, rows, display }} actions={actions} open={chart === "table"}>
      {out.rows.length === 0 ? (
        <p className="hint chart-empty">Nothing to show for these filters yet.</p>
      ) : chart === "table" ? null : chart === "line" || byTime ? (
        <TimeChart labels={byTime ? labels.map((l) => periodLabel(l, query.group_by)) : labels} series={[{ name: valueColumn(query.measure), values: data.map((d) => d.value) }]} kind={chart === "line" ? "line" : "bar"} format={format} label={label} ticks={ticksFor(query.measure)} />
      ) : (
        <BarChart data={data} format={format} label={label} max={query.measure === "sla_breach_rate" ? 1 : undefined} ticks={ticksFor(query.measure)} />
      )}
      {out.truncated && <p className="hint">Only the 1,000 largest groups are shown.</p>}
    </ChartCard>
  );
}

function Splitted({ split, query, chart, period, title, actions, id }: { split: Split; query: ReportQuery; chart: ChartKind; period: Period; title: string; actions?: ReactNode; id?: string }) {
  const format = formatFor(query.measure);
  const shown = split.groups.slice(0, MAX_SERIES);
  const columns = [period, ...split.groups];
  const rows = split.periods.map((p, i) => [p, ...split.groups.map((g) => split.values.get(g)?.[i] ?? 0)]);
  const display = split.periods.map((p, i) => [p, ...split.groups.map((g) => ((split.tasks.get(g)?.[i] ?? 0) ? format(split.values.get(g)?.[i] ?? 0) : "—"))]);
  const summary = `${describeQuery(query, period)}${split.groups.length > MAX_SERIES ? ` (the ${MAX_SERIES} largest groups drawn)` : ""}`;
  return (
    <ChartCard title={title} id={id} summary={title === describeQuery(query, period) ? undefined : summary} csv={{ name: title.replace(/[^A-Za-z0-9-]+/g, "-").toLowerCase() }} table={{ columns, rows, display }} actions={actions} open={chart === "table"}>
      {split.groups.length === 0 ? (
        <p className="hint chart-empty">Nothing to show for these filters yet.</p>
      ) : chart === "table" ? null : (
        <TimeChart
          labels={split.periods.map((p) => periodLabel(p, period))}
          series={shown.map((g) => ({ name: g, values: (split.values.get(g) ?? []).map((v, i) => ((split.tasks.get(g)?.[i] ?? 0) ? v : null)) }))}
          kind={chart === "bar" ? "bar" : "line"}
          format={format}
          label={`${title}: ${summary}`}
          ticks={ticksFor(query.measure)}
        />
      )}
    </ChartCard>
  );
}

/** Runs the query (once per period when split) and draws it. */
export function ReportView({ query, chart, split, title, today, actions, id }: { query: ReportQuery; chart: ChartKind; split: Period | null; title: string; today: string; actions?: ReactNode; id?: string }) {
  const key = JSON.stringify(query);
  const usable = split && !PERIODS.has(query.group_by) ? split : null;
  const data = useLoad(async () => (usable ? { split: await runSplit(query, usable, today) } : { out: await runQuery(query) }), [key, usable, today]);
  if (data.error)
    return (
      <div className="card chart-card">
        <h3>{title}</h3>
        <ErrorNote error={data.error} />
      </div>
    );
  if (!data.data)
    return (
      <div className="card chart-card">
        <h3>{title}</h3>
        <Spinner />
      </div>
    );
  return "split" in data.data && data.data.split && usable ? (
    <Splitted split={data.data.split} query={query} chart={chart} period={usable} title={title} actions={actions} id={id} />
  ) : "out" in data.data && data.data.out ? (
    <Plain out={data.data.out} query={query} chart={chart} title={title} actions={actions} id={id} />
  ) : null;
}
