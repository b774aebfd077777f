// The workflow format as the designer edits it: a mirror of engine/model.py (field names exactly).
// Optional fields may be missing, `null` or — while editing — `undefined` (dropped when saved).

export type NodeType =
  | "start"
  | "end"
  | "user_task"
  | "approval"
  | "http"
  | "notify"
  | "set"
  | "table"
  | "decision"
  | "exclusive"
  | "parallel"
  | "inclusive"
  | "timer"
  | "receive"
  | "subworkflow";

export type JsonSchema = Record<string, unknown>;
export type Policy = "claim" | "round_robin" | "least_loaded";

export interface Assignee {
  user?: string | null;
  role?: string | null;
  expr?: string | null;
  same_as?: string | null;
  not_same_as?: string | null;
  policy?: Policy;
}

export interface Escalation {
  after: string;
  to?: Assignee | null;
  action?: "notify" | "reassign" | "priority";
  priority?: number | null;
}

export interface Sla {
  due: string;
  calendar?: string | null;
  remind?: string[];
  escalate?: Escalation[];
}

/** A message sent to each person a task is given to, the moment the task is created. */
export interface TaskNotice {
  channel?: "email" | "sms";
  /** Email only; a template. */
  subject?: string | null;
  /** A template over the data, `task.*`, `person.*` and `settings.*`. */
  body: string;
  /** A template; empty: the person's own email address or phone number. */
  to?: string | null;
}

export interface WebhookTrigger {
  scheme?: "generic" | "github" | "shopify" | "stripe";
  mapping?: Record<string, string>;
  tolerance_s?: number;
}

export interface Trigger {
  type?: "manual" | "api" | "webhook" | "schedule";
  webhook?: WebhookTrigger | null;
  cron?: string | null;
  roles?: string[];
}

interface NodeBase {
  id: string;
  name?: string;
  stage?: string | null;
  description?: string | null;
}

export interface StartNode extends NodeBase {
  type: "start";
  trigger?: Trigger;
  form?: JsonSchema | null;
}
export interface EndNode extends NodeBase {
  type: "end";
  outcome?: "completed" | "cancelled" | "rejected";
  terminate?: boolean | null;
}
export interface UserTaskNode extends NodeBase {
  type: "user_task";
  assignee: Assignee;
  form?: JsonSchema | null;
  ui?: Record<string, unknown> | null;
  sla?: Sla | null;
  notify?: TaskNotice[] | null;
  instructions?: string | null;
  result?: string | null;
  priority?: number;
}
export interface ApprovalNode extends NodeBase {
  type: "approval";
  approvers: Assignee[];
  outcomes?: string[];
  quorum?: "all" | "any" | number;
  form?: JsonSchema | null;
  sla?: Sla | null;
  notify?: TaskNotice[] | null;
  instructions?: string | null;
  result?: string | null;
  priority?: number;
}
export interface HttpRequest {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  timeout_s?: number;
}
export interface HttpNode extends NodeBase {
  type: "http";
  request: HttpRequest;
  result?: string | null;
  retry?: { attempts?: number; backoff?: string };
  secret?: string | null;
}
export interface NotifyNode extends NodeBase {
  type: "notify";
  channel: "email" | "sms" | "inbox" | "webhook";
  to: string;
  subject?: string | null;
  body?: string;
}
export interface SetNode extends NodeBase {
  type: "set";
  assign: Record<string, string>;
}
export interface TableNode extends NodeBase {
  type: "table";
  table: string;
  op: "get" | "insert" | "update" | "increment";
  key?: Record<string, string>;
  values?: Record<string, string>;
  each?: string | null;
  result?: string | null;
}
export interface DecisionRule {
  when: string[];
  then: Record<string, unknown>;
  note?: string | null;
}
export interface DecisionNode extends NodeBase {
  type: "decision";
  inputs: string[];
  rules: DecisionRule[];
  hit?: "first" | "unique" | "collect";
  output: string;
  default?: Record<string, unknown> | null;
}
export interface GatewayNode extends NodeBase {
  type: "exclusive" | "parallel" | "inclusive";
}
export interface TimerNode extends NodeBase {
  type: "timer";
  duration?: string | null;
  until?: string | null;
  calendar?: string | null;
}
export interface ReceiveNode extends NodeBase {
  type: "receive";
  message: string;
  correlate: string;
  keep_early?: string | null;
  result?: string | null;
}
export interface SubworkflowNode extends NodeBase {
  type: "subworkflow";
  workflow: string;
  input?: Record<string, string>;
  output?: Record<string, string>;
}

export type WfNode =
  | StartNode
  | EndNode
  | UserTaskNode
  | ApprovalNode
  | HttpNode
  | NotifyNode
  | SetNode
  | TableNode
  | DecisionNode
  | GatewayNode
  | TimerNode
  | ReceiveNode
  | SubworkflowNode;

export interface WfEdge {
  id: string;
  from: string;
  to: string;
  label?: string | null;
  condition?: string | null;
  default?: boolean;
  outcome?: string | null;
  on?: "timeout" | "error" | null;
  after?: string | null;
  interrupting?: boolean;
}

export interface Point {
  x: number;
  y: number;
}

/** A whole workflow. `layout` holds each node's centre on the canvas. */
export interface Definition {
  format?: number;
  key: string;
  name?: string;
  description?: string;
  category?: string;
  data?: JsonSchema | null;
  nodes: WfNode[];
  edges: WfEdge[];
  layout: Record<string, Point>;
  version?: number | null;
  [extra: string]: unknown;
}

export type Severity = "error" | "warning";

/** A validation problem from the server, or a good-practice warning computed here. */
export interface Issue {
  code: string;
  message: string;
  node: string | null;
  edge: string | null;
  field: string | null;
  severity: Severity;
  source: "server" | "lint";
}

/** Worst severity and count of the issues on one node or edge (drawn on the canvas). */
export interface Mark {
  severity: Severity;
  count: number;
}

export type RunMark = "visited" | "current" | "incident";

export interface SimTimer {
  purpose: string;
  at: string;
  edge: string | null;
}
export interface SimWait {
  node: string;
  name: string;
  type: string;
  kind: string;
  task_id: string | null;
  sample: Record<string, unknown> | null;
  outcomes: string[];
  timers: SimTimer[];
}
export interface Simulation {
  start: string;
  start_data: Record<string, unknown>;
  status: string;
  finished: boolean;
  moves: number;
  now: string;
  path: { node: string; edge: string | null; at: string }[];
  current: string[];
  waiting: SimWait[];
  incidents: { node: string | null; code: string; message: string }[];
  steps: { at: string; command: string; effects: string[] }[];
  data: Record<string, unknown>;
  stage: string | null;
}
