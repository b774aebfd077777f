// The form builder's model (a list of fields) and the JSON Schema (+ ui hints) it writes.
// Settings of a property the builder does not edit (minimum, const, ...) are kept as they are.
import type { JsonSchema } from "../types";

export type FieldType = "text" | "longtext" | "number" | "integer" | "date" | "select" | "checkbox" | "file" | "custom";

export const FIELD_TYPES: { type: FieldType; label: string }[] = [
  { type: "text", label: "Text" },
  { type: "longtext", label: "Long text" },
  { type: "number", label: "Number" },
  { type: "integer", label: "Whole number" },
  { type: "date", label: "Date" },
  { type: "select", label: "Choice (select)" },
  { type: "checkbox", label: "Checkbox" },
  { type: "file", label: "File" },
];

export interface FormField {
  key: string;
  title: string;
  type: FieldType;
  required: boolean;
  help: string;
  options: string[];
  /** Keywords of the property the builder does not manage, kept on a round trip. */
  extra: Record<string, unknown>;
}

const MANAGED = new Set(["type", "title", "description", "enum", "format"]);

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The fields of a form, in order; null when the schema uses more than the builder can show. */
export function readForm(schema: JsonSchema | null | undefined, ui?: Record<string, unknown> | null): FormField[] | null {
  if (!schema) return [];
  const props = schema.properties;
  if (props !== undefined && !isObject(props)) return null;
  const topKeys = Object.keys(schema).filter((k) => !["type", "properties", "required", "additionalProperties", "$schema", "title", "description"].includes(k));
  if (topKeys.length > 0) return null;
  const required = new Set(Array.isArray(schema.required) ? schema.required.map(String) : []);
  let keys = Object.keys(props ?? {});
  const order = ui?.["ui:order"];
  if (Array.isArray(order)) {
    const ordered = order.map(String).filter((k) => keys.includes(k));
    keys = [...ordered, ...keys.filter((k) => !ordered.includes(k))];
  }
  const fields: FormField[] = [];
  for (const key of keys) {
    const prop = (props as Record<string, unknown>)[key];
    if (!isObject(prop)) return null;
    const widget = isObject(ui?.[key]) ? (ui[key] as Record<string, unknown>)["ui:widget"] : undefined;
    const extra = Object.fromEntries(Object.entries(prop).filter(([k]) => !MANAGED.has(k)));
    const base = { key, title: String(prop.title ?? ""), required: required.has(key), help: String(prop.description ?? ""), options: [] as string[], extra };
    const t = prop.type;
    if (Array.isArray(prop.enum) && (t === "string" || t === undefined)) fields.push({ ...base, type: "select", options: prop.enum.map(String) });
    else if (t === "boolean") fields.push({ ...base, type: "checkbox" });
    else if (t === "number") fields.push({ ...base, type: "number" });
    else if (t === "integer") fields.push({ ...base, type: "integer" });
    else if (t === "string" && prop.format === "date") fields.push({ ...base, type: "date" });
    else if (t === "string" && prop.format === "data-url") fields.push({ ...base, type: "file" });
    else if (t === "string" && !prop.format) fields.push({ ...base, type: widget === "textarea" ? "longtext" : "text" });
    else fields.push({ ...base, type: "custom", extra: prop });
  }
  return fields;
}

function property(field: FormField): Record<string, unknown> {
  if (field.type === "custom") return field.extra;
  const out: Record<string, unknown> = {};
  switch (field.type) {
    case "text":
    case "longtext":
      out.type = "string";
      break;
    case "number":
      out.type = "number";
      break;
    case "integer":
      out.type = "integer";
      break;
    case "date":
      out.type = "string";
      out.format = "date";
      break;
    case "select":
      out.type = "string";
      out.enum = field.options.length ? field.options : ["option 1"];
      break;
    case "checkbox":
      out.type = "boolean";
      break;
    case "file":
      out.type = "string";
      out.format = "data-url";
      break;
  }
  if (field.title) out.title = field.title;
  if (field.help) out.description = field.help;
  const keep = Object.fromEntries(
    Object.entries(field.extra).filter(([k]) => {
      // bounds of another type would make the schema contradict itself
      if (["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"].includes(k)) return field.type === "number" || field.type === "integer";
      if (["minLength", "maxLength", "pattern"].includes(k)) return ["text", "longtext"].includes(field.type);
      if (k === "const") return field.type === "checkbox";
      return true;
    }),
  );
  return { ...out, ...keep };
}

/** The JSON Schema of `fields`, and the ui hints (field order, long text) when the node takes them. */
export function writeForm(fields: FormField[], previous?: JsonSchema | null): { form: JsonSchema | null; ui: Record<string, unknown> | null } {
  if (fields.length === 0) return { form: null, ui: null };
  const properties: Record<string, unknown> = {};
  for (const f of fields) properties[f.key] = property(f);
  const form: JsonSchema = { type: "object", properties };
  if (previous?.title) form.title = previous.title;
  if (previous?.description) form.description = previous.description;
  if (typeof previous?.additionalProperties === "boolean") form.additionalProperties = previous.additionalProperties;
  const required = fields.filter((f) => f.required).map((f) => f.key);
  if (required.length) form.required = required;
  const ui: Record<string, unknown> = { "ui:order": fields.map((f) => f.key) };
  for (const f of fields) if (f.type === "longtext") ui[f.key] = { "ui:widget": "textarea" };
  return { form, ui };
}

/** A data key from a label: "Weight (kg)" → "weight_kg". */
export function keyFromTitle(title: string, taken: ReadonlySet<string>): string {
  const base =
    title
      .toLowerCase()
      .normalize("NFKD")
      .replace(/[^a-z0-9]+/g, "_")
      .replace(/^_+|_+$/g, "")
      .replace(/^(\d)/, "f_$1") || "field";
  const safe = ["now", "today", "instance", "task"].includes(base) ? `${base}_value` : base;
  let key = safe;
  for (let n = 2; taken.has(key); n++) key = `${safe}_${n}`;
  return key;
}
