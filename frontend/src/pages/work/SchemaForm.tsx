// A task's or a start's form, rendered from its JSON Schema by rjsf.
//
// File fields (a string with `format: "document"` or `"data-url"`, or `ui:widget: "document"`)
// upload the file to the instance's documents first and keep the document's id in the data;
// the instance page lists the document with a download link.
import Form from "@rjsf/core";
import type { IChangeEvent } from "@rjsf/core";
import type { RJSFSchema, UiSchema, WidgetProps } from "@rjsf/utils";
import { useMemo, useRef, useState, type ReactNode } from "react";

import { api, errorText } from "../../api";
import { formValidator } from "./formValidator";
import { friendlyErrors } from "./friendlyErrors";
import type { DocumentOut } from "./types";

export interface FormContext {
  instanceId?: string;
  taskId?: string;
}

function DocumentWidget(props: WidgetProps) {
  const context = (props.registry.formContext ?? {}) as FormContext;
  const [name, setName] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const value = typeof props.value === "string" && props.value ? props.value : null;

  async function upload(file: File | undefined) {
    if (!file || !context.instanceId) return;
    setBusy(true);
    setError(null);
    const body = new FormData();
    body.append("file", file);
    if (context.taskId) body.append("task_id", context.taskId);
    try {
      const document = await api.upload<DocumentOut>(`/api/instances/${encodeURIComponent(context.instanceId)}/documents`, body);
      setName(document.filename);
      props.onChange(document.id);
    } catch (e) {
      setError(errorText(e));
      props.onChange(undefined);
    } finally {
      setBusy(false);
    }
  }

  if (!context.instanceId)
    return <p className="hint">Documents can be attached once the request has started, from its page.</p>;
  return (
    <div className="document-widget">
      <input
        id={props.id}
        type="file"
        aria-label={props.label || "Document"}
        disabled={props.disabled || props.readonly || busy}
        onChange={(e) => void upload(e.target.files?.[0])}
      />
      {busy && <span className="hint">Uploading…</span>}
      {value && !busy && (
        <span className="hint">
          Attached:{" "}
          <a href={`/api/documents/${encodeURIComponent(value)}`} download>
            {name ?? "document"}
          </a>
        </span>
      )}
      {error && (
        <span className="field-error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}

const WIDGETS = { FileWidget: DocumentWidget, document: DocumentWidget };

export interface SchemaFormProps {
  schema: Record<string, unknown> | null | undefined;
  ui?: Record<string, unknown> | null;
  context?: FormContext;
  disabled?: boolean;
  idPrefix?: string;
  initial?: Record<string, unknown>;
  /** Called with the data once it passes the form's checks; `action` is the button's value. */
  onSubmit: (data: Record<string, unknown>, action: string | undefined) => void;
  /** The submit buttons; a button's `value` comes back as `action`. */
  children: ReactNode;
  /** Errors the server found, by field name (422 `invalid_form`). */
  serverErrors?: string[];
}

export function SchemaForm({ schema, ui, context, disabled, idPrefix = "form", initial, onSubmit, children, serverErrors }: SchemaFormProps) {
  const action = useRef<string | undefined>(undefined);
  const [data, setData] = useState<Record<string, unknown>>(initial ?? {});
  // after a refused submit, errors follow the fields as they are fixed
  const [tried, setTried] = useState(false);
  const rjsfSchema = useMemo<RJSFSchema>(() => {
    const base = schema && typeof schema === "object" ? schema : {};
    return { type: "object", ...base } as RJSFSchema;
  }, [schema]);
  const uiSchema = useMemo<UiSchema>(() => ({ "ui:submitButtonOptions": { norender: true }, ...(ui ?? {}) }) as UiSchema, [ui]);
  const empty = !rjsfSchema.properties || Object.keys(rjsfSchema.properties).length === 0;

  return (
    <div
      className="schema-form"
      onClickCapture={(event) => {
        // remember which submit button was pressed (approve / reject ...)
        const button = (event.target as HTMLElement).closest("button[type=submit]");
        if (button instanceof HTMLButtonElement) action.current = button.value || undefined;
      }}
    >
    <Form
      className={`rjsf${empty ? " rjsf-empty" : ""}`}
      schema={rjsfSchema}
      uiSchema={uiSchema}
      validator={formValidator}
      widgets={WIDGETS}
      formContext={context ?? {}}
      formData={data}
      idPrefix={idPrefix}
      disabled={disabled}
      noHtml5Validate
      // a checkbox that must be ticked (`const: true`) starts unticked: ticking it is the point
      experimental_defaultFormStateBehavior={{ constAsDefaults: "never" }}
      transformErrors={friendlyErrors}
      liveValidate={tried ? "onChange" : undefined}
      onError={() => setTried(true)}
      showErrorList="top"
      focusOnFirstError
      onChange={(event: IChangeEvent) => setData((event.formData ?? {}) as Record<string, unknown>)}
      onSubmit={(event: IChangeEvent) => {
        onSubmit((event.formData ?? {}) as Record<string, unknown>, action.current);
        action.current = undefined;
      }}
    >
      {serverErrors && serverErrors.length > 0 && (
        <div className="error-note" role="alert">
          <strong>The service did not accept the form:</strong>
          <ul>
            {serverErrors.map((e) => (
              <li key={e}>{e}</li>
            ))}
          </ul>
        </div>
      )}
      {children}
    </Form>
    </div>
  );
}
