// The palette: every node type of the format with its look, one line of help and a new node's settings.
import type { NodeType, WfNode } from "./types";

export type Shape = "circle" | "diamond" | "box";

export interface NodeKind {
  type: NodeType;
  label: string;
  help: string;
  group: "Events" | "People" | "Automation" | "Gateways" | "Waits";
  shape: Shape;
  color: string;
  /** The name a new node of this kind gets (a verb first, as the naming hint asks). */
  defaultName: string;
  /** The id prefix of new nodes. */
  idBase: string;
}

export const KINDS: readonly NodeKind[] = [
  { type: "start", label: "Start", help: "Where an instance begins: by hand, API, webhook or schedule.", group: "Events", shape: "circle", color: "#15803d", defaultName: "Start", idBase: "start" },
  { type: "end", label: "End", help: "Ends the path — completed, cancelled or rejected.", group: "Events", shape: "circle", color: "#b91c1c", defaultName: "Done", idBase: "end" },
  { type: "user_task", label: "User task", help: "A task in someone's inbox, with a form and an SLA.", group: "People", shape: "box", color: "#4338ca", defaultName: "Review request", idBase: "task" },
  { type: "approval", label: "Approval", help: "Approve or reject, by one or several approvers.", group: "People", shape: "box", color: "#7c3aed", defaultName: "Approve request", idBase: "approval" },
  { type: "http", label: "HTTP call", help: "Calls another system; failures may take an error path.", group: "Automation", shape: "box", color: "#0e7490", defaultName: "Call service", idBase: "call" },
  { type: "notify", label: "Notification", help: "Sends an email, SMS, inbox message or webhook.", group: "Automation", shape: "box", color: "#0f766e", defaultName: "Send notification", idBase: "notify" },
  { type: "set", label: "Set data", help: "Computes fields of the instance data.", group: "Automation", shape: "box", color: "#475569", defaultName: "Set data", idBase: "set" },
  { type: "table", label: "Data table", help: "Reads or changes a row of a data table.", group: "Automation", shape: "box", color: "#a16207", defaultName: "Update table", idBase: "table" },
  { type: "decision", label: "Decision table", help: "Picks a result from rules (first hit, unique, collect).", group: "Automation", shape: "box", color: "#c2410c", defaultName: "Decide route", idBase: "decide" },
  { type: "exclusive", label: "Exclusive gateway", help: "One way out: the first condition that holds, else the default.", group: "Gateways", shape: "diamond", color: "#b45309", defaultName: "Which way?", idBase: "gateway" },
  { type: "parallel", label: "Parallel gateway", help: "Splits to all ways out; as a join, waits for all.", group: "Gateways", shape: "diamond", color: "#b45309", defaultName: "", idBase: "parallel" },
  { type: "inclusive", label: "Inclusive gateway", help: "Takes every way whose condition holds; joins those taken.", group: "Gateways", shape: "diamond", color: "#b45309", defaultName: "", idBase: "inclusive" },
  { type: "timer", label: "Timer", help: "Waits for a duration or until a date.", group: "Waits", shape: "box", color: "#1d4ed8", defaultName: "Wait a day", idBase: "timer" },
  { type: "receive", label: "Receive message", help: "Waits for a message from outside, matched by a value.", group: "Waits", shape: "box", color: "#be185d", defaultName: "Wait for message", idBase: "receive" },
  { type: "subworkflow", label: "Subworkflow", help: "Starts another published workflow and waits for it.", group: "Waits", shape: "box", color: "#334155", defaultName: "Run subworkflow", idBase: "sub" },
];

export const KIND: Record<NodeType, NodeKind> = Object.fromEntries(KINDS.map((k) => [k.type, k])) as Record<NodeType, NodeKind>;

export const GROUPS = ["Events", "People", "Automation", "Gateways", "Waits"] as const;

export const TASK_TYPES: ReadonlySet<string> = new Set(["user_task", "approval"]);
export const WAITING_TYPES: ReadonlySet<string> = new Set(["user_task", "approval", "timer", "receive", "http", "subworkflow"]);
export const ERROR_TYPES: ReadonlySet<string> = new Set(["http", "table", "subworkflow"]);
export const GATEWAY_TYPES: ReadonlySet<string> = new Set(["exclusive", "parallel", "inclusive"]);

/** Sizes in canvas pixels; a node's layout position is its centre. */
export const SIZE: Record<Shape, { width: number; height: number }> = {
  box: { width: 180, height: 64 },
  diamond: { width: 56, height: 56 },
  circle: { width: 44, height: 44 },
};

export function sizeOf(type: string): { width: number; height: number } {
  const kind = KIND[type as NodeType];
  return SIZE[kind ? kind.shape : "box"];
}

export function isNodeType(value: unknown): value is NodeType {
  return typeof value === "string" && value in KIND;
}

/** A new node of `type` whose settings parse (so validation can speak about the graph). */
export function makeNode(type: NodeType, id: string, me: string): WfNode {
  const name = KIND[type].defaultName;
  const base = name ? { id, name } : { id };
  switch (type) {
    case "start":
      return { ...base, type, trigger: { type: "manual" } };
    case "end":
      return { ...base, type, outcome: "completed" };
    case "user_task":
      return { ...base, type, assignee: { user: me } };
    case "approval":
      return { ...base, type, approvers: [{ user: me }], outcomes: ["approve", "reject"], quorum: "all" };
    case "http":
      return { ...base, type, request: { method: "POST", url: "https://example.com/api" } };
    case "notify":
      return { ...base, type, channel: "inbox", to: me, subject: "", body: "" };
    case "set":
      return { ...base, type, assign: { note: "'done'" } };
    case "table":
      return { ...base, type, table: "inventory", op: "get", key: {} };
    case "decision":
      return { ...base, type, inputs: ["total"], rules: [{ when: [">= 1000"], then: { route: "large" } }], hit: "first", output: "route", default: { route: "normal" } };
    case "timer":
      return { ...base, type, duration: "P1D" };
    case "receive":
      return { ...base, type, message: "message", correlate: "id" };
    case "subworkflow":
      return { ...base, type, workflow: "", input: {}, output: {} };
    default:
      return { ...base, type } as WfNode;
  }
}
