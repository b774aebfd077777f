// One line about a node or an edge, for the canvas and the lists.
import { KIND } from "../catalog";
import type { Assignee, WfEdge, WfNode } from "../types";
import { describeDuration } from "./duration";

export function describeAssignee(a: Assignee | null | undefined): string {
  if (!a) return "nobody yet";
  const four = a.not_same_as ? ` (not who did ${a.not_same_as})` : "";
  if (a.user) return `${a.user}${four}`;
  if (a.role) return `role ${a.role}${four}`;
  if (a.expr) return `from ${a.expr}${four}`;
  if (a.same_as) return `whoever did ${a.same_as}`;
  if (a.not_same_as) return `anyone but who did ${a.not_same_as}`;
  return "nobody yet";
}

export function describeNode(node: WfNode): string {
  const kind = KIND[node.type]?.label ?? node.type;
  switch (node.type) {
    case "start":
      return `Start · ${node.trigger?.type ?? "manual"}`;
    case "end":
      return node.outcome && node.outcome !== "completed" ? node.outcome : "completed";
    case "user_task":
      return describeAssignee(node.assignee);
    case "approval": {
      const n = node.approvers?.length ?? 0;
      return n === 1 ? `Approval · ${describeAssignee(node.approvers[0])}` : `Approval · ${n} approvers`;
    }
    case "http": {
      let host = node.request?.url ?? "";
      try {
        host = new URL(host).host || host;
      } catch {
        /* a template, keep it */
      }
      return `${node.request?.method ?? "POST"} ${host}`;
    }
    case "notify":
      return `${node.channel ?? "email"} to ${node.to ?? "?"}`;
    case "set":
      return `Set ${Object.keys(node.assign ?? {}).join(", ") || "data"}`;
    case "table":
      return `${node.op ?? "get"} ${node.table ?? ""}`;
    case "decision":
      return `Decision → ${node.output ?? "?"}`;
    case "timer":
      return node.duration ? `Wait ${describeDuration(node.duration)}` : `Wait until ${node.until ?? "?"}`;
    case "receive":
      return `Message ${node.message ?? "?"}`;
    case "subworkflow":
      return `Runs ${node.workflow || "?"}`;
    default:
      return kind;
  }
}

export function edgeKind(edge: WfEdge): "timeout" | "error" | "default" | "outcome" | "condition" | "plain" {
  if (edge.on === "timeout") return "timeout";
  if (edge.on === "error") return "error";
  if (edge.default) return "default";
  if (edge.outcome) return "outcome";
  if (edge.condition) return "condition";
  return "plain";
}

/** The text on an edge: its label, or what makes it taken. */
export function edgeLabel(edge: WfEdge): string {
  const kind = edgeKind(edge);
  if (edge.label) return edge.label;
  switch (kind) {
    case "timeout":
      return `after ${describeDuration(edge.after) || edge.after}`;
    case "error":
      return "on error";
    case "default":
      return "otherwise";
    case "outcome":
      return edge.outcome ?? "";
    case "condition": {
      const c = edge.condition ?? "";
      return c.length > 28 ? `${c.slice(0, 27)}…` : c;
    }
    default:
      return "";
  }
}
