// The instance's workflow, read-only, with the path it took and where it waits now.
// Hovering or focusing a node that decided something shows the values it saw and why.
import {
  Controls,
  Handle,
  MarkerType,
  Position,
  ReactFlow,
  type Edge,
  type Node,
  type NodeProps,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useEffect, useLayoutEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { createPortal } from "react-dom";

import { formatTime } from "../../components/ui";
import { GATEWAYS, highlight, inputLines, positions, ROUND, ruleNotes, sizeOf, type Highlight, type Positions } from "./pathGraph";
import type { Decision, PathOut, PathWait, WorkflowDefinition } from "./types";

const TYPE_LABEL: Record<string, string> = {
  start: "Start",
  end: "End",
  user_task: "Task",
  approval: "Approval",
  http: "System call",
  notify: "Message",
  set: "Compute",
  table: "Data table",
  decision: "Decision table",
  exclusive: "One way",
  parallel: "All ways",
  inclusive: "Some ways",
  timer: "Timer",
  receive: "Wait for message",
  subworkflow: "Sub-workflow",
};
const GLYPH: Record<string, string> = { exclusive: "✕", parallel: "+", inclusive: "○" };

interface Explanation {
  reason: string;
  inputs: string[];
  conditions: { text: string; held: boolean }[];
  notes: string[];
  at: string | null;
}

interface StepData extends Record<string, unknown> {
  label: string;
  type: string;
  state: "waiting" | "visited" | "idle";
  visits: number;
  explanation: Explanation | null;
  wait: { kind: string; since: string | null; who: string[]; until: string | null; message: string | null } | null;
}

type StepNode = Node<StepData, "step">;

/** A tooltip beside `anchor`, drawn over the page (the diagram's box would clip it). */
function FloatingTip({ anchor, id, testId, gap, children }: { anchor: HTMLElement | null; id: string; testId: string; gap: number; children: ReactNode }) {
  const tip = useRef<HTMLDivElement>(null);
  const [place, setPlace] = useState<{ top: number; left: number } | null>(null);
  useLayoutEffect(() => {
    const measure = () => {
      if (!anchor || !tip.current) return;
      const a = anchor.getBoundingClientRect();
      const t = tip.current.getBoundingClientRect();
      const below = a.bottom + gap + t.height <= window.innerHeight || a.top - 10 - t.height < 0;
      const top = below ? a.bottom + gap : a.top - 10 - t.height;
      const left = Math.min(Math.max(8, a.left + a.width / 2 - t.width / 2), window.innerWidth - t.width - 8);
      setPlace({ top, left });
    };
    measure();
    window.addEventListener("scroll", measure, true);
    window.addEventListener("resize", measure);
    return () => {
      window.removeEventListener("scroll", measure, true);
      window.removeEventListener("resize", measure);
    };
  }, [anchor, gap]);
  return createPortal(
    <div ref={tip} id={id} role="tooltip" data-testid={testId} className="why-tip" style={{ position: "fixed", top: place?.top ?? -9999, left: place?.left ?? -9999, zIndex: 50 }}>
      {children}
    </div>,
    document.body,
  );
}

function StepView({ data, id }: NodeProps<StepNode>) {
  const [shownTip, setShownTip] = useState(false);
  const self = useRef<HTMLDivElement>(null);
  const gateway = GATEWAYS.has(data.type);
  const round = ROUND.has(data.type);
  const explains = !!(data.explanation || data.wait);
  const tipId = `tip-${id}`;
  const shape = gateway ? "gateway" : round ? "round" : "box";
  const stateText = data.state === "waiting" ? "waiting here now" : data.state === "visited" ? "visited" : "not visited";
  return (
    <div
      ref={self}
      className={`step step-${shape} step-${data.state} step-type-${data.type}`}
      data-node={id}
      tabIndex={explains ? 0 : undefined}
      role={explains ? "button" : undefined}
      aria-label={`${data.label} (${TYPE_LABEL[data.type] ?? data.type}), ${stateText}`}
      aria-describedby={explains && shownTip ? tipId : undefined}
      aria-expanded={explains ? shownTip : undefined}
      onMouseEnter={() => setShownTip(true)}
      onMouseLeave={() => setShownTip(false)}
      onFocus={() => setShownTip(true)}
      onBlur={() => setShownTip(false)}
      onKeyDown={(e) => e.key === "Escape" && setShownTip(false)}
    >
      <Handle type="target" position={Position.Left} isConnectable={false} />
      {gateway ? (
        <>
          <span className="gateway-glyph" aria-hidden="true">
            {GLYPH[data.type] ?? "◇"}
          </span>
          <span className="gateway-label">{data.label}</span>
        </>
      ) : round ? (
        <span className="round-label">{data.label}</span>
      ) : (
        <>
          <span className="step-type">{TYPE_LABEL[data.type] ?? data.type}</span>
          <span className="step-name">{data.label}</span>
        </>
      )}
      {data.state === "waiting" && <span className="waiting-flag">Waiting</span>}
      {data.visits > 1 && <span className="visits">×{data.visits}</span>}
      {explains && <span className="why-mark" aria-hidden="true">?</span>}
      <Handle type="source" position={Position.Right} isConnectable={false} />
      {explains && shownTip && (
        <FloatingTip anchor={self.current} id={tipId} testId={`why-${id}`} gap={gateway || round ? 34 : 10}>
          <strong className="why-title">{data.label}</strong>
          {data.explanation && <Why explanation={data.explanation} />}
          {data.wait && <Waiting wait={data.wait} />}
        </FloatingTip>
      )}
    </div>
  );
}

function Why({ explanation: x }: { explanation: Explanation }) {
  return (
    <div className="why">
      <p className="why-reason">
        <span className="why-label">Why: </span>
        {x.reason}
      </p>
      {x.notes.length > 0 && (
        <p>
          <span className="why-label">Rule: </span>
          {x.notes.join("; ")}
        </p>
      )}
      {x.inputs.length > 0 && (
        <>
          <span className="why-label">Values it saw</span>
          <ul className="why-list">
            {x.inputs.map((line) => (
              <li key={line}>
                <code>{line}</code>
              </li>
            ))}
          </ul>
        </>
      )}
      {x.conditions.length > 0 && (
        <>
          <span className="why-label">Conditions</span>
          <ul className="why-list">
            {x.conditions.map((c) => (
              <li key={c.text} className={c.held ? "held" : "failed"}>
                <span aria-label={c.held ? "held" : "did not hold"}>{c.held ? "✓" : "✗"}</span> <code>{c.text}</code>
              </li>
            ))}
          </ul>
        </>
      )}
      {x.at && <span className="hint">{formatTime(x.at)}</span>}
    </div>
  );
}

function Waiting({ wait }: { wait: NonNullable<StepData["wait"]> }) {
  const what =
    wait.kind === "message" ? `a message${wait.message ? ` “${wait.message}”` : ""}` : wait.kind === "timer" ? "a timer" : wait.kind === "http" ? "another system to answer" : wait.who.length ? wait.who.join(", ") : `its ${wait.kind}`;
  return (
    <p className="why-wait">
      <span className="why-label">Waiting for: </span>
      {what}
      {wait.since && <span className="hint"> since {formatTime(wait.since)}</span>}
      {wait.until && <span className="hint"> until {formatTime(wait.until)}</span>}
    </p>
  );
}

const nodeTypes = { step: StepView };

function explanationFor(definition: WorkflowDefinition, lit: Highlight, raw: Decision[], nodeId: string): Explanation | null {
  const decision = lit.decisions.get(nodeId);
  if (!decision) return null;
  const labels = new Map(definition.edges.map((e) => [e.id, e.label ?? ""]));
  const rawLast = [...raw].reverse().find((d) => d.node === nodeId);
  const node = definition.nodes.find((n) => n.id === nodeId);
  return {
    reason: decision.reason,
    inputs: inputLines(decision.inputs),
    conditions: decision.evaluated
      .filter((e) => e.condition)
      .map((e) => ({ text: `${e.condition}${e.edge && labels.get(e.edge) ? ` (${labels.get(e.edge)})` : ""}`, held: !!e.result })),
    notes: rawLast ? ruleNotes(node, { ...decision, matched: rawLast.matched } as typeof decision) : [],
    at: decision.at,
  };
}

function waitFor(w: PathWait): StepData["wait"] {
  return {
    kind: w.kind,
    since: w.since,
    until: w.until ?? null,
    message: w.message ?? null,
    who: w.tasks.map((t) => t.assignee ?? [...t.candidate_roles.map((r) => `${r} team`), ...t.candidate_users].join(", ")).filter(Boolean),
  };
}

export function PathDiagram({ definition, path, raw }: { definition: WorkflowDefinition; path: PathOut | null; raw: Decision[] }) {
  const [placed, setPlaced] = useState<Positions | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    positions(definition)
      .then((p) => live && setPlaced(p))
      .catch((e: unknown) => live && setError(String(e)));
    return () => {
      live = false;
    };
  }, [definition]);

  const { nodes, edges } = useMemo(() => {
    const lit = highlight(path);
    const waits = new Map((path?.waiting ?? []).map((w) => [w.node, w]));
    const nodes: StepNode[] = definition.nodes.map((n) => {
      const size = sizeOf(n.type);
      const wait = lit.waiting.has(n.id) ? waits.get(n.id) : undefined;
      const explanation = explanationFor(definition, lit, raw, n.id);
      return {
        id: n.id,
        type: "step",
        // React Flow ignores the pointer on nodes nobody can select or drag; ours explain on hover
        style: explanation || wait ? { pointerEvents: "all" as const } : undefined,
        position: placed?.[n.id] ?? { x: 0, y: 0 },
        width: size.width,
        height: size.height,
        data: {
          label: n.name || n.id,
          type: n.type,
          state: lit.waiting.has(n.id) ? "waiting" : lit.visited.has(n.id) ? "visited" : "idle",
          visits: lit.visits.get(n.id) ?? 0,
          explanation,
          wait: wait ? waitFor(wait) : null,
        },
      };
    });
    const edges: Edge[] = definition.edges.map((e) => {
      const taken = lit.taken.has(e.id);
      const colour = taken ? "var(--path)" : "#cbd5e1";
      return {
        id: e.id,
        source: e.from,
        target: e.to,
        type: "smoothstep",
        label: e.label || (e.on === "timeout" ? "timeout" : e.on === "error" ? "on error" : undefined),
        className: taken ? "edge-taken" : "edge-idle",
        animated: taken && lit.waiting.has(e.to),
        style: { stroke: colour, strokeWidth: taken ? 2.5 : 1.2, strokeDasharray: e.on ? "5 4" : undefined },
        markerEnd: { type: MarkerType.ArrowClosed, color: taken ? "#4338ca" : "#cbd5e1", width: 16, height: 16 },
        labelStyle: { fontSize: 11, fill: taken ? "#3730a3" : "#64748b", fontWeight: taken ? 600 : 400 },
        labelBgStyle: { fill: "#fff" },
        labelBgPadding: [4, 2] as [number, number],
        zIndex: taken ? 1 : 0,
      };
    });
    return { nodes, edges };
  }, [definition, path, raw, placed]);

  // The view opens on the latest part of the path, where the instance is now, at a size that
  // can be read; the whole diagram is a press of the fit button away.
  const focus = useMemo(() => {
    const lit = highlight(path);
    const latest: string[] = [];
    for (const step of path?.steps ?? []) {
      const seen = latest.indexOf(step.node);
      if (seen >= 0) latest.splice(seen, 1);
      latest.push(step.node);
    }
    const ids = [...new Set([...latest.slice(-RECENT_STEPS), ...lit.waiting])];
    return ids.length ? ids.map((id) => ({ id })) : undefined;
  }, [path]);

  if (error) return <p className="error-note">The diagram could not be drawn: {error}</p>;
  if (!placed) return <div className="diagram diagram-loading">Drawing the diagram…</div>;
  return (
    <div className="diagram" data-testid="path-diagram">
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        fitView
        fitViewOptions={{ nodes: focus, padding: 0.12, minZoom: 0.45, maxZoom: 1.1 }}
        minZoom={0.15}
        maxZoom={1.6}
        zoomOnScroll={false}
        panOnScroll={false}
        preventScrolling={false}
        nodesDraggable={false}
        nodesConnectable={false}
        nodesFocusable={false}
        edgesFocusable={false}
        elementsSelectable={false}
        proOptions={{ hideAttribution: true }}
        aria-label="Workflow diagram with the path this instance took"
      >
        <Controls showInteractive={false} position="top-right" />
      </ReactFlow>
    </div>
  );
}

/** How many of the latest steps the path diagram opens on. */
const RECENT_STEPS = 7;
