// The form builder: fields in order (text, long text, number, date, choice, checkbox, file), each
// required or not, with help text; it writes the JSON Schema the format expects, with a live preview.
import { lazy, Suspense, useState } from "react";

import { FIELD_TYPES, keyFromTitle, readForm, writeForm, type FieldType, type FormField } from "../graph/forms";
import { useEditor } from "../panels/context";
import type { Issue, JsonSchema } from "../types";
import { Boundary } from "./Boundary";
import { FieldIssues, JsonField } from "./fields";

const FormPreview = lazy(() => import("./FormPreview"));

interface Props {
  node: string;
  form: JsonSchema | null | undefined;
  /** The node's ui hints, or undefined when its type has none (start, approval). */
  ui?: Record<string, unknown> | null;
  supportsUi: boolean;
  onChange: (next: { form: JsonSchema | null; ui: Record<string, unknown> | null }) => void;
  issues: Issue[];
}

export function FormBuilder({ node, form, ui, supportsUi, onChange, issues }: Props) {
  const { readOnly } = useEditor();
  const fields = readForm(form, ui);
  const [asJson, setAsJson] = useState(false);
  const [preview, setPreview] = useState(true);
  const write = (next: FormField[]) => {
    const out = writeForm(next, form);
    onChange({ form: out.form, ui: supportsUi ? out.ui : null });
  };
  const setField = (i: number, patch: Partial<FormField>) => fields && write(fields.map((f, j) => (j === i ? { ...f, ...patch } : f)));
  const move = (i: number, delta: number) => {
    if (!fields) return;
    const next = [...fields];
    const [item] = next.splice(i, 1);
    if (!item) return;
    next.splice(i + delta, 0, item);
    write(next);
  };
  const add = () => {
    const list = fields ?? [];
    const title = `Field ${list.length + 1}`;
    write([...list, { key: keyFromTitle(title, new Set(list.map((f) => f.key))), title, type: "text", required: false, help: "", options: [], extra: {} }]);
  };

  return (
    <div className="wf-form-builder" data-testid="form-builder">
      <FieldIssues issues={issues} />
      {fields === null || asJson ? (
        <>
          {fields === null && <p className="hint">This form uses JSON Schema features the builder does not edit: change it as JSON.</p>}
          <JsonField label="Form (JSON Schema)" value={form ?? undefined} rows={10} onChange={(v) => onChange({ form: (v as JsonSchema) ?? null, ui: supportsUi ? ui ?? null : null })} />
        </>
      ) : (
        <ol className="wf-form-fields">
          {fields.map((f, i) => (
            <li key={i} className="wf-form-field" data-testid={`form-field-${i}`}>
              <div className="wf-form-field-head">
                <strong>{f.title || f.key}</strong>
                {!readOnly && (
                  <span className="wf-form-field-actions">
                    <button type="button" className="icon" aria-label={`Move ${f.title || f.key} up`} disabled={i === 0} onClick={() => move(i, -1)}>
                      ↑
                    </button>
                    <button type="button" className="icon" aria-label={`Move ${f.title || f.key} down`} disabled={i === fields.length - 1} onClick={() => move(i, 1)}>
                      ↓
                    </button>
                    <button type="button" className="icon" aria-label={`Remove ${f.title || f.key}`} onClick={() => write(fields.filter((_, j) => j !== i))}>
                      ×
                    </button>
                  </span>
                )}
              </div>
              <div className="wf-form-field-grid">
                <label className="wf-field">
                  <span>Label</span>
                  <input
                    value={f.title}
                    readOnly={readOnly}
                    onChange={(e) => {
                      const others = new Set(fields.filter((_, j) => j !== i).map((x) => x.key));
                      const auto = f.key === keyFromTitle(f.title, others) || f.key === "";
                      setField(i, auto ? { title: e.target.value, key: keyFromTitle(e.target.value, others) } : { title: e.target.value });
                    }}
                  />
                </label>
                <label className="wf-field">
                  <span>Data key</span>
                  <input className="mono" value={f.key} readOnly={readOnly} onChange={(e) => setField(i, { key: e.target.value.replace(/[^A-Za-z0-9_]/g, "_") })} />
                </label>
                <label className="wf-field">
                  <span>Type</span>
                  <select value={f.type} disabled={readOnly || f.type === "custom"} onChange={(e) => setField(i, { type: e.target.value as FieldType })}>
                    {f.type === "custom" && <option value="custom">Custom (JSON)</option>}
                    {/* long text is a display hint (uiSchema) that only user tasks keep */}
                    {FIELD_TYPES.filter((t) => supportsUi || t.type !== "longtext").map((t) => (
                      <option key={t.type} value={t.type}>
                        {t.label}
                      </option>
                    ))}
                  </select>
                </label>
                <label className="wf-check">
                  <input type="checkbox" checked={f.required} disabled={readOnly} onChange={(e) => setField(i, { required: e.target.checked })} />
                  <span>Required</span>
                </label>
              </div>
              {f.type === "select" && (
                <label className="wf-field">
                  <span>Options (one per line)</span>
                  <textarea rows={3} value={f.options.join("\n")} readOnly={readOnly} onChange={(e) => setField(i, { options: e.target.value.split("\n") })} onBlur={(e) => setField(i, { options: e.target.value.split("\n").map((o) => o.trim()).filter(Boolean) })} />
                </label>
              )}
              <label className="wf-field">
                <span>Help text</span>
                <input value={f.help} readOnly={readOnly} onChange={(e) => setField(i, { help: e.target.value })} placeholder="shown under the field" />
              </label>
            </li>
          ))}
        </ol>
      )}
      <div className="row">
        {!readOnly && fields !== null && !asJson && (
          <button type="button" onClick={add}>
            + Add field
          </button>
        )}
        <button type="button" className="link" onClick={() => setAsJson((v) => !v)} disabled={fields === null}>
          {asJson ? "Use the builder" : "Edit as JSON"}
        </button>
        {form && (
          <button type="button" className="link" onClick={() => setPreview((v) => !v)} aria-expanded={preview}>
            {preview ? "Hide preview" : "Show preview"}
          </button>
        )}
      </div>
      {form && preview && (
        <div className="wf-preview" aria-label="Form preview" data-testid="form-preview">
          <div className="wf-preview-title">Preview</div>
          <Boundary what="preview" resetKey={form}>
            <Suspense fallback={<p className="hint">Loading the preview…</p>}>
              <FormPreview key={node} schema={form} ui={ui} />
            </Suspense>
          </Boundary>
        </div>
      )}
    </div>
  );
}
