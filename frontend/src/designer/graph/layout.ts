// Auto-layout with elkjs: layered, left to right; positions come back as node centres on the grid.
import type { ElkNode } from "elkjs/lib/elk-api";

import { sizeOf } from "../catalog";
import type { Definition, Point } from "../types";

export const GRID = 20;

const OPTIONS: Record<string, string> = {
  "elk.algorithm": "layered",
  "elk.direction": "RIGHT",
  "elk.edgeRouting": "ORTHOGONAL",
  "elk.layered.spacing.nodeNodeBetweenLayers": "70",
  "elk.spacing.nodeNode": "60",
  "elk.layered.nodePlacement.strategy": "BRANDES_KOEPF",
  "elk.layered.nodePlacement.bk.fixedAlignment": "BALANCED",
  "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
  "elk.layered.cycleBreaking.strategy": "DEPTH_FIRST",
  "elk.separateConnectedComponents": "true",
};

let elk: Promise<{ layout: (graph: ElkNode) => Promise<ElkNode> }> | null = null;

function loadElk() {
  // elkjs is large: load it the first time a layout is asked for, not with the page.
  elk ??= import("elkjs/lib/elk.bundled.js").then((m) => new m.default());
  return elk;
}

export function snap(value: number, grid = GRID): number {
  return Math.round(value / grid) * grid;
}

/** Centres for every node of `def`, laid out by ELK's layered algorithm from left to right. */
export async function autoLayout(def: Definition): Promise<Map<string, Point>> {
  const engine = await loadElk();
  const ids = new Set(def.nodes.map((n) => n.id));
  const graph: ElkNode = {
    id: "root",
    layoutOptions: OPTIONS,
    children: def.nodes.map((n) => {
      const { width, height } = sizeOf(n.type);
      // Circles and diamonds carry their name below them: leave room for it (above too, so that
      // ELK's centre stays the shape's centre and connections come out straight).
      const labelled = width > 100 ? 0 : 26;
      return { id: n.id, width: labelled ? 120 : width, height: height + 2 * labelled };
    }),
    edges: def.edges
      .filter((e) => ids.has(e.from) && ids.has(e.to) && e.from !== e.to)
      .map((e) => ({ id: e.id, sources: [e.from], targets: [e.to] })),
  };
  // One band from left to right, even when long: wrapping it into rows would draw long
  // connections back across the graph (the canvas opens at a readable zoom instead).
  const result = await engine.layout(graph);
  const out = new Map<string, Point>();
  for (const child of result.children ?? []) {
    const x = (child.x ?? 0) + (child.width ?? 0) / 2;
    const y = (child.y ?? 0) + (child.height ?? 0) / 2;
    out.set(child.id, { x: snap(x), y: snap(y) });
  }
  return out;
}
