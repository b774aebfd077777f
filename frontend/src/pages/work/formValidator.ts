// A JSON Schema validator for rjsf forms that compiles nothing.
//
// Why not @rjsf/validator-ajv8's default validator: Ajv turns every schema into JavaScript with
// `new Function`, and the app's Content-Security-Policy (`script-src 'self'`, no 'unsafe-eval')
// refuses that, so every form would fail to validate. Ajv's precompiled mode needs the schemas
// at build time, and ours come from workflows at run time. So this module interprets the schema
// and reports Ajv-shaped errors (same keywords, messages and paths), which validator-ajv8's own
// `processRawValidationErrors` turns into rjsf's error list and error schema — titles, custom
// validation and error transforms work as with the stock validator. The server checks every
// submission again (422 `invalid_form`); this is for early, friendly feedback.

import type {
  CustomValidator,
  ErrorTransformer,
  RJSFSchema,
  UiSchema,
  ValidationData,
  ValidatorType,
} from "@rjsf/utils";
import processRawValidationErrors from "@rjsf/validator-ajv8/lib/processRawValidationErrors.js";
import type { ErrorObject } from "ajv";

type Json = unknown;
type Schema = Record<string, unknown>;

const MAX_DEPTH = 64;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function escapePointer(part: string | number): string {
  return String(part).replace(/~/g, "~0").replace(/\//g, "~1");
}

function typeOf(value: Json): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

function hasType(value: Json, type: string): boolean {
  const actual = typeOf(value);
  if (type === "number") return actual === "number" || actual === "integer";
  return actual === type;
}

export function deepEqual(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}

const FORMATS: Record<string, (text: string) => boolean> = {
  date: (t) => /^\d{4}-\d{2}-\d{2}$/.test(t) && !Number.isNaN(Date.parse(`${t}T00:00:00Z`)),
  "date-time": (t) => /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})$/.test(t) && !Number.isNaN(Date.parse(t)),
  time: (t) => /^\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$/.test(t),
  email: (t) => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(t),
  uri: (t) => /^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s]*$/.test(t),
};

function patternMatches(pattern: string, text: string): boolean {
  try {
    return new RegExp(pattern, "u").test(text);
  } catch {
    return true; // a pattern JavaScript cannot read: leave it to the server
  }
}

/** The errors of `data` against `schema`, as Ajv would report them. `root` resolves `$ref`s. */
export function check(schema: Json, data: Json, root: Json = schema): ErrorObject[] {
  const errors: ErrorObject[] = [];
  walk(schema, data, "", "#", root, errors, 0);
  return errors;
}

function resolveRef(ref: string, root: Json): Json {
  if (!ref.startsWith("#")) return undefined;
  let node: Json = root;
  for (const raw of ref.slice(1).split("/").filter(Boolean)) {
    const part = decodeURIComponent(raw).replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(node)) node = node[Number(part)];
    else if (isObject(node)) node = node[part];
    else return undefined;
  }
  return node;
}

function walk(schema: Json, data: Json, path: string, at: string, root: Json, out: ErrorObject[], depth: number): void {
  if (schema === true || schema === undefined) return;
  if (schema === false) {
    out.push(err("false schema", path, at, {}, "boolean schema is false"));
    return;
  }
  if (!isObject(schema) || depth > MAX_DEPTH) return;
  const s: Schema = schema;
  const add = (keyword: string, params: Record<string, unknown>, message: string) =>
    out.push(err(keyword, path, `${at}/${keyword}`, params, message, s));

  if (typeof s.$ref === "string") {
    const target = resolveRef(s.$ref, root);
    if (target !== undefined) walk(target, data, path, `${at}/$ref`, root, out, depth + 1);
  }

  const types = s.type === undefined ? undefined : Array.isArray(s.type) ? (s.type as string[]) : [String(s.type)];
  if (types && !types.some((t) => hasType(data, t))) {
    add("type", { type: types.join(",") }, `must be ${types.join(",")}`);
    return; // Ajv stops at a wrong type too: the other keywords would only add noise
  }
  if ("const" in s && !deepEqual(data, s.const)) add("const", { allowedValue: s.const }, "must be equal to constant");
  if (Array.isArray(s.enum) && !s.enum.some((v) => deepEqual(v, data)))
    add("enum", { allowedValues: s.enum }, "must be equal to one of the allowed values");

  if (typeof data === "number") numberKeywords(s, data, add);
  if (typeof data === "string") stringKeywords(s, data, add);
  if (Array.isArray(data)) arrayKeywords(s, data, path, at, root, out, depth, add);
  if (isObject(data)) objectKeywords(s, data, path, at, root, out, depth, add);

  if (Array.isArray(s.allOf)) s.allOf.forEach((sub, i) => walk(sub, data, path, `${at}/allOf/${i}`, root, out, depth + 1));
  if (Array.isArray(s.anyOf) && !s.anyOf.some((sub) => check(sub, data, root).length === 0))
    add("anyOf", {}, "must match a schema in anyOf");
  if (Array.isArray(s.oneOf)) {
    const passing = s.oneOf.filter((sub) => check(sub, data, root).length === 0).length;
    if (passing !== 1) add("oneOf", { passingSchemas: null }, "must match exactly one schema in oneOf");
  }
  if (s.not !== undefined && check(s.not, data, root).length === 0) add("not", {}, "must NOT be valid");
  if (s.if !== undefined) {
    const branch = check(s.if, data, root).length === 0 ? "then" : "else";
    if (s[branch] !== undefined) walk(s[branch], data, path, `${at}/${branch}`, root, out, depth + 1);
  }
}

type Add = (keyword: string, params: Record<string, unknown>, message: string) => void;

function numberKeywords(s: Schema, n: number, add: Add): void {
  const limit = (key: string) => (typeof s[key] === "number" ? (s[key] as number) : undefined);
  const min = limit("minimum");
  const max = limit("maximum");
  // draft 4 wrote exclusiveMinimum: true beside minimum
  const exMin = s.exclusiveMinimum === true ? min : limit("exclusiveMinimum");
  const exMax = s.exclusiveMaximum === true ? max : limit("exclusiveMaximum");
  if (min !== undefined && s.exclusiveMinimum !== true && n < min) add("minimum", { comparison: ">=", limit: min }, `must be >= ${min}`);
  if (max !== undefined && s.exclusiveMaximum !== true && n > max) add("maximum", { comparison: "<=", limit: max }, `must be <= ${max}`);
  if (exMin !== undefined && n <= exMin) add("exclusiveMinimum", { comparison: ">", limit: exMin }, `must be > ${exMin}`);
  if (exMax !== undefined && n >= exMax) add("exclusiveMaximum", { comparison: "<", limit: exMax }, `must be < ${exMax}`);
  const step = limit("multipleOf");
  if (step !== undefined && step > 0) {
    const ratio = n / step;
    if (Math.abs(ratio - Math.round(ratio)) > 1e-9) add("multipleOf", { multipleOf: step }, `must be multiple of ${step}`);
  }
}

function stringKeywords(s: Schema, text: string, add: Add): void {
  const length = [...text].length; // code points, as JSON Schema counts
  if (typeof s.minLength === "number" && length < s.minLength)
    add("minLength", { limit: s.minLength }, `must NOT have fewer than ${s.minLength} characters`);
  if (typeof s.maxLength === "number" && length > s.maxLength)
    add("maxLength", { limit: s.maxLength }, `must NOT have more than ${s.maxLength} characters`);
  if (typeof s.pattern === "string" && !patternMatches(s.pattern, text))
    add("pattern", { pattern: s.pattern }, `must match pattern "${s.pattern}"`);
  const format = typeof s.format === "string" ? FORMATS[s.format] : undefined;
  if (format && !format(text)) add("format", { format: s.format }, `must match format "${String(s.format)}"`);
}

function arrayKeywords(s: Schema, items: Json[], path: string, at: string, root: Json, out: ErrorObject[], depth: number, add: Add): void {
  if (typeof s.minItems === "number" && items.length < s.minItems)
    add("minItems", { limit: s.minItems }, `must NOT have fewer than ${s.minItems} items`);
  if (typeof s.maxItems === "number" && items.length > s.maxItems)
    add("maxItems", { limit: s.maxItems }, `must NOT have more than ${s.maxItems} items`);
  if (s.uniqueItems === true) {
    for (let i = 1; i < items.length; i++) {
      const j = items.slice(0, i).findIndex((x) => deepEqual(x, items[i]));
      if (j >= 0) {
        add("uniqueItems", { i, j }, `must NOT have duplicate items (items ## ${j} and ${i} are identical)`);
        break;
      }
    }
  }
  const tuple = Array.isArray(s.prefixItems) ? s.prefixItems : Array.isArray(s.items) ? s.items : null;
  items.forEach((item, i) => {
    const sub = tuple ? (i < tuple.length ? tuple[i] : (s.additionalItems ?? (Array.isArray(s.prefixItems) ? s.items : undefined))) : s.items;
    const where = tuple && i < tuple.length ? `${at}/${Array.isArray(s.prefixItems) ? "prefixItems" : "items"}/${i}` : `${at}/items`;
    walk(sub, item, `${path}/${i}`, where, root, out, depth + 1);
  });
}

function objectKeywords(
  s: Schema,
  obj: Record<string, unknown>,
  path: string,
  at: string,
  root: Json,
  out: ErrorObject[],
  depth: number,
  add: Add,
): void {
  const props = isObject(s.properties) ? s.properties : {};
  if (Array.isArray(s.required))
    for (const name of s.required as string[])
      if (obj[name] === undefined) add("required", { missingProperty: name }, `must have required property '${name}'`);
  const count = Object.keys(obj).length;
  if (typeof s.minProperties === "number" && count < s.minProperties)
    add("minProperties", { limit: s.minProperties }, `must NOT have fewer than ${s.minProperties} properties`);
  if (typeof s.maxProperties === "number" && count > s.maxProperties)
    add("maxProperties", { limit: s.maxProperties }, `must NOT have more than ${s.maxProperties} properties`);
  const patterns = isObject(s.patternProperties) ? s.patternProperties : {};
  for (const [name, value] of Object.entries(obj)) {
    if (value === undefined) continue;
    const here = `${path}/${escapePointer(name)}`;
    let known = false;
    if (name in props) {
      known = true;
      walk(props[name], value, here, `${at}/properties/${escapePointer(name)}`, root, out, depth + 1);
    }
    for (const [pattern, sub] of Object.entries(patterns))
      if (patternMatches(pattern, name)) {
        known = true;
        walk(sub, value, here, `${at}/patternProperties/${escapePointer(pattern)}`, root, out, depth + 1);
      }
    if (!known && s.additionalProperties !== undefined) {
      if (s.additionalProperties === false)
        add("additionalProperties", { additionalProperty: name }, "must NOT have additional properties");
      else walk(s.additionalProperties, value, here, `${at}/additionalProperties`, root, out, depth + 1);
    }
  }
  const dependent = isObject(s.dependentRequired) ? s.dependentRequired : isObject(s.dependencies) ? s.dependencies : {};
  for (const [name, needs] of Object.entries(dependent)) {
    if (obj[name] === undefined) continue;
    if (Array.isArray(needs)) {
      const missing = (needs as string[]).filter((n) => obj[n] === undefined);
      if (missing.length)
        add("dependencies", { property: name, missingProperty: missing[0], deps: missing.join(", "), depsCount: missing.length },
          `must have properties ${missing.join(", ")} when property ${name} is present`);
    } else walk(needs, obj, path, `${at}/dependencies/${escapePointer(name)}`, root, out, depth + 1);
  }
}

function err(keyword: string, instancePath: string, schemaPath: string, params: Record<string, unknown>, message: string, parentSchema?: Schema): ErrorObject {
  return { keyword, instancePath, schemaPath, params, message, parentSchema };
}

/** rjsf's `ValidatorType` over `check`, with validator-ajv8's error processing. */
export class FormValidator implements ValidatorType<unknown, RJSFSchema> {
  validateFormData(
    formData: unknown,
    schema: RJSFSchema,
    customValidate?: CustomValidator<unknown, RJSFSchema>,
    transformErrors?: ErrorTransformer<unknown, RJSFSchema>,
    uiSchema?: UiSchema<unknown, RJSFSchema>,
  ): ValidationData<unknown> {
    return processRawValidationErrors(this, this.rawValidation(schema, formData), formData, schema, customValidate, transformErrors, uiSchema);
  }

  isValid(schema: RJSFSchema, formData: unknown, rootSchema: RJSFSchema): boolean {
    return check(schema, formData, rootSchema).length === 0;
  }

  rawValidation<Result = ErrorObject>(schema: RJSFSchema, formData?: unknown): { errors?: Result[]; validationError?: Error } {
    const errors = check(schema, formData);
    return { errors: errors.length ? (errors as Result[]) : undefined };
  }
}

export const formValidator = new FormValidator();
