// Who a task is for: a user, a role (with a policy), an expression, or the person of an earlier
// step (retain familiar) — optionally "not the person who did step X" (four eyes).
import { useId } from "react";

import { TASK_TYPES } from "../catalog";
import { useEditor } from "../panels/context";
import type { Assignee, Issue, Policy } from "../types";
import { FieldIssues } from "./fields";

type Way = "user" | "role" | "expr" | "same_as" | "none";

function wayOf(a: Assignee | null | undefined): Way {
  if (!a) return "none";
  if (a.user != null) return "user";
  if (a.role != null) return "role";
  if (a.expr != null) return "expr";
  if (a.same_as != null) return "same_as";
  return "none";
}

const WAYS: { way: Way; label: string }[] = [
  { way: "role", label: "A role (pool)" },
  { way: "user", label: "A person" },
  { way: "expr", label: "From the data (expression)" },
  { way: "same_as", label: "Same person as an earlier step" },
  { way: "none", label: "Anyone but… (four eyes only)" },
];

const POLICIES: { value: Policy; label: string }[] = [
  { value: "claim", label: "Members claim it" },
  { value: "round_robin", label: "Round robin" },
  { value: "least_loaded", label: "Least loaded member" },
];

interface Props {
  label: string;
  value: Assignee | null | undefined;
  onChange: (value: Assignee) => void;
  /** The node this assignment belongs to (not offered as "same as"). */
  self: string;
  issues?: Issue[];
  allowEmpty?: boolean;
}

export function AssigneePicker({ label, value, onChange, self, issues = [], allowEmpty }: Props) {
  const { readOnly, directory, def } = useEditor();
  const id = useId();
  const a: Assignee = value ?? {};
  const way = wayOf(a);
  const steps = def.nodes.filter((n) => TASK_TYPES.has(n.type) && n.id !== self);
  const set = (patch: Partial<Assignee>) => {
    const next: Assignee = { ...a, ...patch };
    for (const k of Object.keys(next) as (keyof Assignee)[]) if (next[k] === undefined || next[k] === null) delete next[k];
    if (next.policy === "claim") delete next.policy;
    onChange(next);
  };
  const changeWay = (w: Way) => {
    const keep: Assignee = {};
    if (a.not_same_as) keep.not_same_as = a.not_same_as;
    if (w === "user") keep.user = directory.users?.[0] ?? "";
    if (w === "role") keep.role = directory.roles[0] ?? "";
    if (w === "expr") keep.expr = "";
    if (w === "same_as") keep.same_as = steps[0]?.id ?? "";
    if (w === "none") keep.not_same_as = a.not_same_as ?? steps[0]?.id ?? "";
    onChange(keep);
  };
  const listId = `${id}-users`;
  return (
    <fieldset className="wf-assignee" aria-labelledby={id} data-testid="assignee-picker">
      <legend id={id}>{label}</legend>
      <label className="wf-field">
        <span>Assign to</span>
        <select value={way} disabled={readOnly} onChange={(e) => changeWay(e.target.value as Way)}>
          {WAYS.filter((w) => w.way !== "none" || allowEmpty !== false).map((w) => (
            <option key={w.way} value={w.way}>
              {w.label}
            </option>
          ))}
        </select>
      </label>
      {way === "user" && (
        <label className="wf-field">
          <span>Person</span>
          {directory.users ? (
            <select value={a.user ?? ""} disabled={readOnly} onChange={(e) => set({ user: e.target.value })}>
              {!directory.users.includes(a.user ?? "") && <option value={a.user ?? ""}>{a.user || "— choose —"}</option>}
              {directory.users.map((u) => (
                <option key={u} value={u}>
                  {u}
                </option>
              ))}
            </select>
          ) : (
            <>
              <input value={a.user ?? ""} list={listId} readOnly={readOnly} onChange={(e) => set({ user: e.target.value })} placeholder="user name" />
              <small className="hint">Only admins see the list of people; type a user name.</small>
            </>
          )}
        </label>
      )}
      {way === "role" && (
        <>
          <label className="wf-field">
            <span>Role</span>
            <select value={a.role ?? ""} disabled={readOnly} onChange={(e) => set({ role: e.target.value })}>
              {!directory.roles.includes(a.role ?? "") && <option value={a.role ?? ""}>{a.role || "— choose —"}</option>}
              {directory.roles.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </label>
          <label className="wf-field">
            <span>Policy</span>
            <select value={a.policy ?? "claim"} disabled={readOnly} onChange={(e) => set({ policy: e.target.value as Policy })}>
              {POLICIES.map((p) => (
                <option key={p.value} value={p.value}>
                  {p.label}
                </option>
              ))}
            </select>
          </label>
        </>
      )}
      {way === "expr" && (
        <label className="wf-field">
          <span>Expression</span>
          <input className="mono" value={a.expr ?? ""} readOnly={readOnly} placeholder="account_manager" onChange={(e) => set({ expr: e.target.value })} />
          <small className="hint">A user name, or a list of them, from the instance data.</small>
        </label>
      )}
      {way === "same_as" && (
        <label className="wf-field">
          <span>Same person as (retain familiar)</span>
          <select value={a.same_as ?? ""} disabled={readOnly} onChange={(e) => set({ same_as: e.target.value })}>
            {!steps.some((s) => s.id === a.same_as) && <option value={a.same_as ?? ""}>{a.same_as || "— choose a step —"}</option>}
            {steps.map((s) => (
              <option key={s.id} value={s.id}>
                {s.name || s.id}
              </option>
            ))}
          </select>
        </label>
      )}
      <label className="wf-field">
        <span>Four eyes: not the person who did</span>
        <select value={a.not_same_as ?? ""} disabled={readOnly} onChange={(e) => set({ not_same_as: e.target.value || undefined })}>
          {way !== "none" && <option value="">— nobody excluded —</option>}
          {a.not_same_as && !steps.some((s) => s.id === a.not_same_as) && <option value={a.not_same_as}>{a.not_same_as}</option>}
          {steps.map((s) => (
            <option key={s.id} value={s.id}>
              {s.name || s.id}
            </option>
          ))}
        </select>
      </label>
      <FieldIssues issues={issues} />
    </fieldset>
  );
}
