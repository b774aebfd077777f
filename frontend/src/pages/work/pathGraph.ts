// Pure helpers for the instance diagram: node sizes, positions, and what the path highlights.
// No React here.
import ELK from "elkjs/lib/elk.bundled.js";

import type { DefinitionNode, PathDecision, PathOut, WorkflowDefinition } from "./types";

export const GATEWAYS = new Set(["exclusive", "inclusive", "parallel"]);
export const ROUND = new Set(["start", "end"]);

export function sizeOf(type: string): { width: number; height: number } {
  if (GATEWAYS.has(type)) return { width: 56, height: 56 };
  if (ROUND.has(type)) return { width: 44, height: 44 };
  return { width: 168, height: 58 };
}

export type Positions = Record<string, { x: number; y: number }>;

/** The designer's positions when every node has one; otherwise a layered layout, left to right. */
export async function positions(definition: WorkflowDefinition): Promise<Positions> {
  const given = definition.layout ?? {};
  if (definition.nodes.length > 0 && definition.nodes.every((n) => given[n.id])) return given;
  const ids = new Set(definition.nodes.map((n) => n.id));
  const elk = new ELK();
  const graph = await elk.layout({
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "RIGHT",
      "elk.layered.spacing.nodeNodeBetweenLayers": "56",
      "elk.spacing.nodeNode": "28",
      "elk.layered.nodePlacement.strategy": "BRANDES_KOEPF",
      "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
    },
    children: definition.nodes.map((n) => ({ id: n.id, ...sizeOf(n.type) })),
    edges: definition.edges
      .filter((e) => ids.has(e.from) && ids.has(e.to))
      .map((e) => ({ id: e.id, sources: [e.from], targets: [e.to] })),
  });
  const out: Positions = {};
  for (const child of graph.children ?? []) out[child.id] = { x: child.x ?? 0, y: child.y ?? 0 };
  return out;
}

export interface Highlight {
  visited: Set<string>;
  taken: Set<string>;
  waiting: Set<string>;
  /** The last decision at each node. */
  decisions: Map<string, PathDecision>;
  /** How many times each node was entered. */
  visits: Map<string, number>;
}

export function highlight(path: PathOut | null): Highlight {
  const visits = new Map<string, number>();
  for (const step of path?.steps ?? []) visits.set(step.node, (visits.get(step.node) ?? 0) + 1);
  const decisions = new Map<string, PathDecision>();
  for (const d of path?.decisions ?? []) decisions.set(d.node, d);
  return {
    visited: new Set(visits.keys()),
    taken: new Set((path?.edges ?? []).map((e) => e.id)),
    waiting: new Set(path?.status === "running" ? (path?.waiting ?? []).map((w) => w.node) : []),
    decisions,
    visits,
  };
}

/** A value as a person reads it in an explanation. */
export function shown(value: unknown): string {
  if (value === undefined) return "missing";
  if (typeof value === "string") return `“${value}”`;
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

/** Flatten `{stock_check: {route: "in_stock"}}` into `stock_check.route = “in_stock”` lines. */
export function inputLines(inputs: Record<string, unknown>, limit = 8): string[] {
  const lines: string[] = [];
  const walk = (prefix: string, value: unknown, depth: number) => {
    if (lines.length >= limit) return;
    if (value && typeof value === "object" && !Array.isArray(value) && depth < 3) {
      const entries = Object.entries(value as Record<string, unknown>);
      if (entries.length && entries.length <= 6) {
        for (const [k, v] of entries) walk(prefix ? `${prefix}.${k}` : k, v, depth + 1);
        return;
      }
    }
    lines.push(`${prefix} = ${shown(value)}`);
  };
  for (const [k, v] of Object.entries(inputs)) walk(k, v, 0);
  return lines;
}

/** The note a decision table's matched rule carries ("every line reserved"). */
export function ruleNotes(node: DefinitionNode | undefined, decision: PathDecision): string[] {
  const rules = node && Array.isArray(node.rules) ? (node.rules as { note?: string }[]) : [];
  const matched = (decision as PathDecision & { matched?: number[] }).matched ?? [];
  return matched.map((m) => rules[m]?.note).filter((n): n is string => !!n);
}
