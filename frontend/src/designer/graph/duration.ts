// ISO 8601 durations (PT4H, P2D, P1DT2H30M) as people read them.

const PATTERN = /^P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i;
const UNITS = ["year", "month", "week", "day", "hour", "minute", "second"];

export function describeDuration(text: string | null | undefined): string {
  if (!text) return "";
  const m = PATTERN.exec(text.trim());
  if (!m || text.trim().toUpperCase() === "P" || text.trim().toUpperCase().endsWith("T")) return "not a duration (e.g. PT4H, P2D)";
  const parts: string[] = [];
  UNITS.forEach((unit, i) => {
    const v = m[i + 1];
    if (v && Number(v) !== 0) parts.push(`${v} ${unit}${Number(v) === 1 ? "" : "s"}`);
  });
  return parts.length ? parts.join(" ") : "zero";
}

export type Unit = "M" | "H" | "D" | "W";
export const DURATION_UNITS: { unit: Unit; label: string }[] = [
  { unit: "M", label: "minutes" },
  { unit: "H", label: "hours" },
  { unit: "D", label: "days" },
  { unit: "W", label: "weeks" },
];

/** A simple duration (one number, one unit), or null for anything else. */
export function splitDuration(text: string | null | undefined): { amount: number; unit: Unit } | null {
  const m = /^P(?:(\d+)([DW])|T(\d+)([HM]))$/i.exec((text ?? "").trim());
  if (!m) return null;
  if (m[1]) return { amount: Number(m[1]), unit: m[2]!.toUpperCase() as Unit };
  return { amount: Number(m[3]), unit: m[4]!.toUpperCase() as Unit };
}

export function joinDuration(amount: number, unit: Unit): string {
  const n = Math.max(1, Math.round(amount));
  return unit === "D" || unit === "W" ? `P${n}${unit}` : `PT${n}${unit}`;
}
