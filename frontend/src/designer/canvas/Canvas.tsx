// The canvas: React Flow nodes and edges derived from the definition (the one source of truth).
// React Flow keeps only what it needs between edits — selection, measured sizes, a drag in flight —
// and a finished move comes back as an edit of the definition's layout.
import {
  applyEdgeChanges,
  applyNodeChanges,
  Background,
  BackgroundVariant,
  ConnectionLineType,
  Controls,
  MiniMap,
  Position,
  ReactFlow,
  useNodesInitialized,
  useReactFlow,
  useStoreApi,
  type ReactFlowInstance,
  type Connection,
  type EdgeChange,
  type NodeChange,
  type NodeHandle,
  type OnSelectionChangeParams,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { memo, useCallback, useEffect, useRef, useState, type MutableRefObject } from "react";

import { KIND, sizeOf } from "../catalog";
import { canConnect, connect, setPositions } from "../graph/edit";
import { GRID } from "../graph/layout";
import type { Definition, Mark, Point, RunMark } from "../types";
import { edgeTypes, type FlowEdge } from "./edges";
import { nodeTypes, type StepNode } from "./nodes";

export interface Marks {
  nodes: ReadonlyMap<string, Mark>;
  edges: ReadonlyMap<string, Mark>;
}

export interface RunMarks {
  nodes: ReadonlyMap<string, RunMark>;
  edges: ReadonlySet<string>;
}

export interface Selection {
  nodes: string[];
  edges: string[];
}

/** What the page asks of the canvas. */
export interface CanvasApi {
  select: (nodes: string[], edges?: string[]) => void;
  clearSelection: () => void;
  centerOn: (target: { node?: string | null; edge?: string | null }) => void;
  fit: () => void;
  /** Fit, but never so small that names cannot be read: a long workflow opens at its start. */
  readableFit: () => void;
  /** Canvas coordinates of a point on the screen, or of the viewport's centre. */
  toCanvas: (client?: { x: number; y: number }) => Point;
  /** Whether a screen point is over the canvas. */
  contains: (client: { x: number; y: number }) => boolean;
}

interface Props {
  def: Definition;
  marks: Marks;
  run: RunMarks | null;
  readOnly: boolean;
  apiRef: MutableRefObject<CanvasApi | null>;
  onCommit: (update: (def: Definition) => Definition) => void;
  onSelection: (selection: Selection) => void;
  onReady: () => void;
  onEditName: () => void;
}

interface Inputs {
  def: Definition;
  marks: Marks;
  run: RunMarks | null;
  readOnly: boolean;
}

interface Wanted {
  nodes: ReadonlySet<string>;
  edges: ReadonlySet<string>;
}

const EMPTY_MAP = new Map();
const HANDLE = 10;

/** Where a node's handles are (relative to its top-left corner), known before it is drawn: with
 * its fixed size this lets React Flow draw edges to nodes it has not measured, so a large
 * workflow renders only the nodes in view. */
function handlesOf(type: string, width: number, height: number): NodeHandle[] {
  const out: NodeHandle[] = [];
  const y = height / 2 - HANDLE / 2;
  if (type !== "start") out.push({ type: "target", position: Position.Left, x: -HANDLE / 2, y, width: HANDLE, height: HANDLE, id: null });
  if (type !== "end") out.push({ type: "source", position: Position.Right, x: width - HANDLE / 2, y, width: HANDLE, height: HANDLE, id: null });
  return out;
}
const NO_RUN: RunMarks = { nodes: EMPTY_MAP, edges: new Set() };

function deriveNodes(inputs: Inputs, previous: StepNode[], wanted: Wanted | null): StepNode[] {
  const { def, marks, readOnly } = inputs;
  const run = inputs.run ?? NO_RUN;
  const before = new Map(previous.map((n) => [n.id, n]));
  return def.nodes.map((node, i) => {
    const old = before.get(node.id);
    const position = def.layout[node.id] ?? { x: 40 + (i % 8) * 220, y: 40 + Math.floor(i / 8) * 120 };
    const mark = marks.nodes.get(node.id);
    const runMark = run.nodes.get(node.id);
    const selected = wanted ? wanted.nodes.has(node.id) : !!old?.selected;
    if (
      old &&
      old.data.node === node &&
      old.data.mark === mark &&
      old.data.run === runMark &&
      old.data.readOnly === readOnly &&
      old.position.x === position.x &&
      old.position.y === position.y &&
      !!old.selected === selected
    ) {
      return old;
    }
    const { width, height } = sizeOf(node.type);
    return {
      id: node.id,
      type: "step",
      position,
      data: { node, mark, run: runMark, readOnly },
      selected,
      width,
      height,
      measured: old?.measured ?? { width, height },
      handles: handlesOf(node.type, width, height),
      draggable: !readOnly,
      ariaLabel: `${KIND[node.type]?.label ?? node.type}: ${node.name || node.id}`,
    } satisfies StepNode;
  });
}

const ARROWS = { plain: "#64748b", run: "#16a34a", error: "#dc2626", timeout: "#d97706" } as const;

/** One arrowhead per colour, defined once (per-edge marker objects cost React Flow work per edge). */
function arrow(edgeRun: boolean, mark: Mark | undefined, kind: string): string {
  if (mark?.severity === "error") return "wf-arrow-error";
  if (edgeRun) return "wf-arrow-run";
  if (kind === "error") return "wf-arrow-error";
  if (kind === "timeout") return "wf-arrow-timeout";
  return "wf-arrow-plain";
}

function ArrowDefs() {
  return (
    <svg className="wf-markers" aria-hidden="true" focusable="false">
      <defs>
        {Object.entries(ARROWS).map(([name, color]) => (
          <marker key={name} id={`wf-arrow-${name}`} viewBox="-10 -10 20 20" markerWidth="14" markerHeight="14" markerUnits="userSpaceOnUse" orient="auto-start-reverse" refX="0" refY="0">
            <polyline points="-6,-4.5 0,0 -6,4.5 -6,-4.5" fill={color} stroke={color} strokeWidth="1" strokeLinecap="round" strokeLinejoin="round" />
          </marker>
        ))}
      </defs>
    </svg>
  );
}

function deriveEdges(inputs: Inputs, previous: FlowEdge[], wanted: Wanted | null): FlowEdge[] {
  const { def, marks } = inputs;
  const run = inputs.run ?? NO_RUN;
  const ids = new Set(def.nodes.map((n) => n.id));
  const before = new Map(previous.map((e) => [e.id, e]));
  const out: FlowEdge[] = [];
  for (const edge of def.edges) {
    if (!ids.has(edge.from) || !ids.has(edge.to)) continue;
    const old = before.get(edge.id);
    const mark = marks.edges.get(edge.id);
    const visited = run.edges.has(edge.id);
    const selected = wanted ? wanted.edges.has(edge.id) : !!old?.selected;
    if (old && old.data?.edge === edge && old.data.mark === mark && old.data.run === visited && !!old.selected === selected) {
      out.push(old);
      continue;
    }
    const kind = edge.on ?? (edge.default ? "default" : "plain");
    out.push({
      id: edge.id,
      source: edge.from,
      target: edge.to,
      type: "flow",
      data: { edge, mark, run: visited },
      selected,
      markerEnd: arrow(visited, mark, kind),
      ariaLabel: `Connection from ${edge.from} to ${edge.to}`,
    });
  }
  return out;
}

function CanvasComponent({ def, marks, run, readOnly, apiRef, onCommit, onSelection, onReady, onEditName }: Props) {
  const flow = useReactFlow<StepNode, FlowEdge>();
  const store = useStoreApi<StepNode, FlowEdge>();
  const wrapper = useRef<HTMLDivElement>(null);
  const [nodes, setNodes] = useState<StepNode[]>([]);
  const [edges, setEdges] = useState<FlowEdge[]>([]);
  const [inputs, setInputs] = useState<Inputs | null>(null);
  const [wanted, setWanted] = useState<Wanted | null>(null);
  const defRef = useRef(def);
  defRef.current = def;

  // Derive during render (not in an effect): the canvas never shows a frame of stale nodes.
  if (!inputs || inputs.def !== def || inputs.marks !== marks || inputs.run !== run || inputs.readOnly !== readOnly || wanted) {
    const next = { def, marks, run, readOnly };
    setInputs(next);
    setNodes((prev) => deriveNodes(next, prev, wanted));
    setEdges((prev) => deriveEdges(next, prev, wanted));
    if (wanted) setWanted(null);
  }

  const onNodesChange = useCallback(
    (changes: NodeChange<StepNode>[]) => {
      const moved = new Map<string, Point>();
      for (const c of changes) if (c.type === "position" && c.position && !c.dragging) moved.set(c.id, c.position);
      setNodes((ns) => applyNodeChanges(changes.filter((c) => c.type !== "remove"), ns));
      // A finished drag (or a keyboard move) is an edit of the layout: one undo step.
      if (moved.size > 0) onCommit((d) => setPositions(d, moved));
    },
    [onCommit],
  );

  const onEdgesChange = useCallback((changes: EdgeChange<FlowEdge>[]) => {
    setEdges((es) => applyEdgeChanges(changes.filter((c) => c.type !== "remove"), es));
  }, []);

  const onConnect = useCallback(
    (c: Connection) => {
      onCommit((d) => connect(d, c.source, c.target)?.def ?? d);
    },
    [onCommit],
  );

  const isValidConnection = useCallback((c: { source: string; target: string }) => canConnect(defRef.current, c.source, c.target) === null, []);

  const onSelectionChange = useCallback(
    ({ nodes: ns, edges: es }: OnSelectionChangeParams<StepNode, FlowEdge>) => onSelection({ nodes: ns.map((n) => n.id), edges: es.map((e) => e.id) }),
    [onSelection],
  );

  useEffect(() => {
    apiRef.current = {
      select: (n, e = []) => setWanted({ nodes: new Set(n), edges: new Set(e) }),
      clearSelection: () => setWanted({ nodes: new Set(), edges: new Set() }),
      centerOn: ({ node, edge }) => {
        const d = defRef.current;
        let at: Point | undefined;
        if (node) at = d.layout[node];
        else if (edge) {
          const e = d.edges.find((x) => x.id === edge);
          const a = e && d.layout[e.from];
          const b = e && d.layout[e.to];
          if (a && b) at = { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
        }
        if (at) void flow.setCenter(at.x, at.y, { zoom: Math.max(flow.getZoom(), READABLE_ZOOM), duration: 250 });
      },
      fit: () => void flow.fitView({ padding: 0.12, duration: 200, maxZoom: 1.2 }),
      readableFit: () => readableFit(flow, store.getState()),
      toCanvas: (client) => {
        const box = wrapper.current?.getBoundingClientRect();
        const point = client ?? (box ? { x: box.left + box.width / 2, y: box.top + box.height / 2 } : { x: 0, y: 0 });
        return flow.screenToFlowPosition(point);
      },
      contains: (client) => {
        const box = wrapper.current?.getBoundingClientRect();
        return !!box && client.x >= box.left && client.x <= box.right && client.y >= box.top && client.y <= box.bottom;
      },
    };
  }, [apiRef, flow, store]);

  return (
    <div className="wf-canvas" ref={wrapper} data-testid="canvas">
      <ArrowDefs />
      <ReactFlow<StepNode, FlowEdge>
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        edgeTypes={edgeTypes}
        nodeOrigin={[0.5, 0.5]}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={onConnect}
        isValidConnection={isValidConnection}
        onSelectionChange={onSelectionChange}
        onNodeDoubleClick={onEditName}
        nodesDraggable={!readOnly}
        nodesConnectable={!readOnly}
        deleteKeyCode={null}
        selectionKeyCode="Shift"
        multiSelectionKeyCode={["Shift", "Meta", "Control"]}
        snapToGrid
        snapGrid={[GRID, GRID]}
        minZoom={0.05}
        maxZoom={2}
        connectionLineType={ConnectionLineType.SmoothStep}
        connectionRadius={28}
        elevateEdgesOnSelect
        onlyRenderVisibleElements={def.nodes.length > LARGE}
        aria-label="Workflow canvas"
      >
        <Background variant={BackgroundVariant.Dots} gap={GRID} size={1.2} color="#cbd5e1" />
        <Controls position="bottom-left" showInteractive={false} />
        <MiniMap position="bottom-right" pannable zoomable nodeColor={(n) => KIND[(n as StepNode).data.node.type]?.color ?? "#94a3b8"} nodeStrokeWidth={0} style={{ marginBottom: 28, width: 170, height: 110 }} ariaLabel="Overview of the workflow" />
        <ReadyProbe count={def.nodes.length} onReady={onReady} />
      </ReactFlow>
    </div>
  );
}

const READABLE_ZOOM = 0.7;
/** From this many nodes on, only what is in view is rendered. */
const LARGE = 120;

function readableFit(flow: ReactFlowInstance<StepNode, FlowEdge>, size: { width: number; height: number }, duration = 0): void {
  const nodes = flow.getNodes();
  if (nodes.length === 0 || !size.width || !size.height) return;
  const bounds = flow.getNodesBounds(nodes);
  const pad = 48;
  const fit = Math.min((size.width - 2 * pad) / Math.max(bounds.width, 1), (size.height - 2 * pad) / Math.max(bounds.height, 1));
  if (fit >= READABLE_ZOOM) {
    void flow.fitView({ padding: 0.12, maxZoom: 1.2, duration });
    return;
  }
  const zoom = READABLE_ZOOM;
  const y = bounds.height * zoom < size.height - 2 * pad ? size.height / 2 - (bounds.y + bounds.height / 2) * zoom : pad - bounds.y * zoom;
  void flow.setViewport({ x: pad - bounds.x * zoom, y, zoom }, { duration });
}

/** Fits the view once the nodes are measured, then marks the designer ready (for people and the benchmark). */
function ReadyProbe({ count, onReady }: { count: number; onReady: () => void }) {
  const initialised = useNodesInitialized();
  const flow = useReactFlow<StepNode, FlowEdge>();
  const store = useStoreApi<StepNode, FlowEdge>();
  const done = useRef(false);
  useEffect(() => {
    if (done.current || (!initialised && count > 0)) return;
    done.current = true;
    readableFit(flow, store.getState());
    requestAnimationFrame(() => {
      performance.mark("designer-ready");
      onReady();
    });
  }, [initialised, count, flow, store, onReady]);
  return null;
}

/** Memoised: the page re-renders for its panels; the canvas only when its inputs change. */
const Canvas = memo(CanvasComponent);
export default Canvas;
