// Small line icons for the node types (drawn, not emoji: every browser shows them the same).
import { memo } from "react";

import type { NodeType } from "../types";

const PATHS: Record<NodeType, string> = {
  start: "M6 4.5v7l5.5-3.5z",
  end: "M5 5h6v6H5z",
  user_task: "M8 8a2.6 2.6 0 1 0 0-5.2A2.6 2.6 0 0 0 8 8zm-5 5.5c.6-2.6 2.6-4 5-4s4.4 1.4 5 4",
  approval: "M3 8.5l3 3 7-7",
  http: "M2.5 6h10l-2.5-2.5M13.5 10h-10l2.5 2.5",
  notify: "M2 4h12v8H2zm0 .5l6 4.5 6-4.5",
  set: "M3 6h10M3 10h10M6 3v0M5 13l6-10",
  table: "M2 3h12v10H2zM2 6.5h12M2 9.8h12M6.5 3v10",
  decision: "M2 3h12v10H2zM2 6.5h12M6.5 6.5v6.5M9 9.5l1.2 1.2L12.5 8",
  exclusive: "M4.5 4.5l7 7m0-7l-7 7",
  parallel: "M8 3v10M3 8h10",
  inclusive: "M8 3.5a4.5 4.5 0 1 0 0 9 4.5 4.5 0 0 0 0-9z",
  timer: "M8 2.5a5.5 5.5 0 1 0 0 11 5.5 5.5 0 0 0 0-11zM8 5v3.2l2.2 1.4",
  receive: "M2 4h12v8H2zm0 .5l6 4.5 6-4.5M11 1.5v0",
  subworkflow: "M2.5 3.5h11v9h-11zM8 6v4M6 8h4",
};

export const NodeIcon = memo(function NodeIcon({ type, size = 16 }: { type: NodeType; size?: number }) {
  const d = PATHS[type] ?? PATHS.user_task;
  const filled = type === "start" || type === "end";
  return (
    <svg width={size} height={size} viewBox="0 0 16 16" aria-hidden="true" focusable="false">
      <path
        d={d}
        fill={filled ? "currentColor" : "none"}
        stroke="currentColor"
        strokeWidth={type === "exclusive" || type === "parallel" ? 2.2 : 1.5}
        strokeLinecap="round"
        strokeLinejoin="round"
      />
    </svg>
  );
});
