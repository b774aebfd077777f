// The instance data fields a workflow knows of — from its data schema, its forms and the results its
// steps store — offered in condition rows and inserted into notification templates.
import type { Definition, JsonSchema } from "../types";

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function walk(schema: unknown, prefix: string, out: Set<string>, depth = 0): void {
  if (!isObject(schema) || depth > 4) return;
  const props = schema.properties;
  if (!isObject(props)) return;
  for (const [key, sub] of Object.entries(props)) {
    const name = prefix ? `${prefix}.${key}` : key;
    out.add(name);
    walk(sub, name, out, depth + 1);
  }
}

export function dataFields(def: Definition): string[] {
  const out = new Set<string>();
  walk(def.data, "", out);
  for (const node of def.nodes) {
    switch (node.type) {
      case "start":
        walk(node.form, "", out);
        break;
      case "user_task":
        walk(node.form as JsonSchema | null | undefined, node.result ?? "", out);
        if (node.result) out.add(node.result);
        break;
      case "approval": {
        const key = node.result || node.id;
        out.add(`${key}.outcome`);
        break;
      }
      case "http":
      case "receive":
      case "table":
        if (node.result) out.add(node.result);
        break;
      case "decision":
        out.add(node.output);
        for (const rule of node.rules ?? []) for (const k of Object.keys(rule.then ?? {})) out.add(`${node.output}.${k}`);
        break;
      case "set":
        for (const k of Object.keys(node.assign ?? {})) out.add(k);
        break;
      case "subworkflow":
        for (const k of Object.keys(node.output ?? {})) out.add(k);
        break;
      default:
        break;
    }
  }
  out.delete("");
  return [...out].sort();
}
