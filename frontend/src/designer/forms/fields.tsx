// Labelled inputs for the property forms. Every input is a real <label>ed control, reachable by Tab.
import { useEffect, useId, useRef, useState, type ReactNode } from "react";

import { describeDuration, DURATION_UNITS, joinDuration, splitDuration, type Unit } from "../graph/duration";
import { useEditor } from "../panels/context";
import type { Issue } from "../types";

export function FieldIssues({ issues }: { issues: Issue[] }) {
  if (issues.length === 0) return null;
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

/** The problems about one setting (`field`, or anything under it) of a node or an edge. */
export function issuesAt(issues: Issue[], target: { node?: string; edge?: string }, field: string): Issue[] {
  return issues.filter(
    (i) =>
      ((target.node && i.node === target.node && !i.edge) || (target.edge && i.edge === target.edge)) &&
      i.field !== null &&
      (i.field === field || i.field.startsWith(`${field}.`)),
  );
}

interface Base {
  label: string;
  hint?: ReactNode;
  issues?: Issue[];
}

export function TextField({ label, hint, issues = [], value, onChange, placeholder, mono, list, testId }: Base & { value: string | null | undefined; onChange: (v: string) => void; placeholder?: string; mono?: boolean; list?: string; testId?: string }) {
  const { readOnly } = useEditor();
  return (
    <label className={`wf-field${issues.some((i) => i.severity === "error") ? " invalid" : ""}`}>
      <span>{label}</span>
      <input value={value ?? ""} onChange={(e) => onChange(e.target.value)} placeholder={placeholder} readOnly={readOnly} className={mono ? "mono" : undefined} list={list} data-testid={testId} spellCheck={!mono} />
      {hint && <small className="hint">{hint}</small>}
      <FieldIssues issues={issues} />
    </label>
  );
}

export function AreaField({ label, hint, issues = [], value, onChange, rows = 3, mono, placeholder }: Base & { value: string | null | undefined; onChange: (v: string) => void; rows?: number; mono?: boolean; placeholder?: string }) {
  const { readOnly } = useEditor();
  return (
    <label className={`wf-field${issues.some((i) => i.severity === "error") ? " invalid" : ""}`}>
      <span>{label}</span>
      <textarea value={value ?? ""} rows={rows} onChange={(e) => onChange(e.target.value)} readOnly={readOnly} className={mono ? "mono" : undefined} placeholder={placeholder} />
      {hint && <small className="hint">{hint}</small>}
      <FieldIssues issues={issues} />
    </label>
  );
}

export function SelectField<T extends string>({ label, hint, issues = [], value, options, onChange }: Base & { value: T; options: { value: T; label: string }[]; onChange: (v: T) => void }) {
  const { readOnly } = useEditor();
  return (
    <label className="wf-field">
      <span>{label}</span>
      <select value={value} onChange={(e) => onChange(e.target.value as T)} disabled={readOnly}>
        {options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
      {hint && <small className="hint">{hint}</small>}
      <FieldIssues issues={issues} />
    </label>
  );
}

export function CheckField({ label, hint, checked, onChange }: { label: string; hint?: ReactNode; checked: boolean; onChange: (v: boolean) => void }) {
  const { readOnly } = useEditor();
  return (
    <label className="wf-check">
      <input type="checkbox" checked={checked} onChange={(e) => onChange(e.target.checked)} disabled={readOnly} />
      <span>{label}</span>
      {hint && <small className="hint">{hint}</small>}
    </label>
  );
}

export function NumberField({ label, hint, issues = [], value, onChange, min, max, step }: Base & { value: number | null | undefined; onChange: (v: number | undefined) => void; min?: number; max?: number; step?: number }) {
  const { readOnly } = useEditor();
  return (
    <label className="wf-field">
      <span>{label}</span>
      <input
        type="number"
        value={value ?? ""}
        min={min}
        max={max}
        step={step}
        readOnly={readOnly}
        onChange={(e) => onChange(e.target.value === "" ? undefined : Number(e.target.value))}
      />
      {hint && <small className="hint">{hint}</small>}
      <FieldIssues issues={issues} />
    </label>
  );
}

/** An ISO 8601 duration: typed as text, or picked as an amount and a unit. */
export function DurationField({ label, hint, issues = [], value, onChange, optional }: Base & { value: string | null | undefined; onChange: (v: string | undefined) => void; optional?: boolean }) {
  const { readOnly } = useEditor();
  const id = useId();
  const simple = splitDuration(value);
  const text = describeDuration(value);
  return (
    <div className={`wf-field wf-duration${issues.some((i) => i.severity === "error") ? " invalid" : ""}`} role="group" aria-labelledby={id}>
      <span id={id}>{label}</span>
      <div className="row">
        <input
          type="number"
          min={1}
          aria-label={`${label}: amount`}
          value={simple?.amount ?? ""}
          readOnly={readOnly}
          onChange={(e) => {
            if (e.target.value === "") return optional ? onChange(undefined) : undefined;
            onChange(joinDuration(Number(e.target.value), simple?.unit ?? "H"));
          }}
        />
        <select aria-label={`${label}: unit`} value={simple?.unit ?? ""} disabled={readOnly} onChange={(e) => onChange(joinDuration(simple?.amount ?? 1, e.target.value as Unit))}>
          {!simple && <option value="">—</option>}
          {DURATION_UNITS.map((u) => (
            <option key={u.unit} value={u.unit}>
              {u.label}
            </option>
          ))}
        </select>
        <input className="mono iso" aria-label={`${label} (ISO 8601)`} value={value ?? ""} placeholder="PT4H" readOnly={readOnly} onChange={(e) => onChange(e.target.value === "" && optional ? undefined : e.target.value)} />
      </div>
      {(text || hint) && <small className="hint">{[text, hint].filter(Boolean).map((x, i) => <span key={i}>{i ? " · " : ""}{x}</span>)}</small>}
      <FieldIssues issues={issues} />
    </div>
  );
}

/** Text with `{{ data }}` templates: a picker inserts a data field at the cursor. */
export function TemplateField({ label, hint, issues = [], value, onChange, multiline, placeholder }: Base & { value: string | null | undefined; onChange: (v: string) => void; multiline?: boolean; placeholder?: string }) {
  const { readOnly, fields } = useEditor();
  const ref = useRef<HTMLInputElement & HTMLTextAreaElement>(null);
  const [pick, setPick] = useState("");
  const insert = (field: string) => {
    const el = ref.current;
    const current = value ?? "";
    const at = el?.selectionStart ?? current.length;
    const end = el?.selectionEnd ?? at;
    const token = `{{ ${field} }}`;
    onChange(current.slice(0, at) + token + current.slice(end));
    setPick("");
    requestAnimationFrame(() => {
      el?.focus();
      el?.setSelectionRange(at + token.length, at + token.length);
    });
  };
  return (
    <div className="wf-field">
      <label className="wf-field">
        <span>{label}</span>
        {multiline ? (
          <textarea ref={ref} rows={5} value={value ?? ""} onChange={(e) => onChange(e.target.value)} readOnly={readOnly} placeholder={placeholder} />
        ) : (
          <input ref={ref} value={value ?? ""} onChange={(e) => onChange(e.target.value)} readOnly={readOnly} placeholder={placeholder} />
        )}
      </label>
      {!readOnly && (
        <select className="wf-insert" aria-label={`Insert a data field into ${label}`} value={pick} onChange={(e) => e.target.value && insert(e.target.value)}>
          <option value="">Insert data field…</option>
          {fields.map((f) => (
            <option key={f} value={f}>
              {f}
            </option>
          ))}
          <option value="instance.started_by">instance.started_by (who started it)</option>
          <option value="instance.business_key">instance.business_key</option>
          <option value="instance.id">instance.id</option>
          <option value="tracking_url">tracking_url</option>
        </select>
      )}
      {hint && <small className="hint">{hint}</small>}
      <FieldIssues issues={issues} />
    </div>
  );
}

/** Pairs such as `{field: expression}`, in order. */
export function KeyValueEditor({ label, hint, issues = [], value, onChange, keyLabel = "Field", valueLabel = "Expression", monoValue = true }: Base & { value: Record<string, string> | null | undefined; onChange: (v: Record<string, string>) => void; keyLabel?: string; valueLabel?: string; monoValue?: boolean }) {
  const { readOnly } = useEditor();
  const entries = Object.entries(value ?? {});
  const write = (next: [string, string][]) => onChange(Object.fromEntries(next));
  return (
    <fieldset className="wf-kv">
      <legend>{label}</legend>
      {entries.length > 0 && (
        <div className="wf-kv-head" aria-hidden="true">
          <span>{keyLabel}</span>
          <span>{valueLabel}</span>
        </div>
      )}
      {entries.map(([k, v], i) => (
        <div className="wf-kv-row" key={i}>
          <input aria-label={`${label} ${i + 1}: ${keyLabel}`} value={k} readOnly={readOnly} onChange={(e) => write(entries.map((x, j) => (j === i ? [e.target.value, x[1]] : x)))} className="mono" />
          <input aria-label={`${label} ${i + 1}: ${valueLabel}`} value={v} readOnly={readOnly} onChange={(e) => write(entries.map((x, j) => (j === i ? [x[0], e.target.value] : x)))} className={monoValue ? "mono" : undefined} />
          {!readOnly && (
            <button type="button" className="icon" aria-label={`Remove ${k || "row"}`} onClick={() => write(entries.filter((_, j) => j !== i))}>
              ×
            </button>
          )}
        </div>
      ))}
      {!readOnly && (
        <button
          type="button"
          className="link"
          onClick={() => {
            const taken = new Set(entries.map(([k]) => k));
            let key = "field";
            for (let n = 2; taken.has(key); n++) key = `field_${n}`;
            write([...entries, [key, ""]]);
          }}
        >
          + Add
        </button>
      )}
      {hint && <small className="hint">{hint}</small>}
      <FieldIssues issues={issues} />
    </fieldset>
  );
}

export function StringListEditor({ label, hint, issues = [], value, onChange, placeholder, render }: Base & { value: string[] | null | undefined; onChange: (v: string[]) => void; placeholder?: string; render?: (v: string, set: (x: string) => void, i: number) => ReactNode }) {
  const { readOnly } = useEditor();
  const items = value ?? [];
  return (
    <fieldset className="wf-list">
      <legend>{label}</legend>
      {items.map((v, i) => (
        <div className="wf-kv-row" key={i}>
          {render ? (
            render(v, (x) => onChange(items.map((y, j) => (j === i ? x : y))), i)
          ) : (
            <input aria-label={`${label} ${i + 1}`} value={v} readOnly={readOnly} placeholder={placeholder} onChange={(e) => onChange(items.map((y, j) => (j === i ? e.target.value : y)))} />
          )}
          {!readOnly && (
            <button type="button" className="icon" aria-label={`Remove ${label} ${i + 1}`} onClick={() => onChange(items.filter((_, j) => j !== i))}>
              ×
            </button>
          )}
        </div>
      ))}
      {!readOnly && (
        <button type="button" className="link" onClick={() => onChange([...items, ""])}>
          + Add
        </button>
      )}
      {hint && <small className="hint">{hint}</small>}
      <FieldIssues issues={issues} />
    </fieldset>
  );
}

/** Any JSON value, edited as text; it is written only while it parses. */
export function JsonField({ label, hint, issues = [], value, onChange, rows = 4 }: Base & { value: unknown; onChange: (v: unknown) => void; rows?: number }) {
  const { readOnly, unparsed } = useEditor();
  const shown = value === undefined ? "" : JSON.stringify(value, null, 2);
  const [draft, setDraft] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const id = useId();
  useEffect(() => {
    unparsed(id, error !== null); // publishing waits for text that does not parse yet
    return () => unparsed(id, false);
  }, [id, error, unparsed]);
  return (
    <label className={`wf-field${error ? " invalid" : ""}`}>
      <span>{label}</span>
      <textarea
        className="mono"
        rows={rows}
        value={draft ?? shown}
        readOnly={readOnly}
        onChange={(e) => {
          setDraft(e.target.value);
          if (e.target.value.trim() === "") {
            setError(null);
            onChange(undefined);
            return;
          }
          try {
            onChange(JSON.parse(e.target.value));
            setError(null);
          } catch {
            setError("Not valid JSON yet: it is saved once it is.");
          }
        }}
        onBlur={() => {
          if (!error) setDraft(null);
        }}
      />
      {hint && <small className="hint">{hint}</small>}
      {error && <small className="wf-inline-error">{error}</small>}
      <FieldIssues issues={issues} />
    </label>
  );
}

export function Section({ title, children, open = true }: { title: string; children: ReactNode; open?: boolean }) {
  return (
    <details className="wf-section" open={open}>
      <summary>{title}</summary>
      <div className="wf-section-body">{children}</div>
    </details>
  );
}
