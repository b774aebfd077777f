// The properties panel: one form per node type, one for connections, and the workflow's own
// settings when nothing is selected.
import { useId, useState } from "react";
import { ERROR_TYPES, KIND, WAITING_TYPES } from "../catalog";
import { NodeIcon } from "../canvas/icons";
import { ConditionBuilder } from "../forms/ConditionBuilder";
import { AreaField, CheckField, DurationField, issuesAt, JsonField, SelectField, TextField } from "../forms/fields";
import { canConnect, connect, moveEdge } from "../graph/edit";
import type { Issue, WfEdge, WfNode } from "../types";
import { useEditor } from "./context";
import { EndForm, GatewayForm, ReceiveForm, StartForm, SubworkflowForm, TimerForm } from "./FlowForms";
import { DecisionForm, HttpForm, NotifyForm, SetForm, TableForm } from "./SystemForms";
import { ApprovalForm, UserTaskForm } from "./TaskForms";

function IssueSummary({ issues, onPick }: { issues: Issue[]; onPick?: (i: Issue) => void }) {
  if (issues.length === 0) return null;
  return (
    <ul className="wf-panel-issues" aria-label="Problems here">
      {issues.map((i, n) => (
        <li key={n} className={i.severity}>
          <span className={`badge ${i.severity === "error" ? "bad" : "warn"}`}>{i.severity}</span> {i.message}
          {onPick && i.field && (
            <button type="button" className="link" onClick={() => onPick(i)}>
              show
            </button>
          )}
        </li>
      ))}
    </ul>
  );
}

function TypeForm({ node }: { node: WfNode }) {
  switch (node.type) {
    case "start":
      return <StartForm node={node} />;
    case "end":
      return <EndForm node={node} />;
    case "user_task":
      return <UserTaskForm node={node} />;
    case "approval":
      return <ApprovalForm node={node} />;
    case "http":
      return <HttpForm node={node} />;
    case "notify":
      return <NotifyForm node={node} />;
    case "set":
      return <SetForm node={node} />;
    case "table":
      return <TableForm node={node} />;
    case "decision":
      return <DecisionForm node={node} />;
    case "exclusive":
    case "parallel":
    case "inclusive":
      return <GatewayForm node={node} />;
    case "timer":
      return <TimerForm node={node} />;
    case "receive":
      return <ReceiveForm node={node} />;
    case "subworkflow":
      return <SubworkflowForm node={node} />;
    default:
      return <p className="hint">This step's type is not known to the designer.</p>;
  }
}

export function NodePanel({ node, onDelete }: { node: WfNode; onDelete: () => void }) {
  const { updateNode, issues, def, readOnly } = useEditor();
  const mine = issues.filter((i) => i.node === node.id && !i.edge);
  const kind = KIND[node.type];
  const stages = [...new Set(def.nodes.map((n) => n.stage).filter((s): s is string => !!s))];
  return (
    <div className="wf-props" data-testid="node-panel" data-node-id={node.id}>
      <header className="wf-props-head" style={{ "--kind": kind?.color } as React.CSSProperties}>
        <span className="wf-props-icon">
          <NodeIcon type={node.type} size={18} />
        </span>
        <div>
          <div className="wf-props-kind">{kind?.label ?? node.type}</div>
          <h2 className="wf-props-title">{node.name || node.id}</h2>
        </div>
        {!readOnly && (
          <button type="button" className="link danger" onClick={onDelete} aria-label={`Delete step ${node.name || node.id}`}>
            Delete
          </button>
        )}
      </header>
      <IssueSummary issues={mine} />
      <TextField label="Name" value={node.name} onChange={(v) => updateNode(node.id, { name: v }, "name")} issues={issuesAt(issues, { node: node.id }, "name")} testId="node-name" />
      <div className="wf-id">
        id <code>{node.id}</code>
      </div>
      <TextField label="Stage (what the customer sees from here on)" value={node.stage} list="wf-stages" onChange={(v) => updateNode(node.id, { stage: v || undefined }, "stage")} placeholder="e.g. Shipped" />
      <datalist id="wf-stages">
        {stages.map((s) => (
          <option key={s} value={s} />
        ))}
      </datalist>
      <TypeForm node={node} />
      <Connections key={node.id} node={node} />
      <AreaField label="Notes for designers" value={node.description} rows={2} onChange={(v) => updateNode(node.id, { description: v || undefined }, "description")} />
    </div>
  );
}

/** Where the step leads, and a keyboard way to connect it to another step (the canvas's
 * handles need a pointer). */
function Connections({ node }: { node: WfNode }) {
  const { def, commit, readOnly } = useEditor();
  const [target, setTarget] = useState("");
  const [note, setNote] = useState<string | null>(null);
  const selectId = useId();
  if (node.type === "end") return null;
  const names = new Map(def.nodes.map((n) => [n.id, n.name || n.id]));
  const nameOf = (id: string) => names.get(id) ?? id;
  const out = def.edges.filter((e) => e.from === node.id);
  const choices = def.nodes.filter((n) => n.id !== node.id && n.type !== "start").sort((a, b) => nameOf(a.id).localeCompare(nameOf(b.id)));
  const add = () => {
    if (!target) return;
    const refused = canConnect(def, node.id, target);
    if (refused) {
      setNote(refused);
      return;
    }
    commit((d) => connect(d, node.id, target)?.def ?? d);
    setNote(`Connected to ${nameOf(target)}.`);
    setTarget("");
  };
  return (
    <div className="wf-connections" data-testid="node-connections">
      <div className="wf-field">
        <span>Leads to</span>
        {out.length ? (
          <ul>
            {out.map((e) => (
              <li key={e.id}>
                {nameOf(e.to)}
                {e.label ? <span className="hint"> ({e.label})</span> : null}
              </li>
            ))}
          </ul>
        ) : (
          <small className="hint">Nothing yet: the path ends here.</small>
        )}
      </div>
      {!readOnly && (
        <div className="wf-connect-row">
          <label htmlFor={selectId}>Connect to</label>
          <select
            id={selectId}
            value={target}
            onChange={(e) => {
              setTarget(e.target.value);
              setNote(null);
            }}
          >
            <option value="">Choose a step…</option>
            {choices.map((n) => (
              <option key={n.id} value={n.id}>
                {nameOf(n.id)}
              </option>
            ))}
          </select>
          <button type="button" disabled={!target} onClick={add}>
            Connect
          </button>
        </div>
      )}
      {note && (
        <p className="hint" role="status">
          {note}
        </p>
      )}
    </div>
  );
}

type EdgeMode = "always" | "condition" | "default" | "outcome" | "timeout" | "error";

function modeOf(e: WfEdge): EdgeMode {
  if (e.on === "timeout") return "timeout";
  if (e.on === "error") return "error";
  if (e.outcome) return "outcome";
  if (e.default) return "default";
  if (e.condition != null) return "condition";
  return "always";
}

const CLEAR = { condition: undefined, default: undefined, outcome: undefined, on: undefined, after: undefined, interrupting: undefined };

export function EdgePanel({ edge, onDelete }: { edge: WfEdge; onDelete: () => void }) {
  const { def, updateEdge, issues, readOnly, commit } = useEditor();
  const source = def.nodes.find((n) => n.id === edge.from);
  const target = def.nodes.find((n) => n.id === edge.to);
  const mine = issues.filter((i) => i.edge === edge.id);
  const mode = modeOf(edge);
  const siblings = def.edges.filter((e) => e.from === edge.from);
  const index = siblings.findIndex((e) => e.id === edge.id);
  const modes: { value: EdgeMode; label: string }[] = [
    { value: "always", label: "Always" },
    { value: "condition", label: "When a condition holds" },
    { value: "default", label: "Otherwise (default)" },
  ];
  if (source?.type === "approval") modes.push({ value: "outcome", label: "For an outcome of the approval" });
  if (source && WAITING_TYPES.has(source.type)) modes.push({ value: "timeout", label: "After a timeout" });
  if (source && ERROR_TYPES.has(source.type)) modes.push({ value: "error", label: "On error" });
  if (!modes.some((m) => m.value === mode)) modes.push({ value: mode, label: mode });
  const setMode = (m: EdgeMode) => {
    const patch: Record<string, unknown> = { ...CLEAR };
    if (m === "condition") patch.condition = edge.condition ?? "";
    if (m === "default") patch.default = true;
    if (m === "outcome") patch.outcome = source?.type === "approval" ? (source.outcomes ?? ["approve", "reject"])[0] : "approve";
    if (m === "timeout") {
      patch.on = "timeout";
      patch.after = edge.after ?? "P1D";
    }
    if (m === "error") patch.on = "error";
    updateEdge(edge.id, patch, "mode");
  };
  return (
    <div className="wf-props" data-testid="edge-panel" data-edge-id={edge.id}>
      <header className="wf-props-head">
        <div>
          <div className="wf-props-kind">Connection</div>
          <h2 className="wf-props-title">
            {source?.name || edge.from} → {target?.name || edge.to}
          </h2>
        </div>
        {!readOnly && (
          <button type="button" className="link danger" onClick={onDelete} aria-label="Delete connection">
            Delete
          </button>
        )}
      </header>
      <IssueSummary issues={mine.filter((i) => !i.field || !["condition", "after"].includes(i.field))} />
      <TextField label="Label" value={edge.label} onChange={(v) => updateEdge(edge.id, { label: v || undefined }, "label")} placeholder="shown on the canvas" testId="edge-label" />
      <SelectField label="Taken" value={mode} options={modes} onChange={setMode} />
      {mode === "condition" && <ConditionBuilder key={edge.id} value={edge.condition} onChange={(v) => updateEdge(edge.id, { condition: v }, "condition")} issues={issuesAt(issues, { edge: edge.id }, "condition")} />}
      {mode === "outcome" && source?.type === "approval" && (
        <SelectField label="Outcome" value={edge.outcome ?? ""} options={(source.outcomes ?? ["approve", "reject"]).map((o) => ({ value: o, label: o }))} onChange={(v) => updateEdge(edge.id, { outcome: v }, "outcome")} issues={issuesAt(issues, { edge: edge.id }, "outcome")} />
      )}
      {mode === "timeout" && (
        <>
          <DurationField label="After" value={edge.after} onChange={(v) => updateEdge(edge.id, { after: v ?? "" }, "after")} issues={issuesAt(issues, { edge: edge.id }, "after")} hint="wall-clock, from when the step is reached" />
          <CheckField label="Interrupting (cancel the step's work)" checked={edge.interrupting !== false} onChange={(v) => updateEdge(edge.id, { interrupting: v ? undefined : false }, "interrupting")} />
        </>
      )}
      {mode === "error" && <p className="hint">Taken when the call or operation fails after its retries; the data gets an “error” field.</p>}
      {siblings.length > 1 && !readOnly && (
        <div className="wf-order">
          <span className="hint">
            Tried {index + 1} of {siblings.length} ways out of {source?.name || edge.from}
          </span>
          <button type="button" disabled={index <= 0} onClick={() => commit((d) => moveEdge(d, edge.id, -1))}>
            Try earlier
          </button>
          <button type="button" disabled={index >= siblings.length - 1} onClick={() => commit((d) => moveEdge(d, edge.id, 1))}>
            Try later
          </button>
        </div>
      )}
    </div>
  );
}

export function WorkflowPanel({ stats }: { stats: { nodes: number; edges: number } }) {
  const { def, commit, readOnly, issues } = useEditor();
  return (
    <div className="wf-props" data-testid="workflow-panel">
      <header className="wf-props-head">
        <div>
          <div className="wf-props-kind">Workflow</div>
          <h2 className="wf-props-title">{def.name || def.key}</h2>
        </div>
      </header>
      <p className="hint">
        {stats.nodes} steps, {stats.edges} connections. Select a step or a connection to edit it{readOnly ? "" : "; drag steps from the palette to add them"}.
      </p>
      <TextField label="Workflow name" value={def.name} onChange={(v) => commit((d) => ({ ...d, name: v }), "wf:name")} testId="workflow-name" />
      <AreaField label="Description" value={def.description} onChange={(v) => commit((d) => ({ ...d, description: v }), "wf:description")} />
      <TextField label="Category" value={typeof def.category === "string" ? def.category : ""} onChange={(v) => commit((d) => ({ ...d, category: v.trim() ? v : undefined }), "wf:category")} hint="groups it in the template gallery, e.g. Finance" testId="workflow-category" />
      <TextField
        label="Name each request by"
        value={typeof def.business_key === "string" ? def.business_key : ""}
        onChange={(v) => commit((d) => ({ ...d, business_key: v.trim() ? v : undefined }), "wf:business_key")}
        placeholder="e.g. {{ item }} from {{ supplier }}"
        hint="how inboxes and lists name each request, from its data; empty: its order_id, reference or id"
        mono
        issues={issues.filter((i) => !i.node && !i.edge && i.field === "business_key")}
        testId="workflow-business-key"
      />
      <JsonField
        label="Instance data (JSON Schema of what a start carries)"
        value={def.data ?? undefined}
        rows={8}
        onChange={(v) => commit((d) => ({ ...d, data: (v as Record<string, unknown>) ?? null }), "wf:data")}
        issues={issues.filter((i) => !i.node && !i.edge && i.field?.startsWith("data"))}
      />
      <TrackingFields />
    </div>
  );
}

interface TrackingField {
  label: string;
  field: string;
}

/** What the customer's tracking page shows of the data besides the stages, e.g. a parcel's
 * tracking number: a label and a data field each. */
function TrackingFields() {
  const { def, commit, readOnly, issues, fields } = useEditor();
  const rows: TrackingField[] = Array.isArray(def.tracking) ? (def.tracking as TrackingField[]) : [];
  const listId = useId();
  const write = (next: TrackingField[]) => commit((d) => ({ ...d, tracking: next.length ? next : undefined }), "wf:tracking");
  const set = (index: number, change: Partial<TrackingField>) => write(rows.map((r, n) => (n === index ? { ...r, ...change } : r)));
  return (
    <fieldset className="wf-tracking" data-testid="tracking-fields">
      <legend>Shown on the customer's tracking page</legend>
      <p className="hint">Besides the stages, the page can show values of the request's data, such as a parcel's tracking number. A value the request does not have yet is left out.</p>
      <datalist id={listId}>
        {fields.map((f) => (
          <option key={f} value={f} />
        ))}
      </datalist>
      {rows.map((row, n) => (
        <div className="wf-tracking-row" key={n}>
          <TextField label={`Label ${n + 1}`} value={row.label} onChange={(v) => set(n, { label: v })} placeholder="e.g. Tracking number" issues={issues.filter((i) => i.field === `tracking.${n}.label`)} />
          <TextField label={`Data field ${n + 1}`} value={row.field} mono list={listId} onChange={(v) => set(n, { field: v.trim() })} placeholder="e.g. shipment.tracking_number" issues={issues.filter((i) => i.field === `tracking.${n}.field` || i.field === `tracking.${n}`)} />
          {!readOnly && (
            <button type="button" className="link" onClick={() => write(rows.filter((_, k) => k !== n))} aria-label={`Remove tracking value ${n + 1}`}>
              Remove
            </button>
          )}
        </div>
      ))}
      {!readOnly && rows.length < 10 && (
        <button type="button" onClick={() => write([...rows, { label: "", field: "" }])}>
          Add a value to show
        </button>
      )}
    </fieldset>
  );
}

export function MultiPanel({ count, onDelete }: { count: { nodes: number; edges: number }; onDelete: () => void }) {
  const { readOnly } = useEditor();
  return (
    <div className="wf-props" data-testid="multi-panel">
      <header className="wf-props-head">
        <div>
          <div className="wf-props-kind">Selection</div>
          <h2 className="wf-props-title">
            {count.nodes} steps, {count.edges} connections
          </h2>
        </div>
      </header>
      <p className="hint">Move them together, copy them (Ctrl+C) and paste them (Ctrl+V), or delete them.</p>
      {!readOnly && (
        <button type="button" className="danger" onClick={onDelete}>
          Delete selection
        </button>
      )}
    </div>
  );
}
