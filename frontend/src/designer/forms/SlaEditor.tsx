// A task's service level: when it is due, on which calendar, reminders before, escalation levels after.
import { useEditor } from "../panels/context";
import type { Assignee, Escalation, Issue, Sla } from "../types";
import { AssigneePicker } from "./AssigneePicker";
import { CheckField, DurationField, FieldIssues, NumberField, SelectField } from "./fields";

interface Props {
  node: string;
  value: Sla | null | undefined;
  onChange: (value: Sla | undefined) => void;
  issues: Issue[];
}

const ACTIONS = [
  { value: "notify", label: "Notify" },
  { value: "reassign", label: "Reassign" },
  { value: "priority", label: "Raise priority" },
] as const;

export function SlaEditor({ node, value, onChange, issues }: Props) {
  const { readOnly, directory } = useEditor();
  const sla = value ?? null;
  const at = (field: string) => issues.filter((i) => i.field === `sla.${field}` || i.field?.startsWith(`sla.${field}.`));
  const set = (patch: Partial<Sla>) => sla && onChange({ ...sla, ...patch });
  const escalations = sla?.escalate ?? [];
  const setEscalation = (i: number, patch: Partial<Escalation>) =>
    set({
      escalate: escalations.map((e, j) => {
        if (j !== i) return e;
        const next: Escalation = { ...e, ...patch };
        if (next.action !== "priority") delete next.priority;
        if (next.to === undefined) delete next.to;
        return next;
      }),
    });
  return (
    <div className="wf-sla" data-testid="sla-editor">
      <CheckField label="This task has a due time (SLA)" checked={!!sla} onChange={(on) => onChange(on ? { due: "PT4H", calendar: "business" } : undefined)} />
      {sla && (
        <>
          <DurationField label="Due after" value={sla.due} onChange={(v) => set({ due: v ?? "" })} issues={at("due")} hint="from when the task is created" />
          <SelectField
            label="Calendar"
            value={sla.calendar ?? ""}
            options={[{ value: "", label: "Wall-clock (24×7)" }, ...[...new Set(["business", ...directory.calendars])].map((c) => ({ value: c, label: c === "business" ? "business (working hours)" : c }))]}
            onChange={(v) => set({ calendar: v || null })}
            issues={at("calendar")}
            hint="With a calendar, only working time counts."
          />
          <fieldset className="wf-list">
            <legend>Reminders</legend>
            {(sla.remind ?? []).map((r, i) => (
              <div className="wf-kv-row" key={i}>
                <DurationField label={`Reminder ${i + 1} after`} value={r} onChange={(v) => set({ remind: (sla.remind ?? []).map((x, j) => (j === i ? v ?? "" : x)) })} issues={at(`remind.${i}`)} />
                {!readOnly && (
                  <button type="button" className="icon" aria-label={`Remove reminder ${i + 1}`} onClick={() => set({ remind: (sla.remind ?? []).filter((_, j) => j !== i) })}>
                    ×
                  </button>
                )}
              </div>
            ))}
            {!readOnly && (
              <button type="button" className="link" onClick={() => set({ remind: [...(sla.remind ?? []), "PT3H"] })}>
                + Add reminder
              </button>
            )}
          </fieldset>
          <fieldset className="wf-list">
            <legend>Escalation levels</legend>
            {escalations.map((e, i) => (
              <div className="wf-escalation" key={i} data-testid={`escalation-${i}`}>
                <div className="wf-escalation-head">
                  <strong>Level {i + 1}</strong>
                  {!readOnly && (
                    <button type="button" className="icon" aria-label={`Remove escalation level ${i + 1}`} onClick={() => set({ escalate: escalations.filter((_, j) => j !== i) })}>
                      ×
                    </button>
                  )}
                </div>
                <DurationField label={`Level ${i + 1} after`} value={e.after} onChange={(v) => setEscalation(i, { after: v ?? "" })} issues={at(`escalate.${i}.after`)} />
                <SelectField label="Action" value={e.action ?? "notify"} options={ACTIONS.map((a) => ({ ...a }))} onChange={(v) => setEscalation(i, { action: v })} />
                {e.action === "priority" ? (
                  <NumberField label="New priority" value={e.priority ?? undefined} onChange={(v) => setEscalation(i, { priority: v ?? null })} hint="empty: one higher than now" />
                ) : (
                  <AssigneePicker label={e.action === "reassign" ? "Reassign to" : "Notify"} value={e.to ?? null} self={node} onChange={(to: Assignee) => setEscalation(i, { to })} issues={at(`escalate.${i}.to`)} />
                )}
              </div>
            ))}
            {!readOnly && (
              <button type="button" className="link" onClick={() => set({ escalate: [...escalations, { after: sla.due || "PT4H", action: "notify", to: { role: directory.roles.includes("manager") ? "manager" : directory.roles[0] ?? "admin" } }] })}>
                + Add escalation level
              </button>
            )}
          </fieldset>
          <FieldIssues issues={issues.filter((i) => i.field === "sla")} />
        </>
      )}
    </div>
  );
}
