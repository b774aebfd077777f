// Shapes of the work pages' API answers (inbox, tasks, requests, instances).
// Mirrors app/schemas.py and app/routes/{inbox,tasks,instances,requests,documents}.py.

export type SlaState = "overdue" | "at_risk" | "ok";

export interface TaskOut {
  id: string;
  instance_id: string;
  workflow_key: string;
  node: string;
  name: string;
  status: string;
  assignee: string | null;
  candidate_users: string[];
  candidate_roles: string[];
  delegated_from: string | null;
  priority: number;
  due_at: string | null;
  overdue: boolean;
  at_risk?: boolean;
  created_at: string;
  completed_at: string | null;
  completed_by: string | null;
  outcome: string | null;
  outcomes: string[];
}

export interface InboxItem extends TaskOut {
  source?: "mine" | "delegated" | "pool";
  sla_state?: SlaState | null;
  seconds_left?: number | null;
  workflow_name?: string;
  stage?: string | null;
  business_key?: string | null;
}

export interface InboxPage {
  items: InboxItem[];
  total: number;
  offset: number;
  limit: number;
  now?: string;
}

export type Scope = "all" | "mine" | "roles" | "delegated";
export type Sort = "sla" | "due" | "-due" | "created" | "-created" | "priority";

/** The inbox's filter, as ``GET /api/inbox`` and a saved view take it. */
export interface InboxQuery {
  scope?: Scope;
  workflow?: string | null;
  stage?: string | null;
  due_before?: string | null;
  due_after?: string | null;
  q?: string | null;
  sla?: "overdue" | "at_risk" | "ok" | "none" | null;
  sort?: Sort;
  limit?: number;
}

export interface SavedView {
  id: string;
  name: string;
  query: InboxQuery;
  created_at: string;
}

export interface ClaimResult {
  id: string;
  result: "claimed" | "already_taken" | "not_allowed";
  code: string;
  message: string;
}

export interface TaskCan {
  claim: boolean;
  unclaim: boolean;
  complete: boolean;
  delegate: boolean;
  reassign: boolean;
}

export interface InstanceBrief {
  id: string;
  workflow_key: string;
  workflow_name: string;
  status: string;
  stage: string | null;
  business_key: string | null;
  started_by: string | null;
  started_at: string;
  key_fields: Record<string, unknown>;
}

export interface TaskDetail extends TaskOut {
  form: Record<string, unknown> | null;
  ui?: Record<string, unknown> | null;
  instructions: string | null;
  instance_stage: string | null;
  instance_data: Record<string, unknown>;
  instance?: InstanceBrief | null;
  can?: TaskCan | null;
  sla_state?: SlaState | null;
  seconds_left?: number | null;
}

export interface CommentOut {
  id: string;
  instance_id: string;
  task_id: string | null;
  task_name?: string | null;
  author: string;
  body: string;
  created_at: string;
}

export interface DocumentOut {
  id: string;
  instance_id: string;
  task_id: string | null;
  filename: string;
  content_type: string;
  size: number;
  uploaded_by: string | null;
  uploaded_at: string;
}

export interface InstanceSummary {
  id: string;
  workflow_key: string;
  workflow_version: number;
  workflow_name?: string;
  status: string;
  suspended: boolean;
  stage: string | null;
  business_key: string | null;
  parent_id: string | null;
  started_by: string | null;
  started_at: string;
  updated_at: string;
  finished_at: string | null;
  open_incidents: number;
  version: number;
}

export interface IncidentOut {
  id: string;
  engine_id: string;
  node: string;
  code: string;
  message: string;
  details: Record<string, unknown>;
  status: string;
  created_at: string;
}

export interface PathStep {
  node: string;
  token?: string;
  edge: string | null;
  at?: string;
}

export interface StageEntry {
  stage: string;
  node?: string;
  at?: string;
}

export interface Decision {
  node: string;
  kind?: string;
  at?: string;
  inputs?: Record<string, unknown>;
  evaluated?: { edge: string; condition?: string; result?: boolean }[];
  chosen?: string[];
  default?: boolean;
  outcome?: string | null;
  matched?: number[];
  output?: unknown;
  error?: string;
  hit?: string;
  why?: string;
  reason?: string;
}

export interface InstanceOut extends InstanceSummary {
  data: Record<string, unknown>;
  tracking_token?: string;
  open_tasks: TaskOut[];
  path: PathStep[];
  stages: StageEntry[];
  decisions: Decision[];
  incidents: IncidentOut[];
}

/** ``GET /api/instances/{id}/path``: the way an instance went, where it waits, and why. */
export interface PathStep2 {
  node: string;
  name: string;
  type: string;
  at: string;
  edge: string | null;
  token: string;
}

export interface PathEdge {
  id: string;
  from: string;
  to: string;
  label: string | null;
  at: string;
}

export interface PathWait {
  node: string;
  name: string;
  type: string;
  kind: string;
  since: string | null;
  tasks: TaskOut[];
  message?: string | null;
  until?: string | null;
}

export interface PathDecision {
  node: string;
  name: string;
  kind: string;
  at: string | null;
  inputs: Record<string, unknown>;
  evaluated: { edge?: string; condition?: string; result?: boolean }[];
  chosen: string[];
  output?: unknown;
  reason: string;
}

export interface PathOut {
  instance_id: string;
  status: string;
  stage: string | null;
  steps: PathStep2[];
  edges: PathEdge[];
  waiting: PathWait[];
  decisions: PathDecision[];
}

export interface AuditOut {
  id: number;
  at: string;
  actor: string | null;
  on_behalf_of: string | null;
  action: string;
  instance_id: string | null;
  task_id: string | null;
  details: Record<string, unknown>;
}

export interface VersionOut {
  key: string;
  version: number;
  definition: WorkflowDefinition;
  published_at: string;
}

export interface DefinitionNode {
  id: string;
  type: string;
  name?: string;
  stage?: string | null;
  form?: Record<string, unknown> | null;
  ui?: Record<string, unknown> | null;
  description?: string | null;
  [extra: string]: unknown;
}

export interface DefinitionEdge {
  id: string;
  from: string;
  to: string;
  label?: string;
  condition?: string;
  default?: boolean;
  on?: string;
  outcome?: string;
}

export interface WorkflowDefinition {
  key?: string;
  name?: string;
  description?: string;
  nodes: DefinitionNode[];
  edges: DefinitionEdge[];
  layout?: Record<string, { x: number; y: number }>;
}

/** ``GET /api/startable``: a workflow I may start, with its start form. */
export interface Startable {
  key: string;
  name: string;
  description: string;
  category?: string;
  version: number;
  trigger: string;
  form: Record<string, unknown> | null;
  data_schema: Record<string, unknown> | null;
}

/** ``GET /api/requests``: an instance I started. */
export interface RequestOut {
  id: string;
  workflow_key: string;
  workflow_name: string;
  status: string;
  stage: string | null;
  business_key: string | null;
  started_at: string;
  updated_at: string;
  finished_at: string | null;
}
