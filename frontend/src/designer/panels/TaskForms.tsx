// Properties of the steps people do: user tasks and approvals.
import { AssigneePicker } from "../forms/AssigneePicker";
import { AreaField, FieldIssues, NumberField, Section, StringListEditor, TextField, issuesAt } from "../forms/fields";
import { FormBuilder } from "../forms/FormBuilder";
import { NoticesEditor, noticeIssues } from "../forms/NoticesEditor";
import { SlaEditor } from "../forms/SlaEditor";
import type { ApprovalNode, Assignee, UserTaskNode } from "../types";
import { useEditor } from "./context";

export function UserTaskForm({ node }: { node: UserTaskNode }) {
  const { updateNode, issues } = useEditor();
  const at = (f: string) => issuesAt(issues, { node: node.id }, f);
  const assigneeIssues = at("assignee");
  const formIssues = at("form");
  const slaIssues = at("sla");
  const resultIssues = at("result");
  return (
    <>
      <AreaField label="Instructions" value={node.instructions} onChange={(v) => updateNode(node.id, { instructions: v || undefined }, "instructions")} placeholder="What should the person do, and why?" />
      <Section title="Who does it">
        <AssigneePicker label="Assignee" value={node.assignee} self={node.id} onChange={(a) => updateNode(node.id, { assignee: a }, "assignee")} issues={assigneeIssues} />
      </Section>
      <Section title="Form">
        <FormBuilder node={node.id} form={node.form} ui={node.ui} supportsUi onChange={({ form, ui }) => updateNode(node.id, { form: form ?? undefined, ui: ui ?? undefined }, "form")} issues={formIssues} />
        <TextField label="Store the form data under" value={node.result} mono onChange={(v) => updateNode(node.id, { result: v || undefined }, "result")} hint="empty: merged at the top level of the data" issues={resultIssues} />
      </Section>
      <Section title="Due time and escalation">
        <SlaEditor node={node.id} value={node.sla} onChange={(sla) => updateNode(node.id, { sla }, "sla")} issues={slaIssues} />
      </Section>
      <Section title="Tell them">
        <NoticesEditor value={node.notify} onChange={(next) => updateNode(node.id, { notify: next.length ? next : undefined }, "notify")} issues={noticeIssues(issues, node.id)} />
      </Section>
      <NumberField label="Priority" value={node.priority ?? 0} onChange={(v) => updateNode(node.id, { priority: v || undefined }, "priority")} />
    </>
  );
}

export function ApprovalForm({ node }: { node: ApprovalNode }) {
  const { updateNode, readOnly, me, issues } = useEditor();
  const at = (f: string) => issuesAt(issues, { node: node.id }, f);
  const approverIssues = at("approvers");
  const outcomeIssues = at("outcomes");
  const quorumIssues = at("quorum");
  const formIssues = at("form");
  const slaIssues = at("sla");
  const approvers = node.approvers ?? [];
  const quorum = node.quorum ?? "all";
  const setApprovers = (next: Assignee[]) => updateNode(node.id, { approvers: next }, "approvers");
  return (
    <>
      <AreaField label="Instructions" value={node.instructions} onChange={(v) => updateNode(node.id, { instructions: v || undefined }, "instructions")} />
      <Section title="Approvers">
        {approvers.map((a, i) => (
          <div key={i} className="wf-approver">
            <AssigneePicker label={`Approver ${i + 1}`} value={a} self={node.id} onChange={(x) => setApprovers(approvers.map((y, j) => (j === i ? x : y)))} issues={approverIssues.filter((p) => p.field?.startsWith(`approvers.${i}`))} />
            {!readOnly && approvers.length > 1 && (
              <button type="button" className="link danger" onClick={() => setApprovers(approvers.filter((_, j) => j !== i))}>
                Remove approver {i + 1}
              </button>
            )}
          </div>
        ))}
        {!readOnly && (
          <button type="button" className="link" onClick={() => setApprovers([...approvers, { user: me }])}>
            + Add approver
          </button>
        )}
        <FieldIssues issues={approverIssues.filter((p) => p.field === "approvers")} />
        <label className="wf-field">
          <span>Approvals needed</span>
          <select
            value={typeof quorum === "number" ? "n" : quorum}
            disabled={readOnly}
            onChange={(e) => updateNode(node.id, { quorum: e.target.value === "n" ? Math.min(2, approvers.length) || 1 : e.target.value }, "quorum")}
          >
            <option value="all">All must approve</option>
            <option value="any">Any one</option>
            <option value="n">A number of them (N of M)</option>
          </select>
        </label>
        {typeof quorum === "number" && <NumberField label="How many must approve" value={quorum} min={1} max={approvers.length} onChange={(v) => updateNode(node.id, { quorum: v ?? 1 }, "quorum")} issues={quorumIssues} />}
      </Section>
      <Section title="Outcomes">
        <StringListEditor label="Outcomes" value={node.outcomes ?? ["approve", "reject"]} onChange={(v) => updateNode(node.id, { outcomes: v }, "outcomes")} issues={outcomeIssues} hint="Connections out of the approval choose an outcome each." />
      </Section>
      <Section title="Form" open={!!node.form}>
        <FormBuilder node={node.id} form={node.form} supportsUi={false} onChange={({ form }) => updateNode(node.id, { form: form ?? undefined }, "form")} issues={formIssues} />
        <TextField label="Store the decision under" value={node.result} mono placeholder={node.id} onChange={(v) => updateNode(node.id, { result: v || undefined }, "result")} />
      </Section>
      <Section title="Due time and escalation">
        <SlaEditor node={node.id} value={node.sla} onChange={(sla) => updateNode(node.id, { sla }, "sla")} issues={slaIssues} />
      </Section>
      <Section title="Tell them">
        <NoticesEditor value={node.notify} outcomes={node.outcomes ?? ["approve", "reject"]} onChange={(next) => updateNode(node.id, { notify: next.length ? next : undefined }, "notify")} issues={noticeIssues(issues, node.id)} />
      </Section>
      <NumberField label="Priority" value={node.priority ?? 0} onChange={(v) => updateNode(node.id, { priority: v || undefined }, "priority")} />
    </>
  );
}
