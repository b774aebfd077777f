// The condition builder: rows of field / operator / value in AND/OR groups, written as an
// expression. The expression stays editable as text; the server checks it as you type.
import { useId, useState } from "react";

import { emptyGroup, OPERATORS, parseCondition, toExpression, type Group, type Operator, type Rule } from "../graph/condition";
import { useEditor } from "../panels/context";
import type { Issue } from "../types";
import { FieldIssues } from "./fields";

interface Props {
  value: string | null | undefined;
  onChange: (expression: string) => void;
  issues: Issue[];
}

export function ConditionBuilder({ value, onChange, issues }: Props) {
  const { readOnly, fields } = useEditor();
  const listId = useId();
  // The rows live here while they are being filled in (a row without a field writes nothing yet);
  // a change of the expression from elsewhere (typing it, undo) rebuilds them.
  const [state, setState] = useState(() => ({ group: parseCondition(value ?? ""), expr: value ?? "" }));
  let group = state.group;
  if ((value ?? "") !== state.expr) {
    group = parseCondition(value ?? "");
    setState({ group, expr: value ?? "" });
  }
  const write = (g: Group) => {
    const expr = toExpression(g);
    setState({ group: g, expr });
    onChange(expr);
  };
  return (
    <div className="wf-condition" data-testid="condition-builder">
      <datalist id={listId}>
        {fields.map((f) => (
          <option key={f} value={f} />
        ))}
      </datalist>
      {group ? (
        <GroupEditor group={group} onChange={write} listId={listId} readOnly={readOnly} depth={0} />
      ) : (
        <p className="hint">This condition is more than the builder shows: edit it as an expression below, or start over.</p>
      )}
      {!group && !readOnly && (
        <button type="button" className="link" onClick={() => write(emptyGroup())}>
          Start over with the builder
        </button>
      )}
      <label className={`wf-field${issues.some((i) => i.severity === "error") ? " invalid" : ""}`}>
        <span>Expression</span>
        <textarea className="mono" rows={2} value={value ?? ""} readOnly={readOnly} onChange={(e) => onChange(e.target.value)} aria-label="Condition expression" spellCheck={false} placeholder="total >= 1000 and customer.tier == 'gold'" />
        <small className="hint">Python-like: names are instance data fields; and / or / not, in, ==, &lt;, len(…), lower(…) …</small>
      </label>
      <FieldIssues issues={issues} />
    </div>
  );
}

function GroupEditor({ group, onChange, listId, readOnly, depth }: { group: Group; onChange: (g: Group) => void; listId: string; readOnly: boolean; depth: number }) {
  const setItem = (i: number, item: Rule | Group | null) => {
    const items = item === null ? group.items.filter((_, j) => j !== i) : group.items.map((x, j) => (j === i ? item : x));
    onChange({ ...group, items });
  };
  return (
    <div className={`wf-cond-group depth-${depth}`} role="group" aria-label={depth === 0 ? "Condition" : "Group of conditions"}>
      <div className="wf-cond-join">
        <label className="wf-inline">
          <span>Match</span>
          <select value={group.join} disabled={readOnly} onChange={(e) => onChange({ ...group, join: e.target.value as "and" | "or" })} aria-label="Match all or any">
            <option value="and">all (AND)</option>
            <option value="or">any (OR)</option>
          </select>
          <span>of these</span>
        </label>
      </div>
      {group.items.map((item, i) =>
        item.kind === "group" ? (
          <div key={i} className="wf-cond-nested">
            <GroupEditor group={item} onChange={(g) => setItem(i, g)} listId={listId} readOnly={readOnly} depth={depth + 1} />
            {!readOnly && (
              <button type="button" className="icon" aria-label="Remove group" onClick={() => setItem(i, null)}>
                ×
              </button>
            )}
          </div>
        ) : (
          <RuleRow key={i} rule={item} index={i} onChange={(r) => setItem(i, r)} listId={listId} readOnly={readOnly} />
        ),
      )}
      {!readOnly && (
        <div className="row">
          <button type="button" className="link" onClick={() => onChange({ ...group, items: [...group.items, { kind: "rule", field: "", op: "==", value: "" }] })}>
            + Condition
          </button>
          {depth < 2 && (
            <button type="button" className="link" onClick={() => onChange({ ...group, items: [...group.items, { ...emptyGroup(), join: group.join === "and" ? "or" : "and" }] })}>
              + Group
            </button>
          )}
        </div>
      )}
    </div>
  );
}

function RuleRow({ rule, index, onChange, listId, readOnly }: { rule: Rule; index: number; onChange: (r: Rule | null) => void; listId: string; readOnly: boolean }) {
  const needsValue = OPERATORS.find((o) => o.op === rule.op)?.needsValue ?? true;
  return (
    <div className="wf-cond-row" data-testid={`condition-row-${index}`}>
      <input className="mono" aria-label={`Condition ${index + 1}: field`} placeholder="field" list={listId} value={rule.field} readOnly={readOnly} onChange={(e) => onChange({ ...rule, field: e.target.value })} />
      <select aria-label={`Condition ${index + 1}: operator`} value={rule.op} disabled={readOnly} onChange={(e) => onChange({ ...rule, op: e.target.value as Operator })}>
        {OPERATORS.map((o) => (
          <option key={o.op} value={o.op}>
            {o.label}
          </option>
        ))}
      </select>
      {needsValue ? (
        <input aria-label={`Condition ${index + 1}: value`} placeholder={rule.op === "in" || rule.op === "not in" ? "a, b, c" : "value"} value={rule.value} readOnly={readOnly} onChange={(e) => onChange({ ...rule, value: e.target.value })} />
      ) : (
        <span />
      )}
      {!readOnly && (
        <button type="button" className="icon" aria-label={`Remove condition ${index + 1}`} onClick={() => onChange(null)}>
          ×
        </button>
      )}
    </div>
  );
}
