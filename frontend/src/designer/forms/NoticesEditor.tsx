// The messages a task sends to each person it is given to, the moment it is created.
import { useEditor } from "../panels/context";
import type { Issue, TaskNotice } from "../types";
import { AreaField, FieldIssues, SelectField, TextField } from "./fields";

interface Props {
  value: TaskNotice[] | null | undefined;
  onChange: (value: TaskNotice[]) => void;
  /** The node's problems about `notify` (see `noticeIssues`). */
  issues: Issue[];
  /** An approval's outcomes: offers a notice with a one-click link for each. */
  outcomes?: string[];
}

const CHANNELS = [
  { value: "email", label: "Email" },
  { value: "sms", label: "SMS" },
] as const;

/** The problems of `node` about its notices, with the field written `notify.0.body`: the
 * format's checks say `notify.0.body`, the template checks `notify[0].body`. */
export function noticeIssues(issues: Issue[], node: string): Issue[] {
  return issues
    .filter((i) => i.node === node && !i.edge)
    .map((i) => ({ ...i, field: i.field?.replace(/\[(\d+)\]/g, ".$1") ?? null }))
    .filter((i) => i.field === "notify" || i.field?.startsWith("notify."));
}

// Jinja reads `links.items` as the dict's method, and `links.needs-info` as a subtraction.
const DICT_METHODS = new Set(["clear", "copy", "fromkeys", "get", "items", "keys", "pop", "popitem", "setdefault", "update", "values"]);

function linkOf(outcome: string): string {
  const dotted = /^[A-Za-z_][A-Za-z0-9_]*$/.test(outcome) && !DICT_METHODS.has(outcome);
  return dotted ? `{{ task.links.${outcome} }}` : `{{ task.links[${JSON.stringify(outcome)}] }}`;
}

function labelOf(outcome: string): string {
  const words = outcome.replace(/[_-]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function emailThePerson(): TaskNotice {
  return {
    channel: "email",
    subject: "{{ task.name }}",
    body: "Hello {{ person.name }},\n\n{{ task.name }} waits for you.\nOpen it: {{ task.url }}",
  };
}

function emailWithLinks(outcomes: string[]): TaskNotice {
  const lines = outcomes.map((o) => `${labelOf(o)}: ${linkOf(o)}`);
  return {
    channel: "email",
    subject: "{{ task.name }}",
    body: ["Hello {{ person.name }},", "", "{{ task.name }} waits for your decision.", ...lines, "", "Or open it: {{ task.url }}"].join("\n"),
  };
}

export function NoticesEditor({ value, onChange, issues, outcomes }: Props) {
  const { readOnly } = useEditor();
  const notices = value ?? [];
  const at = (field: string) => issues.filter((i) => i.field === `notify.${field}` || i.field?.startsWith(`notify.${field}.`));
  const set = (n: number, patch: Partial<TaskNotice>) =>
    onChange(
      notices.map((x, j) => {
        if (j !== n) return x;
        const next: TaskNotice = { ...x, ...patch };
        if (next.channel === "sms") delete next.subject;
        for (const key of ["subject", "to"] as const) if (!next[key]) delete next[key];
        return next;
      }),
    );
  return (
    <div className="wf-notices" data-testid="notices-editor" style={{ display: "flex", flexDirection: "column", gap: "0.6rem" }}>
      <p className="hint">Sent to each person the task is given to: when it arrives, when it is handed on, and again at each reminder of its due time. One-click links work once per person and expire after 7 days.</p>
      {notices.length === 0 && <p className="hint">No messages: people find the task in their inbox.</p>}
      {notices.map((notice, n) => {
        const channel = notice.channel ?? "email";
        return (
          // the card look of the escalation levels
          <div className="wf-escalation" key={n} data-testid={`notice-${n}`}>
            <div className="wf-escalation-head">
              <strong>Message {n + 1}</strong>
              {!readOnly && (
                <button type="button" className="icon" aria-label={`Remove message ${n + 1}`} onClick={() => onChange(notices.filter((_, j) => j !== n))}>
                  ×
                </button>
              )}
            </div>
            <SelectField label="Channel" value={channel} options={CHANNELS.map((c) => ({ ...c }))} onChange={(v) => set(n, { channel: v })} issues={at(`${n}.channel`)} />
            {channel === "email" && <TextField label="Subject" value={notice.subject} onChange={(v) => set(n, { subject: v })} issues={at(`${n}.subject`)} />}
            <AreaField label="Body" rows={8} value={notice.body} onChange={(v) => set(n, { body: v })} issues={at(`${n}.body`)} />
            <TextField label="Send to" value={notice.to} mono onChange={(v) => set(n, { to: v })} hint="empty: the person's own address" issues={at(`${n}.to`)} />
            <FieldIssues issues={issues.filter((i) => i.field === `notify.${n}`)} />
          </div>
        );
      })}
      {!readOnly && (
        <div className="row" style={{ gap: "1rem" }}>
          <button type="button" className="link" onClick={() => onChange([...notices, emailThePerson()])}>
            + Email the person
          </button>
          {outcomes && (
            <button type="button" className="link" onClick={() => onChange([...notices, emailWithLinks(outcomes)])}>
              + Email with one-click links
            </button>
          )}
        </div>
      )}
      <p className="hint">
        In the texts: the data (<code className="nowrap">{"{{ order_id }}"}</code>), <code className="nowrap">{"{{ task.name }}"}</code>, <code className="nowrap">{"{{ task.url }}"}</code>, <code className="nowrap">{"{{ task.due_at }}"}</code>
        {outcomes && (
          <>
            , <code className="nowrap">{linkOf(outcomes[0] ?? "approve")}</code>
          </>
        )}
        , <code className="nowrap">{"{{ person.name }}"}</code>.
      </p>
      <FieldIssues issues={issues.filter((i) => i.field === "notify")} />
    </div>
  );
}
