// The connection component: a rounded orthogonal path, its label as text, its kind as a style.
import { BaseEdge, EdgeLabelRenderer, getSmoothStepPath, useStoreApi, type Edge, type EdgeProps, type EdgeTypes } from "@xyflow/react";
import { memo } from "react";

import { edgeKind, edgeLabel } from "../graph/describe";
import type { Mark, WfEdge } from "../types";

export interface FlowData extends Record<string, unknown> {
  edge: WfEdge;
  mark?: Mark;
  run?: boolean;
}

export type FlowEdge = Edge<FlowData, "flow">;

function FlowComponent({ id, sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, data, selected, markerEnd }: EdgeProps<FlowEdge>) {
  const store = useStoreApi();
  const [path, labelX, labelY] = getSmoothStepPath({ sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, borderRadius: 10, offset: 18 });
  if (!data) return null;
  const kind = edgeKind(data.edge);
  const text = edgeLabel(data.edge);
  let cls = `wf-edge kind-${kind}`;
  if (selected) cls += " is-selected";
  if (data.mark) cls += ` has-${data.mark.severity}`;
  if (data.run) cls += " run-visited";
  return (
    <>
      <BaseEdge id={id} path={path} markerEnd={markerEnd} className={cls} interactionWidth={16} />
      {(text || data.mark) && (
        <EdgeLabelRenderer>
          <div
            className={`wf-edge-label nodrag nopan kind-${kind}${selected ? " is-selected" : ""}${data.mark ? ` has-${data.mark.severity}` : ""}${data.run ? " run-visited" : ""}`}
            style={{ transform: `translate(-50%, -50%) translate(${labelX}px, ${labelY}px)` }}
            data-edge-id={id}
            title={data.edge.condition ?? undefined}
            onClick={() => store.getState().addSelectedEdges([id])}
          >
            {text}
            {data.mark && <span className={`wf-badge inline ${data.mark.severity}`}>{data.mark.count}</span>}
          </div>
        </EdgeLabelRenderer>
      )}
    </>
  );
}

export const Flow = memo(FlowComponent);
export const edgeTypes: EdgeTypes = { flow: Flow };
