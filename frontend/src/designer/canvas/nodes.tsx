// The node components: one per shape, memoised (a 500-step workflow re-renders only what moved).
import { Handle, Position, type Node, type NodeProps, type NodeTypes } from "@xyflow/react";
import { memo, type CSSProperties } from "react";

import { KIND, SIZE } from "../catalog";
import { describeNode } from "../graph/describe";
import type { Mark, RunMark, WfNode } from "../types";
import { NodeIcon } from "./icons";

export interface StepData extends Record<string, unknown> {
  node: WfNode;
  mark?: Mark;
  run?: RunMark;
  readOnly?: boolean;
}

export type StepNode = Node<StepData, "step">;

function classes(base: string, data: StepData, selected: boolean): string {
  let out = base;
  if (selected) out += " is-selected";
  if (data.mark) out += ` has-${data.mark.severity}`;
  if (data.run) out += ` run-${data.run}`;
  return out;
}

function Badge({ mark }: { mark?: Mark }) {
  if (!mark) return null;
  return (
    <span className={`wf-badge ${mark.severity}`} title={`${mark.count} ${mark.severity === "error" ? "problem" : "warning"}${mark.count === 1 ? "" : "s"}`}>
      {mark.count}
    </span>
  );
}

function Handles({ type, readOnly }: { type: string; readOnly?: boolean }) {
  return (
    <>
      {type !== "start" && <Handle type="target" position={Position.Left} isConnectable={!readOnly} />}
      {type !== "end" && <Handle type="source" position={Position.Right} isConnectable={!readOnly} />}
    </>
  );
}

function StepComponent({ data, selected }: NodeProps<StepNode>) {
  const node = data.node;
  const kind = KIND[node.type] ?? KIND.user_task;
  const style = { "--kind": kind.color } as CSSProperties;
  const name = node.name || (kind.shape === "box" ? node.id : "");
  if (kind.shape === "box") {
    return (
      <div className={classes("wf-node wf-box", data, !!selected)} style={{ ...style, ...SIZE.box }} data-node-id={node.id} data-type={node.type}>
        <Handles type={node.type} readOnly={data.readOnly} />
        <span className="wf-icon">
          <NodeIcon type={node.type} />
        </span>
        <span className="wf-text">
          <span className="wf-name">{name}</span>
          <span className="wf-sub">{describeNode(node)}</span>
        </span>
        <Badge mark={data.mark} />
      </div>
    );
  }
  const shape = kind.shape === "circle" ? "wf-circle" : "wf-diamond";
  return (
    <div className={classes(`wf-node ${shape}`, data, !!selected)} style={{ ...style, ...SIZE[kind.shape] }} data-node-id={node.id} data-type={node.type}>
      <span className={`wf-shape ${node.type}`}>
        <NodeIcon type={node.type} size={kind.shape === "circle" ? 16 : 20} />
      </span>
      {name && <span className="wf-caption">{name}</span>}
      <Handles type={node.type} readOnly={data.readOnly} />
      <Badge mark={data.mark} />
    </div>
  );
}

export const Step = memo(StepComponent);

// Outside any component: React Flow re-creates node components when this object changes.
export const nodeTypes: NodeTypes = { step: Step };
