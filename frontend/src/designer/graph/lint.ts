// Good-practice warnings, computed here as the graph changes: short verb-first step names,
// no crossing connections, steps lined up with their neighbours. Never errors: they do not block publishing.
import type { Definition, Issue, Point, WfNode } from "../types";

const EXEMPT = new Set(["start", "end", "exclusive", "parallel", "inclusive"]);
export const MAX_WORDS = 5;
/** Centres closer than this (but not equal) to a neighbour's look misaligned. */
export const ALIGN_TOLERANCE = 8;
const MAX_CROSSINGS = 50;

// Verbs that start step names in business workflows. Words ending in -ise/-ize/-ate/-fy also count.
const VERBS = new Set(
  `accept add adjust allocate analyse analyze answer apply approve archive arrange ask assemble assess assign attach audit
   authorise authorize await back bill book build buy calculate call cancel capture chase check choose claim classify clean close
   collect compare complete compose compute confirm contact convert copy correct count create credit debit decide define delete
   deliver deploy describe design determine dispatch do download draft edit email enrich ensure enter escalate estimate evaluate
   examine explain export extract fetch file fill finalise finalize find fix follow forward gather generate get give go grant handle
   hand hire hold import inform inspect install interview investigate invite invoice issue keep label list load lock log look make
   manage map mark match measure meet merge message migrate monitor move negotiate note notify obtain offer onboard open order
   pack pay perform pick place plan post prepare price print process produce provide publish purchase put quote raise rank rate
   read receive reconcile record refund register reject release remind remove renew repair replace reply report request reserve
   reset resolve respond restock retry return review revoke route run save scan schedule score screen select sell send set settle
   share ship sign sort split start stop store submit summarise summarize supply sync take tell test text train transfer translate
   triage try unlock update upload use validate verify visit wait warn weigh welcome withdraw write`.split(/\s+/),
);

function words(name: string): string[] {
  return name.trim().split(/\s+/).filter(Boolean);
}

function looksLikeVerb(word: string): boolean {
  const w = word.toLowerCase().replace(/[^a-z]/g, "");
  return VERBS.has(w) || /(ise|ize|ate|ify)$/.test(w);
}

/** Why a step's name reads poorly, or null. Start, end and gateways are exempt. */
export function nameAdvice(node: Pick<WfNode, "type" | "name">): string | null {
  if (EXEMPT.has(node.type)) return null;
  const name = (node.name ?? "").trim();
  if (!name) return "Give this step a name that says what happens, e.g. 'Review order'.";
  const list = words(name);
  const first = list[0] ?? "";
  if (list.length > MAX_WORDS) return `'${name}' has ${list.length} words: keep step names to ${MAX_WORDS} or fewer.`;
  if (looksLikeVerb(first)) return null;
  const lower = first.toLowerCase();
  if (lower.endsWith("ing") && lower.length > 4) {
    return `Start with a verb rather than '${first}': e.g. '${capitalise(stem(lower))} ${list.slice(1).join(" ")}'.`.replace(" '.", "'.");
  }
  const last = list[list.length - 1] ?? "";
  if (list.length > 1 && last.toLowerCase().endsWith("ing")) {
    return `Start with a verb: e.g. '${capitalise(stem(last.toLowerCase()))} ${list.slice(0, -1).join(" ").toLowerCase()}' instead of '${name}'.`;
  }
  return `Start the name with a verb that says what happens, e.g. 'Check ${name.toLowerCase()}'.`;
}

function stem(gerund: string): string {
  const base = gerund.slice(0, -3);
  if (/(.)\1$/.test(base) && !/(ss|ll)$/.test(base)) return base.slice(0, -1); // shipping → ship
  if (VERBS.has(base)) return base;
  if (VERBS.has(`${base}e`)) return `${base}e`; // invoicing → invoice
  return base;
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

/** Whether the open segments a–b and c–d cross (touching at an end does not count). */
export function segmentsCross(a: Point, b: Point, c: Point, d: Point): boolean {
  const orient = (p: Point, q: Point, r: Point) => Math.sign((q.x - p.x) * (r.y - p.y) - (q.y - p.y) * (r.x - p.x));
  const o1 = orient(a, b, c);
  const o2 = orient(a, b, d);
  const o3 = orient(c, d, a);
  const o4 = orient(c, d, b);
  return o1 * o2 < 0 && o3 * o4 < 0;
}

function label(def: Definition, id: string): string {
  const node = def.nodes.find((n) => n.id === id);
  return node?.name || id;
}

export function lint(def: Definition): Issue[] {
  const issues: Issue[] = [];
  const warn = (code: string, message: string, node: string | null, edge: string | null = null, field: string | null = null) =>
    issues.push({ code, message, node, edge, field, severity: "warning", source: "lint" });

  for (const node of def.nodes) {
    const advice = nameAdvice(node);
    if (advice) warn("name_style", advice, node.id, null, "name");
  }

  // Crossing connections, on the straight lines between node centres. A sweep over the lines
  // sorted by their left end compares only lines whose boxes overlap (large graphs stay fast).
  type Line = { e: (typeof def.edges)[number]; a: Point; b: Point; x1: number; x2: number; y1: number; y2: number };
  const lines: Line[] = [];
  for (const e of def.edges) {
    const a = def.layout[e.from];
    const b = def.layout[e.to];
    if (!a || !b || e.from === e.to) continue;
    lines.push({ e, a, b, x1: Math.min(a.x, b.x), x2: Math.max(a.x, b.x), y1: Math.min(a.y, b.y), y2: Math.max(a.y, b.y) });
  }
  lines.sort((p, q) => p.x1 - q.x1);
  let crossings = 0;
  for (let i = 0; i < lines.length && crossings < MAX_CROSSINGS; i++) {
    const p = lines[i]!;
    for (let j = i + 1; j < lines.length && crossings < MAX_CROSSINGS; j++) {
      const q = lines[j]!;
      if (q.x1 > p.x2) break;
      if (q.y1 > p.y2 || q.y2 < p.y1) continue;
      if (p.e.from === q.e.from || p.e.from === q.e.to || p.e.to === q.e.from || p.e.to === q.e.to) continue;
      if (segmentsCross(p.a, p.b, q.a, q.b)) {
        crossings++;
        warn(
          "crossing_edges",
          `The connections ${label(def, p.e.from)} → ${label(def, p.e.to)} and ${label(def, q.e.from)} → ${label(def, q.e.to)} cross: move a step to untangle them.`,
          null,
          p.e.id,
        );
      }
    }
  }

  // Steps almost — but not quite — in line with a connected neighbour.
  const seen = new Set<string>();
  for (const e of def.edges) {
    const a = def.layout[e.from];
    const b = def.layout[e.to];
    if (!a || !b || e.from === e.to) continue;
    const pair = [e.from, e.to].sort().join("\u0000");
    if (seen.has(pair)) continue;
    seen.add(pair);
    const dx = Math.abs(a.x - b.x);
    const dy = Math.abs(a.y - b.y);
    const off = dy > 0 && dy <= ALIGN_TOLERANCE ? `${Math.round(dy)} px higher or lower` : dx > 0 && dx <= ALIGN_TOLERANCE ? `${Math.round(dx)} px to the side` : null;
    if (off) warn("off_grid", `${label(def, e.to)} is ${off} than ${label(def, e.from)}: line them up.`, e.to);
  }
  return issues;
}
