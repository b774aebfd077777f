// Form errors in words a person filling in the form reads: "Total: must be at least 0"
// instead of Ajv's ".total must be >= 0", and "Order number: is required" instead of
// "must have required property 'order_id'". The field is named by its title, else by its
// name made readable ("order_id" → "Order id", ".items.0.quantity" → "Items #1 quantity").

import type { RJSFValidationError } from "@rjsf/utils";

function readable(property: string | undefined): string {
  const parts = (property ?? "").split(".").filter(Boolean);
  const words = parts.map((part) => (/^\d+$/.test(part) ? `#${Number(part) + 1}` : part.replace(/_/g, " ")));
  const text = words.join(" ").trim();
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : "";
}

function plural(n: unknown, one: string, many: string): string {
  return `${String(n)} ${n === 1 ? one : many}`;
}

/** What the error says, or undefined to keep Ajv's words. */
function say(error: RJSFValidationError): string | undefined {
  const p = (error.params ?? {}) as Record<string, unknown>;
  switch (error.name) {
    case "required":
      return "is required";
    case "const":
      return p.allowedValue === true ? "must be ticked" : `must be ${JSON.stringify(p.allowedValue)}`;
    case "enum":
      return "must be one of the choices";
    case "minimum":
      return `must be at least ${String(p.limit)}`;
    case "maximum":
      return `must be at most ${String(p.limit)}`;
    case "exclusiveMinimum":
      return `must be more than ${String(p.limit)}`;
    case "exclusiveMaximum":
      return `must be less than ${String(p.limit)}`;
    case "minLength":
      return p.limit === 1 ? "must not be empty" : `must have at least ${plural(p.limit, "character", "characters")}`;
    case "maxLength":
      return `must have at most ${plural(p.limit, "character", "characters")}`;
    case "minItems":
      return `needs at least ${plural(p.limit, "entry", "entries")}`;
    case "maxItems":
      return `takes at most ${plural(p.limit, "entry", "entries")}`;
    case "type": {
      const type = String(p.type ?? "");
      const words: Record<string, string> = {
        number: "must be a number",
        integer: "must be a whole number",
        string: "must be text",
        boolean: "must be yes or no",
        array: "must be a list",
        object: "must be filled in",
      };
      return words[type.split(",")[0] ?? ""];
    }
    case "format": {
      const formats: Record<string, string> = {
        email: "must be an email address",
        date: "must be a date",
        "date-time": "must be a date and time",
        time: "must be a time",
        uri: "must be a web address",
      };
      return formats[String(p.format)];
    }
    default:
      return undefined;
  }
}

export function friendlyErrors(errors: RJSFValidationError[]): RJSFValidationError[] {
  return errors.map((error) => {
    const message = say(error);
    if (message === undefined) return error;
    const label = error.title || readable(error.property);
    return { ...error, message, stack: label ? `${label}: ${message}` : message };
  });
}
