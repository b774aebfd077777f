// The published workflow, read-only, each step coloured by the average time its tasks took.
import { Background, Handle, Position, ReactFlow, type Edge, type Node, type NodeProps } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import type { ELK } from "elkjs/lib/elk-api";
import { useEffect, useMemo, useState } from "react";

import { duration, heatColour, heatInk, HeatLegend } from "./charts";

export interface StepTime {
  step: string;
  name: string;
  tasks: number;
  avg_s: number | null;
  p50_s: number | null;
  p90_s: number | null;
}

interface DefNode {
  id: string;
  type: string;
  name?: string;
}

interface DefEdge {
  id: string;
  from: string;
  to: string;
  label?: string;
  on?: string;
}

export interface Definition {
  nodes: DefNode[];
  edges: DefEdge[];
  layout?: Record<string, { x: number; y: number }>;
}

interface HeatData extends Record<string, unknown> {
  name: string;
  kind: string;
  timed: boolean;
  time: StepTime | null;
  share: number;
}

const TASK_TYPES = new Set(["user_task", "approval"]);
const BOX = { width: 168, height: 64 };
const SMALL = { width: 132, height: 44 };

function HeatNode({ data }: NodeProps<Node<HeatData>>) {
  const { name, kind, timed, time, share } = data;
  const style = timed && time?.avg_s != null ? { background: heatColour(share), color: heatInk(share) } : undefined;
  return (
    <div className={`heat-node ${timed ? "task" : "other"} ${kind}`} style={style} title={time ? `${name}: ${time.tasks} task(s), average ${duration(time.avg_s ?? 0)}` : name}>
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <div className="heat-name">{name}</div>
      {timed && <div className="heat-time">{time?.avg_s != null ? `${duration(time.avg_s)} avg · ${time.tasks}` : "no tasks yet"}</div>}
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
}

const NODE_TYPES = { heat: HeatNode };

let elk: Promise<ELK> | null = null;

/** Centres for the nodes the definition does not place, by ELK's layered layout (left to right). */
async function centres(definition: Definition): Promise<Map<string, { x: number; y: number }>> {
  const out = new Map<string, { x: number; y: number }>();
  const layout = definition.layout ?? {};
  if (definition.nodes.every((n) => layout[n.id])) {
    for (const n of definition.nodes) out.set(n.id, layout[n.id]!);
    return out;
  }
  elk ??= import("elkjs/lib/elk.bundled.js").then((m) => new m.default());
  const engine = await elk;
  const ids = new Set(definition.nodes.map((n) => n.id));
  const result = await engine.layout({
    id: "root",
    layoutOptions: {
      "elk.algorithm": "layered",
      "elk.direction": "RIGHT",
      "elk.layered.spacing.nodeNodeBetweenLayers": "60",
      "elk.spacing.nodeNode": "30",
      "elk.layered.considerModelOrder.strategy": "NODES_AND_EDGES",
      // a long flow wraps into rows instead of one strip too thin to read
      "elk.layered.wrapping.strategy": "MULTI_EDGE",
      "elk.aspectRatio": "2.6",
    },
    children: definition.nodes.map((n) => ({ id: n.id, ...(TASK_TYPES.has(n.type) ? BOX : SMALL) })),
    edges: definition.edges.filter((e) => ids.has(e.from) && ids.has(e.to) && e.from !== e.to).map((e) => ({ id: e.id, sources: [e.from], targets: [e.to] })),
  });
  for (const child of result.children ?? []) out.set(child.id, { x: (child.x ?? 0) + (child.width ?? 0) / 2, y: (child.y ?? 0) + (child.height ?? 0) / 2 });
  return out;
}

export function HeatDiagram({ definition, times, label }: { definition: Definition; times: StepTime[]; label: string }) {
  const [placed, setPlaced] = useState<Map<string, { x: number; y: number }> | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    setPlaced(null);
    centres(definition)
      .then((found) => live && setPlaced(found))
      .catch((e: unknown) => live && setError(String(e)));
    return () => {
      live = false;
    };
  }, [definition]);

  const byStep = useMemo(() => new Map(times.map((t) => [t.step, t])), [times]);
  const max = Math.max(0, ...times.map((t) => t.avg_s ?? 0));
  const nodes = useMemo<Node<HeatData>[]>(
    () =>
      placed
        ? definition.nodes.map((n) => {
            const time = byStep.get(n.id) ?? null;
            const timed = TASK_TYPES.has(n.type) || time !== null;
            return {
              id: n.id,
              type: "heat",
              position: placed.get(n.id) ?? { x: 0, y: 0 },
              data: { name: n.name || n.id, kind: n.type, timed, time, share: max ? (time?.avg_s ?? 0) / max : 0 },
              draggable: false,
              selectable: false,
              focusable: false,
            };
          })
        : [],
    [placed, definition, byStep, max],
  );
  const edges = useMemo<Edge[]>(
    () =>
      definition.edges.map((e) => ({
        id: e.id,
        source: e.from,
        target: e.to,
        type: "smoothstep",
        focusable: false,
        style: { stroke: "#94a3b8" },
      })),
    [definition],
  );

  const timed = times.filter((t) => t.avg_s != null).sort((a, b) => (b.avg_s ?? 0) - (a.avg_s ?? 0));
  const summary = timed.length ? `Slowest steps: ${timed.slice(0, 4).map((t) => `${t.name} ${duration(t.avg_s ?? 0)} on average over ${t.tasks} task(s)`).join("; ")}.` : "No completed tasks in this range.";
  return (
    <div className="heat-wrap">
      <div className="heat-canvas" role="img" aria-label={`${label}. ${summary}`}>
        {error ? (
          <p className="hint">The diagram could not be laid out: {error}</p>
        ) : placed ? (
          <ReactFlow
            nodes={nodes}
            edges={edges}
            nodeTypes={NODE_TYPES}
            nodeOrigin={[0.5, 0.5]}
            fitView
            fitViewOptions={{ padding: 0.08 }}
            minZoom={0.2}
            nodesDraggable={false}
            nodesConnectable={false}
            elementsSelectable={false}
            nodesFocusable={false}
            edgesFocusable={false}
            zoomOnScroll={false}
            preventScrolling={false}
            proOptions={{ hideAttribution: true }}
          >
            <Background gap={20} color="#eef2f7" />
          </ReactFlow>
        ) : (
          <p className="hint">Drawing the workflow…</p>
        )}
      </div>
      <HeatLegend max={max || 3600} />
    </div>
  );
}
