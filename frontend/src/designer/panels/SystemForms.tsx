// Properties of the automated steps: http calls, notifications, set data, data tables, decision tables.
import { DurationField, issuesAt, JsonField, KeyValueEditor, NumberField, Section, SelectField, TemplateField, TextField } from "../forms/fields";
import type { DecisionNode, DecisionRule, HttpNode, HttpRequest, NotifyNode, SetNode, TableNode } from "../types";
import { useEditor } from "./context";

const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;

export function HttpForm({ node }: { node: HttpNode }) {
  const { updateNode, issues } = useEditor();
  const at = (f: string) => issuesAt(issues, { node: node.id }, f);
  const request: HttpRequest = node.request ?? { url: "" };
  const setRequest = (patch: Partial<HttpRequest>) => updateNode(node.id, { request: { ...request, ...patch } }, `request.${Object.keys(patch)[0]}`);
  const retry = node.retry ?? {};
  return (
    <>
      <Section title="Request">
        <SelectField label="Method" value={request.method ?? "POST"} options={METHODS.map((m) => ({ value: m, label: m }))} onChange={(v) => setRequest({ method: v })} />
        <TemplateField label="URL" value={request.url} onChange={(v) => setRequest({ url: v })} issues={at("request.url")} placeholder="https://api.example.com/orders/{{ order_id }}" />
        <KeyValueEditor label="Headers" keyLabel="Header" valueLabel="Value (template)" monoValue={false} value={request.headers} onChange={(v) => setRequest({ headers: v })} issues={at("request.headers")} />
        <JsonField label="Body (JSON, with {{ templates }} in text)" value={request.body ?? undefined} onChange={(v) => setRequest({ body: v })} issues={at("request.body")} rows={5} />
        <NumberField label="Timeout per attempt (seconds)" value={request.timeout_s ?? 10} min={1} onChange={(v) => setRequest({ timeout_s: v })} />
        <TextField label="Secret (name of a stored secret)" value={node.secret} onChange={(v) => updateNode(node.id, { secret: v || undefined }, "secret")} />
      </Section>
      <Section title="Response and retries">
        <TextField label="Store the response under" value={node.result} mono onChange={(v) => updateNode(node.id, { result: v || undefined }, "result")} hint="empty: an object response is merged at the top level" issues={at("result")} />
        <NumberField label="Attempts" value={retry.attempts ?? 3} min={1} max={20} onChange={(v) => updateNode(node.id, { retry: { ...retry, attempts: v } }, "retry.attempts")} issues={at("retry.attempts")} />
        <DurationField label="Wait between attempts" value={retry.backoff ?? "PT10S"} onChange={(v) => updateNode(node.id, { retry: { ...retry, backoff: v } }, "retry.backoff")} issues={at("retry.backoff")} />
        <p className="hint">A call that still fails follows an “on error” connection, or raises an incident.</p>
      </Section>
    </>
  );
}

const CHANNELS = [
  { value: "email", label: "Email" },
  { value: "sms", label: "SMS" },
  { value: "inbox", label: "Inbox message" },
  { value: "webhook", label: "Outgoing webhook" },
] as const;

export function NotifyForm({ node }: { node: NotifyNode }) {
  const { updateNode, issues } = useEditor();
  const at = (f: string) => issuesAt(issues, { node: node.id }, f);
  return (
    <Section title="Message">
      <SelectField label="Channel" value={node.channel ?? "email"} options={CHANNELS.map((c) => ({ ...c }))} onChange={(v) => updateNode(node.id, { channel: v }, "channel")} issues={at("channel")} />
      <TemplateField label="To" value={node.to} onChange={(v) => updateNode(node.id, { to: v }, "to")} issues={at("to")} placeholder={node.channel === "email" ? "{{ customer.email }}" : node.channel === "sms" ? "{{ customer.phone }}" : "user name or URL"} />
      {node.channel !== "sms" && <TemplateField label="Subject" value={node.subject} onChange={(v) => updateNode(node.id, { subject: v || undefined }, "subject")} issues={at("subject")} />}
      <TemplateField label="Body" multiline value={node.body} onChange={(v) => updateNode(node.id, { body: v }, "body")} issues={at("body")} hint="Use “Insert data field” to put the instance's data into the text." />
    </Section>
  );
}

export function SetForm({ node }: { node: SetNode }) {
  const { updateNode, issues } = useEditor();
  return (
    <Section title="Set these fields">
      <KeyValueEditor label="Assignments (in order)" value={node.assign} onChange={(v) => updateNode(node.id, { assign: v }, "assign")} issues={issuesAt(issues, { node: node.id }, "assign")} hint="Each expression sees the fields set above it; a dotted field (tax.amount) nests." />
    </Section>
  );
}

const OPS = [
  { value: "get", label: "Get a row" },
  { value: "insert", label: "Insert a row" },
  { value: "update", label: "Update a row" },
  { value: "increment", label: "Add to numbers (increment)" },
] as const;

export function TableForm({ node }: { node: TableNode }) {
  const { updateNode, issues, directory, readOnly } = useEditor();
  const at = (f: string) => issuesAt(issues, { node: node.id }, f);
  return (
    <Section title="Data table">
      <label className="wf-field">
        <span>Table</span>
        <select value={node.table ?? ""} disabled={readOnly} onChange={(e) => updateNode(node.id, { table: e.target.value }, "table")}>
          {!directory.tables.includes(node.table) && <option value={node.table ?? ""}>{node.table || "— choose —"}</option>}
          {directory.tables.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
      </label>
      <SelectField label="Operation" value={node.op ?? "get"} options={OPS.map((o) => ({ ...o }))} onChange={(v) => updateNode(node.id, { op: v }, "op")} />
      <KeyValueEditor label="Key (which row)" keyLabel="Column" value={node.key} onChange={(v) => updateNode(node.id, { key: v }, "key")} issues={at("key")} />
      {node.op !== "get" && <KeyValueEditor label={node.op === "increment" ? "Add" : "Values"} keyLabel="Column" value={node.values} onChange={(v) => updateNode(node.id, { values: v }, "values")} issues={at("values")} />}
      <TextField label="For each item of (expression, optional)" mono value={node.each} onChange={(v) => updateNode(node.id, { each: v || undefined }, "each")} issues={at("each")} hint="a list; each item is available as item" />
      <TextField label="Store the result under" mono value={node.result} onChange={(v) => updateNode(node.id, { result: v || undefined }, "result")} issues={at("result")} />
    </Section>
  );
}

function thenText(then: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(then ?? {}).map(([k, v]) => [k, JSON.stringify(v)]));
}

function parseThen(text: Record<string, string>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(text).map(([k, v]) => {
      try {
        return [k, JSON.parse(v)];
      } catch {
        return [k, v];
      }
    }),
  );
}

export function DecisionForm({ node }: { node: DecisionNode }) {
  const { updateNode, issues, readOnly } = useEditor();
  const at = (f: string) => issuesAt(issues, { node: node.id }, f);
  const inputs = node.inputs ?? [];
  const rules = node.rules ?? [];
  const setRules = (next: DecisionRule[]) => updateNode(node.id, { rules: next }, "rules");
  const setRule = (i: number, patch: Partial<DecisionRule>) => setRules(rules.map((r, j) => (j === i ? { ...r, ...patch } : r)));
  return (
    <>
      <Section title="Inputs and result">
        <fieldset className="wf-list">
          <legend>Inputs (columns)</legend>
          {inputs.map((v, i) => (
            <div className="wf-kv-row" key={i}>
              <input className="mono" aria-label={`Input ${i + 1}`} value={v} readOnly={readOnly} onChange={(e) => updateNode(node.id, { inputs: inputs.map((x, j) => (j === i ? e.target.value : x)) }, "inputs")} />
              {!readOnly && inputs.length > 1 && (
                <button type="button" className="icon" aria-label={`Remove input ${i + 1}`} onClick={() => updateNode(node.id, { inputs: inputs.filter((_, j) => j !== i), rules: rules.map((r) => ({ ...r, when: r.when.filter((_, j) => j !== i) })) }, "inputs")}>
                  ×
                </button>
              )}
            </div>
          ))}
          {!readOnly && (
            <button type="button" className="link" onClick={() => updateNode(node.id, { inputs: [...inputs, ""], rules: rules.map((r) => ({ ...r, when: [...r.when, "-"] })) }, "inputs")}>
              + Add input
            </button>
          )}
        </fieldset>
        <SelectField label="Hit policy" value={node.hit ?? "first"} options={[{ value: "first", label: "First matching rule" }, { value: "unique", label: "Exactly one rule must match" }, { value: "collect", label: "Collect every match (a list)" }]} onChange={(v) => updateNode(node.id, { hit: v }, "hit")} />
        <TextField label="Store the result under" mono value={node.output} onChange={(v) => updateNode(node.id, { output: v }, "output")} issues={at("output")} />
      </Section>
      <Section title="Rules">
        <p className="hint">A cell is “-” for any value, a test such as “&gt;= 1000” or “in ['DE', 'AT']”, or a literal (“"gold"”, 42, True).</p>
        {rules.map((rule, i) => (
          <div className="wf-rule" key={i} data-testid={`rule-${i}`}>
            <div className="wf-escalation-head">
              <strong>Rule {i + 1}</strong>
              {!readOnly && (
                <span>
                  <button type="button" className="icon" aria-label={`Move rule ${i + 1} up`} disabled={i === 0} onClick={() => setRules(rules.map((r, j) => (j === i - 1 ? rules[i]! : j === i ? rules[i - 1]! : r)))}>
                    ↑
                  </button>
                  <button type="button" className="icon" aria-label={`Remove rule ${i + 1}`} onClick={() => setRules(rules.filter((_, j) => j !== i))}>
                    ×
                  </button>
                </span>
              )}
            </div>
            <div className="wf-rule-cells">
              {inputs.map((input, j) => (
                <label className="wf-field" key={j}>
                  <span className="mono">{input || `input ${j + 1}`}</span>
                  <input className="mono" value={rule.when[j] ?? ""} readOnly={readOnly} onChange={(e) => setRule(i, { when: inputs.map((_, k) => (k === j ? e.target.value : rule.when[k] ?? "-")) })} />
                </label>
              ))}
            </div>
            <KeyValueEditor label="Then" keyLabel="Key" valueLabel="Value (JSON)" value={thenText(rule.then)} onChange={(v) => setRule(i, { then: parseThen(v) })} />
            <FieldsIssuesAt issues={at(`rules.${i}`)} />
          </div>
        ))}
        {!readOnly && (
          <button type="button" className="link" onClick={() => setRules([...rules, { when: inputs.map(() => "-"), then: {} }])}>
            + Add rule
          </button>
        )}
        <JsonField label="Default result (when no rule matches)" value={node.default ?? undefined} onChange={(v) => updateNode(node.id, { default: v ?? undefined }, "default")} rows={2} />
      </Section>
    </>
  );
}

function FieldsIssuesAt({ issues }: { issues: { message: string; severity: string }[] }) {
  if (!issues.length) return null;
  return (
    <ul className="wf-field-issues">
      {issues.map((i, n) => (
        <li key={n} className={i.severity}>
          {i.message}
        </li>
      ))}
    </ul>
  );
}
