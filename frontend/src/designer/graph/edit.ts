// Pure edits of a definition: each returns a new definition and shares what it did not change.
import { isNodeType, SIZE, sizeOf } from "../catalog";
import type { Definition, Point, WfEdge, WfNode } from "../types";

type Loose = Record<string, unknown>;

function isObject(value: unknown): value is Loose {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Whatever the server holds (even an invalid draft) as a definition the canvas can draw. */
export function normalize(raw: unknown, key: string): Definition {
  const source: Loose = isObject(raw) ? raw : {};
  const nodes = (Array.isArray(source.nodes) ? source.nodes : []).filter(
    (n): n is WfNode => isObject(n) && typeof n.id === "string" && n.id !== "",
  );
  const edges = (Array.isArray(source.edges) ? source.edges : []).filter(
    (e): e is WfEdge => isObject(e) && typeof e.id === "string" && typeof e.from === "string" && typeof e.to === "string",
  );
  const layout: Record<string, Point> = {};
  if (isObject(source.layout)) {
    for (const [id, p] of Object.entries(source.layout)) {
      if (isObject(p) && typeof p.x === "number" && typeof p.y === "number") layout[id] = { x: p.x, y: p.y };
    }
  }
  return { ...source, format: 1, key, nodes, edges, layout } as Definition;
}

/** The definition as it is saved: no `undefined` values, layout only for existing nodes. */
export function serialize(def: Definition): Definition {
  const ids = new Set(def.nodes.map((n) => n.id));
  const layout: Record<string, Point> = {};
  for (const [id, p] of Object.entries(def.layout)) if (ids.has(id)) layout[id] = { x: Math.round(p.x), y: Math.round(p.y) };
  return JSON.parse(JSON.stringify({ ...def, layout })) as Definition;
}

export function uniqueId(base: string, taken: ReadonlySet<string>): string {
  const clean = base.replace(/[^A-Za-z0-9_-]+/g, "_").replace(/^_+|_+$/g, "") || "step";
  if (!taken.has(clean)) return clean;
  for (let n = 1; ; n++) {
    const id = `${clean}_${n}`;
    if (!taken.has(id)) return id;
  }
}

export function nextEdgeId(def: Definition, extra: ReadonlySet<string> = new Set()): string {
  let high = 0;
  for (const e of def.edges) {
    const m = /^e(\d+)$/.exec(e.id);
    if (m) high = Math.max(high, Number(m[1]));
  }
  const taken = new Set(def.edges.map((e) => e.id));
  for (let n = high + 1; ; n++) if (!taken.has(`e${n}`) && !extra.has(`e${n}`)) return `e${n}`;
}

export function addNode(def: Definition, node: WfNode, at: Point): Definition {
  return { ...def, nodes: [...def.nodes, node], layout: { ...def.layout, [node.id]: at } };
}

/** Replace a node's settings: `undefined` values remove the setting. */
export function updateNode(def: Definition, id: string, patch: Partial<Record<string, unknown>>): Definition {
  return {
    ...def,
    nodes: def.nodes.map((n) => {
      if (n.id !== id) return n;
      const next: Loose = { ...n, ...patch };
      for (const [k, v] of Object.entries(next)) if (v === undefined) delete next[k];
      return next as unknown as WfNode;
    }),
  };
}

export function updateEdge(def: Definition, id: string, patch: Partial<Record<string, unknown>>): Definition {
  return {
    ...def,
    edges: def.edges.map((e) => {
      if (e.id !== id) return e;
      const next: Loose = { ...e, ...patch };
      for (const [k, v] of Object.entries(next)) if (v === undefined) delete next[k];
      return next as unknown as WfEdge;
    }),
  };
}

/** Move an edge one place earlier or later among the edges leaving the same node (order matters at gateways). */
export function moveEdge(def: Definition, id: string, delta: -1 | 1): Definition {
  const edge = def.edges.find((e) => e.id === id);
  if (!edge) return def;
  const siblings = def.edges.map((e, i) => [e, i] as const).filter(([e]) => e.from === edge.from);
  const at = siblings.findIndex(([e]) => e.id === id);
  const other = siblings[at + delta];
  const here = siblings[at];
  if (!other || !here) return def;
  const edges = [...def.edges];
  edges[here[1]] = other[0];
  edges[other[1]] = here[0];
  return { ...def, edges };
}

export function removeElements(def: Definition, nodeIds: readonly string[], edgeIds: readonly string[]): Definition {
  if (nodeIds.length === 0 && edgeIds.length === 0) return def;
  const nodes = new Set(nodeIds);
  const edges = new Set(edgeIds);
  const layout = { ...def.layout };
  for (const id of nodes) delete layout[id];
  return {
    ...def,
    nodes: def.nodes.filter((n) => !nodes.has(n.id)),
    edges: def.edges.filter((e) => !edges.has(e.id) && !nodes.has(e.from) && !nodes.has(e.to)),
    layout,
  };
}

export function canConnect(def: Definition, from: string, to: string): string | null {
  if (from === to) return "A step cannot connect to itself.";
  const target = def.nodes.find((n) => n.id === to);
  const source = def.nodes.find((n) => n.id === from);
  if (!source || !target) return "Both steps must exist.";
  if (target.type === "start") return "Nothing leads into the start.";
  if (source.type === "end") return "Nothing leaves an end.";
  if (def.edges.some((e) => e.from === from && e.to === to && !e.on)) return "These steps are connected already.";
  return null;
}

export function connect(def: Definition, from: string, to: string): { def: Definition; id: string } | null {
  if (canConnect(def, from, to)) return null;
  const id = nextEdgeId(def);
  return { def: { ...def, edges: [...def.edges, { id, from, to }] }, id };
}

export function setPositions(def: Definition, positions: ReadonlyMap<string, Point>): Definition {
  let changed = false;
  const layout = { ...def.layout };
  for (const [id, p] of positions) {
    const old = layout[id];
    if (!old || old.x !== p.x || old.y !== p.y) {
      layout[id] = { x: p.x, y: p.y };
      changed = true;
    }
  }
  return changed ? { ...def, layout } : def;
}

export interface Clip {
  nodes: WfNode[];
  edges: WfEdge[];
  layout: Record<string, Point>;
}

export function copySelection(def: Definition, nodeIds: readonly string[]): Clip | null {
  const ids = new Set(nodeIds);
  const nodes = def.nodes.filter((n) => ids.has(n.id));
  if (nodes.length === 0) return null;
  const layout: Record<string, Point> = {};
  for (const n of nodes) {
    const p = def.layout[n.id];
    if (p) layout[n.id] = p;
  }
  return { nodes, edges: def.edges.filter((e) => ids.has(e.from) && ids.has(e.to)), layout };
}

/** Paste a copied piece with fresh ids, `offset` away from where it was copied. */
export function paste(def: Definition, clip: Clip, offset: Point): { def: Definition; nodeIds: string[] } {
  const taken = new Set(def.nodes.map((n) => n.id));
  const rename = new Map<string, string>();
  const nodes: WfNode[] = [];
  const layout = { ...def.layout };
  for (const node of clip.nodes) {
    if (!isNodeType(node.type)) continue;
    const id = uniqueId(node.id.replace(/_\d+$/, ""), taken);
    taken.add(id);
    rename.set(node.id, id);
    nodes.push({ ...node, id } as WfNode);
    const p = clip.layout[node.id] ?? { x: 0, y: 0 };
    layout[id] = { x: p.x + offset.x, y: p.y + offset.y };
  }
  let next: Definition = { ...def, nodes: [...def.nodes, ...nodes], layout };
  const newEdges: WfEdge[] = [];
  const edgeIds = new Set<string>();
  for (const edge of clip.edges) {
    const from = rename.get(edge.from);
    const to = rename.get(edge.to);
    if (!from || !to) continue;
    const id = nextEdgeId(next, edgeIds);
    edgeIds.add(id);
    newEdges.push({ ...edge, id, from, to });
  }
  next = { ...next, edges: [...next.edges, ...newEdges] };
  return { def: next, nodeIds: nodes.map((n) => n.id) };
}

/** A free spot near `at`: nodes dropped on top of each other would hide one another. */
export function freeSpot(def: Definition, at: Point, size = SIZE.box, grid = 20): Point {
  const gap = 24;
  const boxes = def.nodes.flatMap((n) => {
    const p = def.layout[n.id];
    return p ? [{ ...p, ...sizeOf(n.type) }] : [];
  });
  const snap = (p: Point) => ({ x: Math.round(p.x / grid) * grid, y: Math.round(p.y / grid) * grid });
  const clear = (p: Point) =>
    !boxes.some((b) => p.x < b.x + b.width + gap && b.x < p.x + size.width + gap && p.y < b.y + b.height + gap && b.y < p.y + size.height + gap);
  const start = snap(at);
  if (clear(start)) return start;
  // rings of candidate spots around `at`, nearest first, one box apart
  const stepX = size.width + gap;
  const stepY = size.height + gap;
  for (let ring = 1; ring <= 12; ring++) {
    const spots: Point[] = [];
    for (let dx = -ring; dx <= ring; dx++)
      for (let dy = -ring; dy <= ring; dy++)
        if (Math.max(Math.abs(dx), Math.abs(dy)) === ring) spots.push(snap({ x: at.x + dx * stepX, y: at.y + dy * stepY }));
    spots.sort((a, b) => Math.hypot(a.x - at.x, (a.y - at.y) * 2) - Math.hypot(b.x - at.x, (b.y - at.y) * 2));
    const found = spots.find(clear);
    if (found) return found;
  }
  return start;
}
