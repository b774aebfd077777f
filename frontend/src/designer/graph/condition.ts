// The condition builder's model (rows of field / operator / value in AND/OR groups) and its
// translation to and from the expression language of engine/expressions.py. Only the shapes the
// builder writes are read back; anything else stays a raw expression.

export type Operator =
  | "=="
  | "!="
  | ">"
  | ">="
  | "<"
  | "<="
  | "in"
  | "not in"
  | "contains"
  | "startswith"
  | "is true"
  | "is false"
  | "is set"
  | "is not set";

export const OPERATORS: { op: Operator; label: string; needsValue: boolean }[] = [
  { op: "==", label: "is", needsValue: true },
  { op: "!=", label: "is not", needsValue: true },
  { op: ">", label: ">", needsValue: true },
  { op: ">=", label: "≥", needsValue: true },
  { op: "<", label: "<", needsValue: true },
  { op: "<=", label: "≤", needsValue: true },
  { op: "in", label: "is one of", needsValue: true },
  { op: "not in", label: "is none of", needsValue: true },
  { op: "contains", label: "contains", needsValue: true },
  { op: "startswith", label: "starts with", needsValue: true },
  { op: "is true", label: "is true", needsValue: false },
  { op: "is false", label: "is false", needsValue: false },
  { op: "is set", label: "is set", needsValue: false },
  { op: "is not set", label: "is empty (None)", needsValue: false },
];

export interface Rule {
  kind: "rule";
  field: string;
  op: Operator;
  /** As typed: numbers, True/False/None and 'quoted' text stay as they are; other text is quoted. Lists: comma-separated. */
  value: string;
}

export interface Group {
  kind: "group";
  join: "and" | "or";
  items: (Rule | Group)[];
}

export const emptyGroup = (): Group => ({ kind: "group", join: "and", items: [{ kind: "rule", field: "", op: "==", value: "" }] });

const NAME = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$/;

/** A value as the user typed it, as an expression literal. */
export function literal(text: string): string {
  const t = text.trim();
  if (/^-?\d+(\.\d+)?$/.test(t)) return t;
  if (t === "True" || t === "False" || t === "None") return t;
  if (/^(true|false)$/.test(t)) return t === "true" ? "True" : "False";
  if (/^'([^'\\]|\\.)*'$/.test(t) || /^"([^"\\]|\\.)*"$/.test(t)) return t;
  return JSON.stringify(text);
}

function listLiteral(text: string): string {
  const parts = splitList(text).map(literal);
  return `[${parts.join(", ")}]`;
}

function splitList(text: string): string[] {
  const out: string[] = [];
  let current = "";
  let quote: string | null = null;
  for (const ch of text) {
    if (quote) {
      current += ch;
      if (ch === quote) quote = null;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      current += ch;
    } else if (ch === ",") {
      out.push(current.trim());
      current = "";
    } else current += ch;
  }
  if (current.trim()) out.push(current.trim());
  return out.filter((p) => p !== "");
}

function ruleText(rule: Rule): string | null {
  const field = rule.field.trim();
  if (!NAME.test(field)) return null;
  switch (rule.op) {
    case "is true":
      return field;
    case "is false":
      return `not ${field}`;
    case "is set":
      return `${field} is not None`;
    case "is not set":
      return `${field} is None`;
    case "in":
    case "not in":
      return `${field} ${rule.op} ${listLiteral(rule.value)}`;
    case "contains":
    case "startswith":
      return `${rule.op}(${field}, ${literal(rule.value)})`;
    default:
      return `${field} ${rule.op} ${literal(rule.value)}`;
  }
}

/** The expression for a group; rows without a field are left out. */
export function toExpression(group: Group, nested = false): string {
  const parts = group.items
    .map((item) => (item.kind === "rule" ? ruleText(item) : toExpression(item, true)))
    .filter((p): p is string => !!p);
  const text = parts.join(` ${group.join} `);
  return nested && parts.length > 1 ? `(${text})` : text;
}

// --- reading an expression back ------------------------------------------------------------

type Token = { t: "name" | "num" | "str" | "op" | "kw" | "punct"; v: string };

function tokenize(source: string): Token[] | null {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const rest = source.slice(i);
    const space = /^\s+/.exec(rest);
    if (space) {
      i += space[0].length;
      continue;
    }
    const str = /^'([^'\\]|\\.)*'|^"([^"\\]|\\.)*"/.exec(rest);
    if (str) {
      tokens.push({ t: "str", v: str[0] });
      i += str[0].length;
      continue;
    }
    const num = /^-?\d+(\.\d+)?/.exec(rest);
    if (num && (tokens.length === 0 || tokens[tokens.length - 1]!.t === "op" || tokens[tokens.length - 1]!.v === "[" || tokens[tokens.length - 1]!.v === "," || tokens[tokens.length - 1]!.v === "(")) {
      tokens.push({ t: "num", v: num[0] });
      i += num[0].length;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/.exec(rest);
    if (name) {
      const v = name[0];
      tokens.push({ t: ["and", "or", "not", "in", "is", "None", "True", "False"].includes(v) ? "kw" : "name", v });
      i += v.length;
      continue;
    }
    const op = /^(==|!=|>=|<=|>|<)/.exec(rest);
    if (op) {
      tokens.push({ t: "op", v: op[0] });
      i += op[0].length;
      continue;
    }
    if ("()[],".includes(rest[0]!)) {
      tokens.push({ t: "punct", v: rest[0]! });
      i += 1;
      continue;
    }
    return null;
  }
  return tokens;
}

/** The builder's model of `expression`, or null when it is not made of the builder's shapes. */
export function parseCondition(expression: string): Group | null {
  const found = tokenize(expression);
  if (!found) return null;
  const tokens: Token[] = found;
  if (tokens.length === 0) return emptyGroup();
  let pos = 0;
  const peek = () => tokens[pos];
  const take = () => tokens[pos++];
  const is = (v: string) => peek()?.v === v;

  function value(): string | null {
    const tok = take();
    if (!tok) return null;
    if (tok.t === "num") return tok.v;
    if (tok.t === "str") {
      // show plain text unquoted when quoting it again gives the same literal's meaning
      const inner = tok.v.slice(1, -1);
      return /^[^'"\\,]*$/.test(inner) && !/^(-?\d+(\.\d+)?|True|False|None|true|false)$/.test(inner) ? inner : tok.v;
    }
    if (tok.t === "kw" && ["True", "False", "None"].includes(tok.v)) return tok.v;
    return null;
  }

  function list(): string | null {
    if (take()?.v !== "[") return null;
    const items: string[] = [];
    while (!is("]")) {
      const v = value();
      if (v === null) return null;
      items.push(v);
      if (is(",")) take();
      else if (!is("]")) return null;
    }
    take();
    return items.join(", ");
  }

  function rule(): Rule | Group | null {
    const tok = peek();
    if (!tok) return null;
    if (tok.v === "(") {
      take();
      const inner = orGroup();
      if (!inner || take()?.v !== ")") return null;
      return inner;
    }
    if (tok.v === "not") {
      take();
      const name = take();
      if (name?.t !== "name") return null;
      return { kind: "rule", field: name.v, op: "is false", value: "" };
    }
    if (tok.t === "name" && (tok.v === "contains" || tok.v === "startswith") && tokens[pos + 1]?.v === "(") {
      take();
      take();
      const name = take();
      if (name?.t !== "name" || take()?.v !== ",") return null;
      const v = value();
      if (v === null || take()?.v !== ")") return null;
      return { kind: "rule", field: name.v, op: tok.v, value: v };
    }
    if (tok.t !== "name") return null;
    take();
    const next = peek();
    if (!next || next.v === "and" || next.v === "or" || next.v === ")") return { kind: "rule", field: tok.v, op: "is true", value: "" };
    if (next.v === "is") {
      take();
      if (is("not")) {
        take();
        return take()?.v === "None" ? { kind: "rule", field: tok.v, op: "is set", value: "" } : null;
      }
      return take()?.v === "None" ? { kind: "rule", field: tok.v, op: "is not set", value: "" } : null;
    }
    if (next.v === "in" || (next.v === "not" && tokens[pos + 1]?.v === "in")) {
      const op: Operator = next.v === "in" ? "in" : "not in";
      take();
      if (op === "not in") take();
      const v = list();
      return v === null ? null : { kind: "rule", field: tok.v, op, value: v };
    }
    if (next.t === "op") {
      take();
      const v = value();
      return v === null ? null : { kind: "rule", field: tok.v, op: next.v as Operator, value: v };
    }
    return null;
  }

  function andGroup(): Group | Rule | null {
    const items: (Rule | Group)[] = [];
    const first = rule();
    if (!first) return null;
    items.push(first);
    while (is("and")) {
      take();
      const r = rule();
      if (!r) return null;
      items.push(r);
    }
    return items.length === 1 ? items[0]! : { kind: "group", join: "and", items };
  }

  function orGroup(): Group | null {
    const items: (Rule | Group)[] = [];
    const first = andGroup();
    if (!first) return null;
    items.push(first);
    while (is("or")) {
      take();
      const r = andGroup();
      if (!r) return null;
      items.push(r);
    }
    if (items.length === 1) {
      const only = items[0]!;
      return only.kind === "group" ? only : { kind: "group", join: "and", items: [only] };
    }
    return { kind: "group", join: "or", items };
  }

  const group = orGroup();
  return group && pos === tokens.length ? group : null;
}
