// Properties of events, gateways and waits: start, end, gateways, timer, receive, subworkflow.
import { DurationField, issuesAt, KeyValueEditor, NumberField, Section, SelectField, TextField } from "../forms/fields";
import { FormBuilder } from "../forms/FormBuilder";
import { edgeLabel } from "../graph/describe";
import type { EndNode, GatewayNode, ReceiveNode, StartNode, SubworkflowNode, TimerNode, Trigger } from "../types";
import { useEditor } from "./context";

const TRIGGERS = [
  { value: "manual", label: "By hand (New request)" },
  { value: "api", label: "By the API" },
  { value: "webhook", label: "By a signed webhook" },
  { value: "schedule", label: "On a schedule (cron)" },
] as const;

export function StartForm({ node }: { node: StartNode }) {
  const { updateNode, issues, directory, readOnly } = useEditor();
  const at = (f: string) => issuesAt(issues, { node: node.id }, f);
  const trigger: Trigger = node.trigger ?? { type: "manual" };
  const setTrigger = (patch: Partial<Trigger>) => updateNode(node.id, { trigger: { ...trigger, ...patch } }, `trigger.${Object.keys(patch)[0]}`);
  const roles = trigger.roles ?? [];
  const webhook = trigger.webhook ?? {};
  return (
    <>
      <Section title="Trigger">
        <SelectField
          label="Started"
          value={trigger.type ?? "manual"}
          options={TRIGGERS.map((t) => ({ ...t }))}
          onChange={(v) => setTrigger({ type: v, webhook: v === "webhook" ? trigger.webhook ?? { scheme: "generic", mapping: {} } : trigger.webhook, cron: v === "schedule" ? trigger.cron ?? "0 9 * * 1-5" : trigger.cron })}
          issues={at("trigger.type")}
        />
        {trigger.type === "schedule" && <TextField label="Cron schedule" mono value={trigger.cron} onChange={(v) => setTrigger({ cron: v })} issues={at("trigger.cron")} hint="minute hour day month weekday, e.g. 0 9 * * 1-5" />}
        {trigger.type === "webhook" && (
          <>
            <SelectField
              label="Signature scheme"
              value={webhook.scheme ?? "generic"}
              options={[
                { value: "generic", label: "Generic HMAC-SHA256" },
                { value: "github", label: "GitHub" },
                { value: "shopify", label: "Shopify" },
                { value: "stripe", label: "Stripe" },
              ]}
              onChange={(v) => setTrigger({ webhook: { ...webhook, scheme: v } })}
            />
            <KeyValueEditor label="Payload mapping" keyLabel="Data field" valueLabel="Path in the request" value={webhook.mapping} onChange={(v) => setTrigger({ webhook: { ...webhook, mapping: v } })} issues={at("trigger.webhook")} />
            <NumberField label="Signature time tolerance (seconds)" value={webhook.tolerance_s ?? 300} onChange={(v) => setTrigger({ webhook: { ...webhook, tolerance_s: v } })} />
          </>
        )}
        <fieldset className="wf-roles">
          <legend>Who may start it by hand</legend>
          <p className="hint">{roles.length ? "Only these roles:" : "Anyone (tick roles to restrict):"}</p>
          <div className="wf-role-grid">
            {[...new Set([...directory.roles, ...roles])].map((r) => (
              <label className="wf-check" key={r}>
                <input type="checkbox" checked={roles.includes(r)} disabled={readOnly} onChange={(e) => setTrigger({ roles: e.target.checked ? [...roles, r] : roles.filter((x) => x !== r) })} />
                <span>{r}</span>
              </label>
            ))}
          </div>
        </fieldset>
      </Section>
      <Section title="Start form" open={!!node.form}>
        <FormBuilder node={node.id} form={node.form} supportsUi={false} onChange={({ form }) => updateNode(node.id, { form: form ?? undefined }, "form")} issues={at("form")} />
      </Section>
    </>
  );
}

export function EndForm({ node }: { node: EndNode }) {
  const { updateNode } = useEditor();
  const terminate = node.terminate === true ? "yes" : node.terminate === false ? "no" : "auto";
  return (
    <Section title="Ending">
      <SelectField
        label="Outcome"
        value={node.outcome ?? "completed"}
        options={[
          { value: "completed", label: "Completed" },
          { value: "cancelled", label: "Cancelled" },
          { value: "rejected", label: "Rejected" },
        ]}
        onChange={(v) => updateNode(node.id, { outcome: v }, "outcome")}
      />
      <SelectField
        label="Ends the whole instance?"
        value={terminate}
        options={[
          { value: "auto", label: "By outcome (cancelled and rejected do)" },
          { value: "yes", label: "Yes — cancel everything still open" },
          { value: "no", label: "No — only this path ends" },
        ]}
        onChange={(v) => updateNode(node.id, { terminate: v === "auto" ? undefined : v === "yes" }, "terminate")}
      />
    </Section>
  );
}

const GATEWAY_HELP: Record<string, string> = {
  exclusive: "One way out: connections are tried in order; the first whose condition holds is taken, else the default.",
  parallel: "Splits to every way out. With several connections in, it waits for all of them.",
  inclusive: "Takes every way whose condition holds (the default if none). As a join, waits for the branches that were taken.",
};

export function GatewayForm({ node }: { node: GatewayNode }) {
  const { def, select } = useEditor();
  const out = def.edges.filter((e) => e.from === node.id);
  return (
    <Section title="Ways out">
      <p className="hint">{GATEWAY_HELP[node.type]}</p>
      {out.length === 0 ? (
        <p className="hint">No connections leave it yet: drag from its right handle to a step.</p>
      ) : (
        <ol className="wf-ways">
          {out.map((e) => {
            const target = def.nodes.find((n) => n.id === e.to);
            return (
              <li key={e.id}>
                <button type="button" className="link" onClick={() => select({ edge: e.id })}>
                  to {target?.name || e.to}
                </button>
                <span className="hint"> {e.default ? "default" : e.condition ? `when ${e.condition}` : edgeLabel(e) || "always"}</span>
              </li>
            );
          })}
        </ol>
      )}
    </Section>
  );
}

export function TimerForm({ node }: { node: TimerNode }) {
  const { updateNode, issues, directory } = useEditor();
  const at = (f: string) => issuesAt(issues, { node: node.id }, f);
  const mode = node.until != null ? "until" : "duration";
  return (
    <Section title="Wait">
      <SelectField
        label="Wait"
        value={mode}
        options={[
          { value: "duration", label: "For a duration" },
          { value: "until", label: "Until a date from the data" },
        ]}
        onChange={(v) => updateNode(node.id, v === "until" ? { until: node.until ?? "datetime(due_date)", duration: undefined } : { duration: node.duration ?? "P1D", until: undefined }, "mode")}
      />
      {mode === "duration" ? (
        <DurationField label="Duration" value={node.duration} onChange={(v) => updateNode(node.id, { duration: v ?? "" }, "duration")} issues={at("duration")} />
      ) : (
        <TextField label="Until (expression)" mono value={node.until} onChange={(v) => updateNode(node.id, { until: v }, "until")} issues={at("until")} hint="a date and time with a time zone" />
      )}
      <SelectField label="Calendar" value={node.calendar ?? ""} options={[{ value: "", label: "Wall-clock" }, ...[...new Set(["business", ...directory.calendars])].map((c) => ({ value: c, label: c }))]} onChange={(v) => updateNode(node.id, { calendar: v || undefined }, "calendar")} issues={at("calendar")} />
    </Section>
  );
}

export function ReceiveForm({ node }: { node: ReceiveNode }) {
  const { updateNode, issues } = useEditor();
  const at = (f: string) => issuesAt(issues, { node: node.id }, f);
  return (
    <Section title="Message">
      <TextField label="Message name" mono value={node.message} onChange={(v) => updateNode(node.id, { message: v }, "message")} issues={at("message")} hint="what a sender posts to /api/messages" />
      <TextField label="Match by (expression)" mono value={node.correlate} onChange={(v) => updateNode(node.id, { correlate: v }, "correlate")} issues={at("correlate")} hint="e.g. shipment.tracking_number — the message must carry the same value" />
      <DurationField label="Keep early messages for" optional value={node.keep_early} onChange={(v) => updateNode(node.id, { keep_early: v }, "keep_early")} issues={at("keep_early")} hint="empty: a message before the wait is refused" />
      <TextField label="Store the message data under" mono value={node.result} onChange={(v) => updateNode(node.id, { result: v || undefined }, "result")} issues={at("result")} />
    </Section>
  );
}

export function SubworkflowForm({ node }: { node: SubworkflowNode }) {
  const { updateNode, issues, directory, readOnly, def } = useEditor();
  const at = (f: string) => issuesAt(issues, { node: node.id }, f);
  const choices = directory.workflows.filter((w) => w !== def.key);
  return (
    <Section title="Subworkflow">
      <label className="wf-field">
        <span>Workflow (published)</span>
        <select value={node.workflow ?? ""} disabled={readOnly} onChange={(e) => updateNode(node.id, { workflow: e.target.value }, "workflow")}>
          {!choices.includes(node.workflow) && <option value={node.workflow ?? ""}>{node.workflow || "— choose —"}</option>}
          {choices.map((w) => (
            <option key={w} value={w}>
              {w}
            </option>
          ))}
        </select>
      </label>
      <KeyValueEditor label="Input (child's start data)" keyLabel="Child field" value={node.input} onChange={(v) => updateNode(node.id, { input: v }, "input")} issues={at("input")} />
      <KeyValueEditor label="Output (back into this instance)" keyLabel="Field here" valueLabel="Expression over the child's data" value={node.output} onChange={(v) => updateNode(node.id, { output: v }, "output")} issues={at("output")} />
    </Section>
  );
}
