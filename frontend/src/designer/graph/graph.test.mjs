// Unit tests of the designer's pure graph code (no React, no browser): `node --test`, on the
// modules compiled to CommonJS in $GRAPH_JS (tests/ui/test_designer.py compiles and runs them).
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import path from "node:path";
import { test } from "node:test";

const require = createRequire(import.meta.url);
const dir = process.env.GRAPH_JS;
if (!dir) throw new Error("set GRAPH_JS to the compiled designer modules");
const load = (name) => require(path.join(dir, "graph", `${name}.js`));
const { parseCondition, toExpression, literal } = load("condition");
const { readForm, writeForm, keyFromTitle } = load("forms");
const { lint, nameAdvice, segmentsCross } = load("lint");
const { paste, copySelection, removeElements, canConnect, connect, moveEdge, uniqueId, normalize, serialize, updateNode, freeSpot } = load("edit");
const { describeDuration, splitDuration, joinDuration } = load("duration");
const { dataFields } = load("fields");

const def = (nodes, edges = [], layout = {}) => ({ format: 1, key: "t", nodes, edges, layout });
const task = (id, name = "Review order") => ({ id, type: "user_task", name, assignee: { user: "admin" } });

test("conditions the builder writes read back as the same rows", () => {
  for (const source of ["total >= 1000", "payment.method in ['invoice', 'bank_transfer']", "manual_capture.captured", "stock_check.route == 'in_stock'", "not approved", "x is not None"]) {
    const group = parseCondition(source);
    assert.ok(group, source);
    assert.equal(parseCondition(toExpression(group)) !== null, true, source);
  }
  const group = parseCondition("payment.method in ['invoice', 'bank_transfer']");
  assert.deepEqual(group.items[0], { kind: "rule", field: "payment.method", op: "in", value: "invoice, bank_transfer" });
  assert.equal(toExpression(group), 'payment.method in ["invoice", "bank_transfer"]');
});

test("AND binds tighter than OR, and groups nest in parentheses", () => {
  const group = parseCondition("a > 1 and b == 'x' or c");
  assert.equal(group.join, "or");
  assert.equal(group.items[0].kind, "group");
  assert.equal(toExpression(group), '(a > 1 and b == "x") or c');
  const nested = { kind: "group", join: "and", items: [{ kind: "rule", field: "total", op: ">", value: "10" }, { kind: "group", join: "or", items: [{ kind: "rule", field: "tier", op: "==", value: "gold" }, { kind: "rule", field: "vip", op: "is true", value: "" }] }] };
  assert.equal(toExpression(nested), 'total > 10 and (tier == "gold" or vip)');
});

test("values become literals: numbers and True stay, text is quoted safely", () => {
  assert.equal(literal("42"), "42");
  assert.equal(literal("-1.5"), "-1.5");
  assert.equal(literal("true"), "True");
  assert.equal(literal("'kept'"), "'kept'");
  assert.equal(literal('say "hi" \\ now'), '"say \\"hi\\" \\\\ now"');
  assert.equal(toExpression({ kind: "group", join: "and", items: [{ kind: "rule", field: "", op: "==", value: "x" }] }), "");
  assert.equal(toExpression({ kind: "group", join: "and", items: [{ kind: "rule", field: "__class__", op: "==", value: "x" }] }), "");
});

test("expressions beyond the builder's shapes are left to the text box", () => {
  for (const source of ["len(items) > 2", "a + 1 > b", "x if y else z", "total > limit", "a.b()"]) {
    assert.equal(parseCondition(source), null, source);
  }
});

test("a form round-trips through the builder, keeping settings it does not edit", () => {
  const form = {
    type: "object",
    required: ["items_checked", "weight_kg"],
    properties: {
      items_checked: { type: "boolean", const: true, title: "All items checked" },
      weight_kg: { type: "number", exclusiveMinimum: 0, maximum: 70 },
      parcels: { type: "integer", minimum: 1, default: 1 },
      size: { type: "string", enum: ["S", "M"] },
      nested: { type: "object", properties: {} },
    },
  };
  const fields = readForm(form, { "ui:order": ["weight_kg"] });
  assert.deepEqual(fields.map((f) => [f.key, f.type]), [["weight_kg", "number"], ["items_checked", "checkbox"], ["parcels", "integer"], ["size", "select"], ["nested", "custom"]]);
  const { form: out, ui } = writeForm(fields, form);
  assert.deepEqual(out.properties.weight_kg, form.properties.weight_kg);
  assert.deepEqual(out.properties.items_checked, form.properties.items_checked);
  assert.deepEqual(out.properties.nested, form.properties.nested);
  assert.deepEqual(out.required, ["weight_kg", "items_checked"]);
  assert.deepEqual(ui["ui:order"], ["weight_kg", "items_checked", "parcels", "size", "nested"]);
});

test("the builder writes the JSON Schema of each field type", () => {
  const field = (key, type, more = {}) => ({ key, title: key, type, required: false, help: "", options: [], extra: {}, ...more });
  const { form, ui } = writeForm([field("notes", "longtext"), field("due", "date"), field("scan", "file"), field("level", "select", { options: ["low", "high"], required: true })]);
  assert.deepEqual(form.properties.notes, { type: "string", title: "notes" });
  assert.deepEqual(ui.notes, { "ui:widget": "textarea" });
  assert.equal(form.properties.due.format, "date");
  assert.equal(form.properties.scan.format, "data-url");
  assert.deepEqual(form.properties.level.enum, ["low", "high"]);
  assert.deepEqual(form.required, ["level"]);
  assert.deepEqual(readForm(form, ui).map((f) => f.type), ["longtext", "date", "file", "select"]);
  assert.deepEqual(writeForm([]), { form: null, ui: null });
  // number bounds do not survive a change to text
  const { form: changed } = writeForm([field("w", "text", { extra: { minimum: 1, maxLength: 9 } })]);
  assert.deepEqual(changed.properties.w, { type: "string", title: "w", maxLength: 9 });
});

test("data keys come from labels, unique and never reserved", () => {
  assert.equal(keyFromTitle("Weight (kg)", new Set()), "weight_kg");
  assert.equal(keyFromTitle("Weight (kg)", new Set(["weight_kg"])), "weight_kg_2");
  assert.equal(keyFromTitle("Now", new Set()), "now_value");
  assert.equal(keyFromTitle("1st choice", new Set()), "f_1st_choice");
  assert.equal(keyFromTitle("!!!", new Set()), "field");
});

test("step names: short and verb first; gateways, start and end are exempt", () => {
  assert.equal(nameAdvice({ type: "user_task", name: "Pick items" }), null);
  assert.equal(nameAdvice({ type: "notify", name: "Finalize the invoice" }), null);
  assert.equal(nameAdvice({ type: "exclusive", name: "Large order over one thousand euros?" }), null);
  assert.equal(nameAdvice({ type: "start", name: "Order" }), null);
  assert.match(nameAdvice({ type: "user_task", name: "Check the order and then ship it" }), /7 words/);
  assert.match(nameAdvice({ type: "user_task", name: "Shipping label" }), /'Ship label'/);
  assert.match(nameAdvice({ type: "user_task", name: "Payment processing" }), /'Process payment'/);
  assert.match(nameAdvice({ type: "user_task", name: "Customer" }), /verb/);
  assert.match(nameAdvice({ type: "user_task", name: "" }), /name/);
});

test("crossing connections are found on the straight lines between centres", () => {
  assert.equal(segmentsCross({ x: 0, y: 0 }, { x: 10, y: 10 }, { x: 0, y: 10 }, { x: 10, y: 0 }), true);
  assert.equal(segmentsCross({ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 0, y: 5 }, { x: 10, y: 5 }), false);
  assert.equal(segmentsCross({ x: 0, y: 0 }, { x: 10, y: 0 }, { x: 10, y: 0 }, { x: 20, y: 5 }), false);
  const g = def(
    [task("a"), task("b"), task("c"), task("d")],
    [{ id: "e1", from: "a", to: "b" }, { id: "e2", from: "c", to: "d" }],
    { a: { x: 0, y: 0 }, b: { x: 200, y: 200 }, c: { x: 0, y: 200 }, d: { x: 200, y: 0 } },
  );
  const crossings = lint(g).filter((i) => i.code === "crossing_edges");
  assert.equal(crossings.length, 1);
  assert.equal(crossings[0].severity, "warning");
  g.layout.d = { x: 200, y: 400 };
  assert.equal(lint(g).filter((i) => i.code === "crossing_edges").length, 0);
});

test("a neighbour a few pixels off its line is flagged; equal or far is fine", () => {
  const at = (y) => def([task("a"), task("b")], [{ id: "e1", from: "a", to: "b" }], { a: { x: 0, y: 100 }, b: { x: 240, y } });
  assert.equal(lint(at(104)).filter((i) => i.code === "off_grid").length, 1);
  assert.equal(lint(at(100)).filter((i) => i.code === "off_grid").length, 0);
  assert.equal(lint(at(160)).filter((i) => i.code === "off_grid").length, 0);
});

test("paste gives fresh ids, keeps the connections inside the copy and shifts the layout", () => {
  const g = def([task("a"), task("b"), task("c")], [{ id: "e1", from: "a", to: "b" }, { id: "e2", from: "b", to: "c" }], { a: { x: 0, y: 0 }, b: { x: 200, y: 0 }, c: { x: 400, y: 0 } });
  const clip = copySelection(g, ["a", "b"]);
  assert.deepEqual(clip.edges.map((e) => e.id), ["e1"]);
  const { def: out, nodeIds } = paste(g, clip, { x: 40, y: 40 });
  assert.deepEqual(nodeIds, ["a_1", "b_1"]);
  assert.deepEqual(out.edges.at(-1), { id: "e3", from: "a_1", to: "b_1" });
  assert.deepEqual(out.layout.b_1, { x: 240, y: 40 });
  assert.equal(g.nodes.length, 3); // the original is untouched
});

test("removing steps removes their connections and positions", () => {
  const g = def([task("a"), task("b"), task("c")], [{ id: "e1", from: "a", to: "b" }, { id: "e2", from: "b", to: "c" }, { id: "e3", from: "a", to: "c" }], { a: { x: 0, y: 0 }, b: { x: 1, y: 1 } });
  const out = removeElements(g, ["b"], ["e3"]);
  assert.deepEqual(out.nodes.map((n) => n.id), ["a", "c"]);
  assert.deepEqual(out.edges, []);
  assert.equal("b" in out.layout, false);
  assert.equal(removeElements(g, [], []), g);
});

test("connections: not into a start, not out of an end, not to itself, not twice", () => {
  const g = def([{ id: "s", type: "start" }, task("t"), { id: "e", type: "end" }], [{ id: "e1", from: "s", to: "t" }]);
  assert.match(canConnect(g, "t", "s"), /start/);
  assert.match(canConnect(g, "e", "t"), /end/);
  assert.match(canConnect(g, "t", "t"), /itself/);
  assert.match(canConnect(g, "s", "t"), /already/);
  assert.equal(canConnect(g, "t", "e"), null);
  assert.deepEqual(connect(g, "t", "e").def.edges.at(-1), { id: "e2", from: "t", to: "e" });
});

test("edge order among a step's ways out can be changed", () => {
  const g = def([task("a"), task("b"), task("c")], [{ id: "x", from: "a", to: "b" }, { id: "y", from: "b", to: "c" }, { id: "z", from: "a", to: "c" }]);
  assert.deepEqual(moveEdge(g, "z", -1).edges.map((e) => e.id), ["z", "y", "x"]);
  assert.equal(moveEdge(g, "x", -1), g);
});

test("ids, normalising what the server holds, and saving without undefined", () => {
  assert.equal(uniqueId("task", new Set(["task", "task_1"])), "task_2");
  assert.equal(uniqueId("start", new Set()), "start");
  const n = normalize({ nodes: [task("a"), { nope: 1 }, "x"], edges: [{ id: "e", from: "a" }], layout: { a: { x: 1, y: "2" } }, extra: 1 }, "k");
  assert.deepEqual([n.key, n.nodes.length, n.edges.length, n.layout, n.extra], ["k", 1, 0, {}, 1]);
  assert.deepEqual(normalize(null, "k").nodes, []);
  const edited = updateNode(def([task("a")], [], { a: { x: 1.4, y: 2.6 }, gone: { x: 0, y: 0 } }), "a", { stage: undefined, name: "Pack" });
  const saved = serialize(edited);
  assert.deepEqual(saved.layout, { a: { x: 1, y: 3 } });
  assert.equal("stage" in saved.nodes[0], false);
});

test("durations read as words and split into amount and unit", () => {
  assert.equal(describeDuration("PT4H"), "4 hours");
  assert.equal(describeDuration("P1DT2H30M"), "1 day 2 hours 30 minutes");
  assert.match(describeDuration("4 hours"), /not a duration/);
  assert.deepEqual(splitDuration("P2D"), { amount: 2, unit: "D" });
  assert.deepEqual(splitDuration("PT30M"), { amount: 30, unit: "M" });
  assert.equal(splitDuration("P1DT2H"), null);
  assert.equal(joinDuration(3, "H"), "PT3H");
  assert.equal(joinDuration(1, "W"), "P1W");
});

test("data fields come from the data schema, forms and step results", () => {
  const g = def([
    { id: "s", type: "start", form: { type: "object", properties: { total: { type: "number" } } } },
    { ...task("t"), form: { type: "object", properties: { ok: { type: "boolean" } } }, result: "check" },
    { id: "r", type: "approval", approvers: [{ user: "a" }] },
    { id: "d", type: "decision", inputs: ["total"], rules: [{ when: ["-"], then: { level: 1 } }], output: "route" },
  ]);
  g.data = { type: "object", properties: { customer: { type: "object", properties: { email: { type: "string" } } } } };
  assert.deepEqual(dataFields(g), ["check", "check.ok", "customer", "customer.email", "r.outcome", "route", "route.level", "total"]);
});

test("a step added from the palette lands clear of the steps already there", () => {
  const layout = { a: { x: 0, y: 0 }, b: { x: 200, y: 0 }, c: { x: 0, y: 100 } };
  const d = def([task("a"), task("b"), task("c")], [], layout);
  const spot = freeSpot(d, { x: 40, y: 20 });
  const overlaps = Object.values(layout).some((p) => spot.x < p.x + 180 && p.x < spot.x + 180 && spot.y < p.y + 64 && p.y < spot.y + 64);
  assert.equal(overlaps, false, JSON.stringify(spot));
  assert.ok(Math.hypot(spot.x - 40, spot.y - 20) < 500, "near where it was asked for");
  assert.deepEqual(freeSpot(def([task("a")], [], { a: { x: 0, y: 0 } }), { x: 600, y: 400 }), { x: 600, y: 400 });
});
