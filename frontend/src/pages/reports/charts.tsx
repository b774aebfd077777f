// Small hand-drawn SVG charts: bars, columns, lines, a histogram, a funnel and a heat scale.
// Each chart is an image with a text alternative, and its numbers are in a table below it with a CSV link.
import { useLayoutEffect, useMemo, useRef, useState, type ReactNode, type RefObject } from "react";

export interface Datum {
  label: string;
  value: number;
  /** Shown in the tooltip and the table instead of the formatted value. */
  note?: string;
}

export interface Series {
  name: string;
  /** null: no value for that label (drawn as a gap, not as zero). */
  values: (number | null)[];
  colour?: string;
}

export type Format = (value: number) => string;

export const PALETTE = ["#4338ca", "#0d9488", "#d97706", "#db2777", "#2563eb", "#65a30d"];
const INK = "#1f2937";
const MUTED = "#6b7280";
const GRID = "#e5e7eb";
const DEFAULT_WIDTH = 640;

/** The pixel width of the box a chart is drawn in, so that its text stays at its size at any width. */
function useWidth(): [RefObject<HTMLDivElement | null>, number] {
  const ref = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(DEFAULT_WIDTH);
  useLayoutEffect(() => {
    const box = ref.current;
    if (!box) return;
    const measure = () => setWidth(Math.max(280, Math.round(box.clientWidth || DEFAULT_WIDTH)));
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(box);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}

export const plain: Format = (v) => (Number.isInteger(v) ? v.toLocaleString() : v.toLocaleString(undefined, { maximumFractionDigits: 1 }));
export const percent: Format = (v) => `${(v * 100).toLocaleString(undefined, { maximumFractionDigits: 1 })}%`;

/** Seconds as "45s", "12m", "3h 20m", "2d 4h". */
export const duration: Format = (seconds) => {
  const s = Math.round(Math.abs(seconds));
  if (s < 60) return `${s}s`;
  const minutes = Math.round(s / 60);
  if (minutes < 60) return `${minutes}m`;
  if (minutes < 24 * 60) {
    const h = Math.floor(minutes / 60);
    const m = minutes % 60;
    return m ? `${h}h ${m}m` : `${h}h`;
  }
  const hours = Math.round(s / 3600);
  const d = Math.floor(hours / 24);
  const h = hours % 24;
  return h ? `${d}d ${h}h` : `${d}d`;
};

/** Round axis steps (1, 2, 2.5, 5 × 10^n) from 0 to at least `max`. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * power >= raw) ?? 10) * power;
  return stepTicks(max, step);
}

/** Whole-number ticks, for counts. */
export function countTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const ticks = niceTicks(max, count);
  const step = Math.max(1, Math.ceil(ticks[1] ?? 1));
  return stepTicks(max, step);
}

function stepTicks(max: number, step: number): number[] {
  const ticks: number[] = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

/** Duration ticks on round units (minutes, hours, days) rather than decimal steps. */
export function durationTicks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 60];
  const units = [60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];
  const step = units.find((u) => u * count >= max) ?? Math.ceil(max / count / 86400) * 86400;
  const ticks: number[] = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(v);
  return ticks;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

// --- CSV and the data table ------------------------------------------------------------------

function csvCell(value: string | number): string {
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(columns: string[], rows: (string | number)[][]): string {
  return [columns, ...rows].map((r) => r.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

/** A download link for CSV made in the browser (for previews that have no server URL). */
export function CsvBlobLink({ name, columns, rows }: { name: string; columns: string[]; rows: (string | number)[][] }) {
  const href = useMemo(() => URL.createObjectURL(new Blob([toCsv(columns, rows)], { type: "text/csv" })), [columns, rows]);
  return (
    <a href={href} download={`${name}.csv`}>
      Download CSV
    </a>
  );
}

export interface ChartTable {
  columns: string[];
  /** Raw values: what the CSV holds. */
  rows: (string | number)[][];
  /** The same rows formatted for people (durations, percentages), when they differ. */
  display?: (string | number)[][];
}

/** A chart with its title, a CSV link and its numbers as a table (folded away by default). */
export function ChartCard({ title, summary, csv, table, children, actions, id, open = false }: { title: string; summary?: ReactNode; csv?: string | { name: string }; table: ChartTable; children?: ReactNode; actions?: ReactNode; id?: string; open?: boolean }) {
  return (
    <figure className="card chart-card" aria-labelledby={id ? `${id}-title` : undefined} data-chart={id}>
      <figcaption className="chart-head">
        <div>
          <h3 id={id ? `${id}-title` : undefined}>{title}</h3>
          {summary && <p className="hint">{summary}</p>}
        </div>
        <div className="row chart-actions">
          {actions}
          {typeof csv === "string" ? (
            <a href={csv} download>
              Download CSV
            </a>
          ) : csv ? (
            <CsvBlobLink name={csv.name} columns={table.columns} rows={table.rows} />
          ) : null}
        </div>
      </figcaption>
      {children}
      <details className="chart-data" open={open}>
        <summary>Data table</summary>
        <div className="table-scroll">
          <table aria-label={`${title}: data`}>
            <thead>
              <tr>
                {table.columns.map((c) => (
                  <th key={c}>{c}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {(table.display ?? table.rows).map((r, i) => (
                <tr key={i}>
                  {r.map((cell, j) => (
                    <td key={j} className={typeof cell === "number" ? "num" : undefined}>
                      {typeof cell === "number" ? plain(cell) : cell}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </figure>
  );
}

function describe(data: Datum[], format: Format, limit = 8): string {
  const shown = data.slice(0, limit).map((d) => `${d.label}: ${d.note ?? format(d.value)}`);
  return shown.join("; ") + (data.length > limit ? `; and ${data.length - limit} more` : "");
}

// --- horizontal bars (categories: steps, people, roles) -----------------------------------

export function BarChart({ data, format = plain, label, colour = PALETTE[0], max: fixedMax, ticks: tickMaker }: { data: Datum[]; format?: Format; label: string; colour?: string; max?: number; ticks?: (max: number, count?: number) => number[] }) {
  const [box, W] = useWidth();
  const row = 26;
  const left = Math.min(220, 24 + Math.max(40, ...data.map((d) => Math.min(d.label.length, 28) * 6.6)));
  const right = 70;
  const top = 8;
  const bottom = 24;
  const height = top + bottom + Math.max(1, data.length) * row;
  const max = fixedMax ?? Math.max(0, ...data.map((d) => d.value));
  const ticks = (tickMaker ?? niceTicks)(max, Math.max(2, Math.min(5, Math.floor((W - left - right) / 70))));
  const top_ = ticks[ticks.length - 1] || 1;
  const x = (v: number) => left + ((W - left - right) * v) / top_;
  return (
    <div ref={box} className="chart-box">
      <svg className="chart" viewBox={`0 0 ${W} ${height}`} role="img" aria-label={`${label}. ${describe(data, format)}`}>
      {ticks.map((t) => (
        <g key={t}>
          <line x1={x(t)} x2={x(t)} y1={top} y2={height - bottom} stroke={GRID} />
          <text x={x(t)} y={height - 6} fontSize="11" fill={MUTED} textAnchor="middle">
            {format(t)}
          </text>
        </g>
      ))}
      {data.map((d, i) => {
        const y = top + i * row;
        return (
          <g key={`${d.label}-${i}`}>
            <title>{`${d.label}: ${d.note ?? format(d.value)}`}</title>
            <text x={left - 8} y={y + row / 2 + 4} fontSize="12" fill={INK} textAnchor="end">
              {truncate(d.label, 30)}
            </text>
            <rect x={left} y={y + 4} width={Math.max(d.value > 0 ? 2 : 0, x(d.value) - left)} height={row - 8} rx="3" fill={colour} />
            <text x={x(d.value) + 6} y={y + row / 2 + 4} fontSize="12" fill={INK}>
              {d.note ?? format(d.value)}
            </text>
          </g>
        );
      })}
      <line x1={left} x2={left} y1={top} y2={height - bottom} stroke={MUTED} />
    </svg>
    </div>
  );
}

// --- columns and lines over time ----------------------------------------------------------

function xLabels(labels: string[], plotWidth: number): { index: number; text: string }[] {
  const every = Math.max(1, Math.ceil((labels.length * 58) / plotWidth));
  return labels.map((text, index) => ({ index, text })).filter(({ index }) => index % every === 0);
}

/** Index runs without nulls: each is one unbroken piece of a line. */
function runs(values: (number | null)[]): number[][] {
  const out: number[][] = [];
  let current: number[] = [];
  values.forEach((v, i) => {
    if (v === null) {
      if (current.length) out.push(current);
      current = [];
    } else current.push(i);
  });
  if (current.length) out.push(current);
  return out;
}

function Legend({ series }: { series: Series[] }) {
  if (series.length < 2) return null;
  return (
    <g>
      {series.map((s, i) => (
        <g key={s.name} transform={`translate(${56 + i * 130}, 12)`}>
          <rect width="12" height="12" y="-10" rx="2" fill={s.colour ?? PALETTE[i % PALETTE.length]} />
          <text x="18" fontSize="12" fill={INK}>
            {s.name}
          </text>
        </g>
      ))}
    </g>
  );
}

/** Values over time: "bar" draws grouped columns, "line" draws lines with dots. */
export function TimeChart({ labels, series, kind = "line", format = plain, label, ticks: tickMaker }: { labels: string[]; series: Series[]; kind?: "line" | "bar"; format?: Format; label: string; ticks?: (max: number) => number[] }) {
  const [box, W] = useWidth();
  const height = 240;
  const left = 56;
  const right = 16;
  const top = series.length > 1 ? 28 : 12;
  const bottom = 28;
  const plotW = W - left - right;
  const max = Math.max(0, ...series.flatMap((s) => s.values.map((v) => v ?? 0)));
  const ticks = (tickMaker ?? niceTicks)(max);
  const yTop = ticks[ticks.length - 1] || 1;
  const y = (v: number) => height - bottom - ((height - top - bottom) * v) / yTop;
  const slot = plotW / Math.max(1, labels.length);
  const cx = (i: number) => left + slot * i + slot / 2;
  const text = series.map((s) => `${s.name}: ${labels.flatMap((l, i) => (s.values[i] === null || s.values[i] === undefined ? [] : [`${l} ${format(s.values[i] ?? 0)}`])).join(", ") || "no values"}`).join(". ");
  return (
    <div ref={box} className="chart-box">
      <svg className="chart" viewBox={`0 0 ${W} ${height}`} role="img" aria-label={`${label}. ${truncate(text, 600)}`}>
      <Legend series={series} />
      {ticks.map((t) => (
        <g key={t}>
          <line x1={left} x2={W - right} y1={y(t)} y2={y(t)} stroke={GRID} />
          <text x={left - 6} y={y(t) + 4} fontSize="11" fill={MUTED} textAnchor="end">
            {format(t)}
          </text>
        </g>
      ))}
      {xLabels(labels, plotW).map(({ index, text: l }) => (
        <text key={index} x={cx(index)} y={height - 8} fontSize="11" fill={MUTED} textAnchor="middle">
          {l}
        </text>
      ))}
      {kind === "bar"
        ? series.map((s, si) => {
            const width = Math.max(2, Math.min(36, (slot * 0.8) / series.length));
            return s.values.map((v, i) =>
              v === null ? null : (
                <rect key={`${si}-${i}`} x={cx(i) - (width * series.length) / 2 + si * width} y={y(v)} width={width - 1} height={Math.max(0, y(0) - y(v))} rx="2" fill={s.colour ?? PALETTE[si % PALETTE.length]}>
                  <title>{`${s.name}, ${labels[i]}: ${format(v)}`}</title>
                </rect>
              ),
            );
          })
        : series.map((s, si) => {
            const colour = s.colour ?? PALETTE[si % PALETTE.length];
            return (
              <g key={s.name}>
                {runs(s.values).map((run, ri) => (
                  <polyline key={ri} fill="none" stroke={colour} strokeWidth="2.5" strokeLinejoin="round" points={run.map((i) => `${cx(i)},${y(s.values[i] ?? 0)}`).join(" ")} />
                ))}
                {s.values.map((v, i) =>
                  v === null ? null : (
                    <circle key={i} cx={cx(i)} cy={y(v)} r={labels.length > 40 ? 2 : 3.5} fill={colour}>
                      <title>{`${s.name}, ${labels[i]}: ${format(v)}`}</title>
                    </circle>
                  ),
                )}
              </g>
            );
          })}
      <line x1={left} x2={W - right} y1={y(0)} y2={y(0)} stroke={MUTED} />
    </svg>
    </div>
  );
}

// --- histogram with percentile markers ----------------------------------------------------

export interface Bin {
  label: string;
  from: number;
  /** None for the last, open-ended bin. */
  to: number | null;
  count: number;
}

/** Buckets of unequal width drawn as equal columns; a marker sits inside its bucket in proportion. */
export function Histogram({ bins, markers, format = duration, label }: { bins: Bin[]; markers: { name: string; value: number }[]; format?: Format; label: string }) {
  const [box, W] = useWidth();
  const height = 254;
  const left = 44;
  const right = 16;
  const top = 44;
  const bottom = 30;
  const slot = (W - left - right) / Math.max(1, bins.length);
  const labelEvery = slot < 44 ? 2 : 1;
  const maxCount = Math.max(0, ...bins.map((b) => b.count));
  const ticks = countTicks(maxCount, 4);
  const yTop = ticks[ticks.length - 1] || 1;
  const y = (v: number) => height - bottom - ((height - top - bottom) * v) / yTop;
  const at = (value: number) => {
    const i = bins.findIndex((b) => b.to === null || value < b.to);
    const bin = bins[i < 0 ? bins.length - 1 : i];
    if (!bin) return left;
    const index = i < 0 ? bins.length - 1 : i;
    const share = bin.to === null ? 0.5 : Math.min(1, Math.max(0, (value - bin.from) / (bin.to - bin.from || 1)));
    return left + slot * (index + share);
  };
  const text = `${bins.map((b) => `${b.label}: ${b.count}`).join(", ")}. ${markers.map((m) => `${m.name} ${format(m.value)}`).join(", ")}`;
  return (
    <div ref={box} className="chart-box">
      <svg className="chart" viewBox={`0 0 ${W} ${height}`} role="img" aria-label={`${label}. ${truncate(text, 600)}`}>
      {ticks.map((t) => (
        <g key={t}>
          <line x1={left} x2={W - right} y1={y(t)} y2={y(t)} stroke={GRID} />
          <text x={left - 6} y={y(t) + 4} fontSize="11" fill={MUTED} textAnchor="end">
            {plain(t)}
          </text>
        </g>
      ))}
      {bins.map((b, i) => (
        <g key={b.label}>
          <rect x={left + slot * i + 2} y={y(b.count)} width={Math.max(1, slot - 4)} height={Math.max(0, y(0) - y(b.count))} rx="2" fill="#a5b4fc">
            <title>{`${b.label}: ${b.count}`}</title>
          </rect>
          {b.count > 0 && (
            <text x={left + slot * (i + 0.5)} y={y(b.count) - 4} fontSize="11" fill={INK} textAnchor="middle">
              {b.count}
            </text>
          )}
          {i % labelEvery === 0 && (
            <text x={left + slot * (i + 0.5)} y={height - 10} fontSize="11" fill={MUTED} textAnchor="middle">
              {b.label}
            </text>
          )}
        </g>
      ))}
      {markers.map((m, i) => {
        const mx = at(m.value);
        const flip = mx > W - 140;
        const colour = i ? "#b45309" : "#15803d";
        return (
          <g key={m.name}>
            <line x1={mx} x2={mx} y1={top - 4} y2={y(0)} stroke={colour} strokeWidth="2" strokeDasharray="5 3" />
            <text x={mx + (flip ? -5 : 5)} y={14 + i * 14} fontSize="12" fontWeight="600" fill={colour} textAnchor={flip ? "end" : "start"}>
              {m.name} {format(m.value)}
            </text>
          </g>
        );
      })}
      <line x1={left} x2={W - right} y1={y(0)} y2={y(0)} stroke={MUTED} />
    </svg>
    </div>
  );
}

// --- funnel -------------------------------------------------------------------------------

export function Funnel({ stages, label }: { stages: Datum[]; label: string }) {
  const [box, W] = useWidth();
  const row = 34;
  const height = Math.max(1, stages.length) * row + 8;
  const first = stages[0]?.value || 1;
  const max = Math.max(1, ...stages.map((s) => s.value));
  const labelW = 170;
  const plotW = W - labelW - 90;
  const mid = labelW + plotW / 2;
  return (
    <div ref={box} className="chart-box">
      <svg className="chart" viewBox={`0 0 ${W} ${height}`} role="img" aria-label={`${label}. ${describe(stages, plain, 12)}`}>
      {stages.map((s, i) => {
        const w = Math.max(s.value > 0 ? 4 : 1, (plotW * s.value) / max);
        const y = 4 + i * row;
        return (
          <g key={`${s.label}-${i}`}>
            <title>{`${s.label}: ${plain(s.value)} (${percent(s.value / first)} of the first stage)`}</title>
            <text x={labelW - 10} y={y + row / 2 + 4} fontSize="12" fill={INK} textAnchor="end">
              {truncate(s.label, 26)}
            </text>
            <rect x={mid - w / 2} y={y + 3} width={w} height={row - 6} rx="4" fill={PALETTE[1]} opacity={1 - (0.5 * i) / Math.max(1, stages.length)} />
            <text x={labelW + plotW + 10} y={y + row / 2 + 4} fontSize="12" fill={INK}>
              {plain(s.value)}
              <tspan fill={MUTED}>{i ? ` · ${percent(s.value / first)}` : ""}</tspan>
            </text>
          </g>
        );
      })}
    </svg>
    </div>
  );
}

// --- heat scale ---------------------------------------------------------------------------

const HEAT = [
  [239, 246, 255],
  [254, 240, 138],
  [251, 146, 60],
  [220, 38, 38],
] as const;

/** A colour from pale (0) through yellow and orange to red (1). */
export function heatColour(t: number): string {
  const v = Math.min(1, Math.max(0, t)) * (HEAT.length - 1);
  const i = Math.min(HEAT.length - 2, Math.floor(v));
  const f = v - i;
  const a = HEAT[i]!;
  const b = HEAT[i + 1]!;
  const mix = (k: 0 | 1 | 2) => Math.round(a[k] + (b[k] - a[k]) * f);
  return `rgb(${mix(0)}, ${mix(1)}, ${mix(2)})`;
}

/** Dark text on pale cells, white on the hot end. */
export function heatInk(t: number): string {
  return t > 0.72 ? "#ffffff" : INK;
}

export function HeatLegend({ max, format = duration, label = "Average time in step" }: { max: number; format?: Format; label?: string }) {
  const stops = [0, 0.25, 0.5, 0.75, 1];
  return (
    <svg className="heat-legend" viewBox="0 0 320 44" role="img" aria-label={`${label}: from pale (0) to red (${format(max)})`}>
      <defs>
        <linearGradient id="heat-gradient">
          {stops.map((s) => (
            <stop key={s} offset={`${s * 100}%`} stopColor={heatColour(s)} />
          ))}
        </linearGradient>
      </defs>
      <text x="0" y="11" fontSize="11" fill={MUTED}>
        {label}
      </text>
      <rect x="0" y="16" width="320" height="12" rx="3" fill="url(#heat-gradient)" stroke={GRID} />
      <text x="0" y="41" fontSize="11" fill={MUTED}>
        0
      </text>
      <text x="160" y="41" fontSize="11" fill={MUTED} textAnchor="middle">
        {format(max / 2)}
      </text>
      <text x="320" y="41" fontSize="11" fill={MUTED} textAnchor="end">
        {format(max)}
      </text>
    </svg>
  );
}
