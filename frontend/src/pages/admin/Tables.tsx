// Data tables (inventory, price lists): rows edited inline, CSV import checked before it is applied, export.
import { useState, type FormEvent, type KeyboardEvent } from "react";

import { api, ApiError, withQuery, type Page } from "../../api";
import { Empty, ErrorNote, formatTime, PageHeader, Spinner } from "../../components/ui";
import { useLoad } from "../../components/useLoad";
import { Section, useAction } from "./common";

interface Column {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | string;
}

export interface DataTable {
  name: string;
  description: string;
  columns: Column[];
  key_columns: string[];
  row_count: number;
  created_at: string;
}

interface DataRow {
  id: string;
  values: Record<string, unknown>;
  version: number;
  updated_at: string;
}

interface LineError {
  line: number | null;
  column: string | null;
  message: string;
}

interface ImportChange {
  line: number | null;
  key: Record<string, unknown>;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

interface ImportOut {
  table: string;
  mode: string;
  dry_run: boolean;
  applied: boolean;
  inserts: number;
  updates: number;
  deletes: number;
  unchanged: number;
  insert: ImportChange[];
  update: ImportChange[];
  delete: ImportChange[];
  errors: LineError[];
  truncated: boolean;
}

const ROWS_PER_PAGE = 50;
type Draft = Record<string, string | boolean>;

function show(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "boolean") return value ? "yes" : "no";
  return String(value);
}

function toDraft(table: DataTable, values: Record<string, unknown>): Draft {
  return Object.fromEntries(table.columns.map((c) => [c.name, c.type === "boolean" ? values[c.name] === true : show(values[c.name])]));
}

/** Input text as the column's JSON type; text that does not parse goes as it is, for the service to refuse by name. */
function fromDraft(table: DataTable, draft: Draft): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const column of table.columns) {
    const raw = draft[column.name];
    if (typeof raw === "boolean") {
      out[column.name] = raw;
      continue;
    }
    const text = (raw ?? "").trim();
    if (text === "") out[column.name] = null;
    else if (column.type === "integer" && /^[+-]?\d+$/.test(text)) out[column.name] = Number(text);
    else if (column.type === "number" && text !== "" && Number.isFinite(Number(text))) out[column.name] = Number(text);
    else out[column.name] = column.type === "string" ? (raw as string) : text;
  }
  return out;
}

function rowError(error: unknown): string {
  if (error instanceof ApiError && Array.isArray(error.details)) {
    const parts = (error.details as { column?: string; message?: string }[]).map((d) => (d.column ? `${d.column}: ${d.message}` : d.message));
    return `${error.message}: ${parts.join("; ")}`;
  }
  return error instanceof Error ? error.message : String(error);
}

function Cell({ column, value, onChange, label }: { column: Column; value: string | boolean; onChange: (v: string | boolean) => void; label: string }) {
  if (column.type === "boolean") return <input type="checkbox" aria-label={label} checked={value === true} onChange={(e) => onChange(e.target.checked)} />;
  return <input aria-label={label} value={String(value)} inputMode={column.type === "string" ? undefined : "decimal"} onChange={(e) => onChange(e.target.value)} />;
}

function Rows({ table, refresh, onChanged }: { table: DataTable; refresh: number; onChanged: () => void }) {
  const [q, setQ] = useState("");
  const [offset, setOffset] = useState(0);
  const rows = useLoad(() => api.get<Page<DataRow>>(`/api/tables/${encodeURIComponent(table.name)}/rows`, { q, offset, limit: ROWS_PER_PAGE }), [table.name, q, offset, refresh]);
  const [editing, setEditing] = useState<{ id: string | null; draft: Draft; version?: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const path = `/api/tables/${encodeURIComponent(table.name)}/rows`;

  async function save() {
    if (!editing) return;
    setBusy(true);
    setError(null);
    try {
      const values = fromDraft(table, editing.draft);
      if (editing.id) await api.put(`${path}/${encodeURIComponent(editing.id)}`, { values, version: editing.version });
      else await api.post(path, { values });
      setEditing(null);
      rows.reload();
      onChanged();
    } catch (e) {
      setError(rowError(e));
    } finally {
      setBusy(false);
    }
  }

  async function remove(row: DataRow) {
    const key = table.key_columns.map((k) => show(row.values[k])).join(" / ");
    if (!window.confirm(`Delete the row ${key}?`)) return;
    setError(null);
    try {
      await api.delete(`${path}/${encodeURIComponent(row.id)}`);
      rows.reload();
      onChanged();
    } catch (e) {
      setError(rowError(e));
    }
  }

  const rowKeys = (e: KeyboardEvent) => {
    if (e.key === "Enter") void save();
    if (e.key === "Escape") setEditing(null);
  };
  const editor = (id: string | null) =>
    editing && editing.id === id
      ? table.columns.map((c) => (
          <td key={c.name}>
            <Cell
              column={c}
              label={`${c.name}${id ? "" : " of the new row"}`}
              value={editing.draft[c.name] ?? ""}
              onChange={(v) => setEditing({ ...editing, draft: { ...editing.draft, [c.name]: v } })}
            />
          </td>
        ))
      : null;
  const saveButtons = (
    <td className="actions">
      <button type="button" className="primary" disabled={busy} onClick={() => void save()}>
        Save
      </button>
      <button type="button" onClick={() => setEditing(null)}>
        Cancel
      </button>
    </td>
  );

  const page = rows.data;
  return (
    <div>
      <div className="row" style={{ marginBottom: "0.5rem" }}>
        <input
          type="search"
          aria-label={`Search ${table.name} by key`}
          placeholder={`Search by ${table.key_columns.join(", ")}`}
          value={q}
          onChange={(e) => {
            setQ(e.target.value);
            setOffset(0);
          }}
        />
        <button type="button" onClick={() => setEditing({ id: null, draft: toDraft(table, {}) })} disabled={!!editing}>
          Add row
        </button>
        <a href={`/api/tables/${encodeURIComponent(table.name)}/export.csv`} download={`${table.name}.csv`}>
          Export CSV
        </a>
      </div>
      <ErrorNote error={error ?? rows.error} />
      <div className="table-wrap">
        <table className="rows-table" aria-label={`Rows of ${table.name}`}>
          <thead>
            <tr>
              {table.columns.map((c) => (
                <th key={c.name} className={c.type === "integer" || c.type === "number" ? "num" : undefined}>
                  {c.name} {table.key_columns.includes(c.name) && <span className="badge brand">key</span>} <span className="hint">{c.type}</span>
                </th>
              ))}
              <th>
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {editing?.id === null && (
              <tr onKeyDown={rowKeys}>
                {editor(null)}
                {saveButtons}
              </tr>
            )}
            {(page?.items ?? []).map((row) =>
              editing?.id === row.id ? (
                <tr key={row.id} onKeyDown={rowKeys}>
                  {editor(row.id)}
                  {saveButtons}
                </tr>
              ) : (
                <tr key={row.id} data-row={table.key_columns.map((k) => show(row.values[k])).join("|")}>
                  {table.columns.map((c) => (
                    <td key={c.name} className={c.type === "integer" || c.type === "number" ? "num" : "wrap-anywhere"}>
                      {show(row.values[c.name]) || <span className="hint">—</span>}
                    </td>
                  ))}
                  <td className="actions">
                    <button type="button" disabled={!!editing} onClick={() => setEditing({ id: row.id, draft: toDraft(table, row.values), version: row.version })} aria-label={`Edit row ${show(row.values[table.key_columns[0] ?? ""])}`}>
                      Edit
                    </button>
                    <button type="button" className="danger" disabled={!!editing} onClick={() => void remove(row)} aria-label={`Delete row ${show(row.values[table.key_columns[0] ?? ""])}`}>
                      Delete
                    </button>
                  </td>
                </tr>
              ),
            )}
          </tbody>
        </table>
        {rows.loading && !page && <Spinner />}
        {page && page.items.length === 0 && !editing && <Empty title={q ? "No row matches" : "The table is empty"}>{q ? "Search by another key." : "Add a row, or import a CSV file."}</Empty>}
      </div>
      {page && page.total > ROWS_PER_PAGE && (
        <div className="row" style={{ marginTop: "0.5rem" }}>
          <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - ROWS_PER_PAGE))}>
            Previous
          </button>
          <span className="hint">
            {offset + 1}–{Math.min(offset + ROWS_PER_PAGE, page.total)} of {page.total}
          </span>
          <button type="button" disabled={offset + ROWS_PER_PAGE >= page.total} onClick={() => setOffset(offset + ROWS_PER_PAGE)}>
            Next
          </button>
        </div>
      )}
    </div>
  );
}

function Changes({ title, changes, keyColumns }: { title: string; changes: ImportChange[]; keyColumns: string[] }) {
  if (!changes.length) return null;
  return (
    <details>
      <summary>
        {title} ({changes.length})
      </summary>
      <div className="table-wrap">
        <table aria-label={title}>
          <thead>
            <tr>
              <th>Line</th>
              <th>Key</th>
              <th>Change</th>
            </tr>
          </thead>
          <tbody>
            {changes.map((c, i) => {
              const columns = Object.keys({ ...(c.before ?? {}), ...(c.after ?? {}) }).filter((k) => !keyColumns.includes(k));
              const differing = columns.filter((k) => show(c.before?.[k]) !== show(c.after?.[k]));
              return (
                <tr key={i}>
                  <td>{c.line ?? "—"}</td>
                  <td className="mono">{Object.values(c.key).map(show).join(" / ")}</td>
                  <td>
                    {differing.map((k) => (
                      <div key={k}>
                        {k}: {c.before && <span className="change-before">{show(c.before[k]) || "∅"}</span>} {c.after && <span className="change-after">{show(c.after[k]) || "∅"}</span>}
                      </div>
                    ))}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
    </details>
  );
}

function Import({ table, onImported }: { table: DataTable; onImported: () => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [mode, setMode] = useState<"upsert" | "replace">("upsert");
  const [preview, setPreview] = useState<ImportOut | null>(null);
  const [applied, setApplied] = useState<ImportOut | null>(null);
  const [inputKey, setInputKey] = useState(0);
  const action = useAction();

  const send = (dryRun: boolean) => {
    const form = new FormData();
    if (file) form.append("file", file);
    return api.upload<ImportOut>(withQuery(`/api/tables/${encodeURIComponent(table.name)}/import`, { mode, dry_run: dryRun }), form);
  };

  const check = () =>
    action.run(async () => {
      setApplied(null);
      setPreview(await send(true));
    });
  const apply = () =>
    action.run(async () => {
      const out = await send(false);
      setApplied(out);
      setPreview(null);
      setFile(null);
      setInputKey((k) => k + 1);
      onImported();
    });

  const errors = preview?.errors ?? [];
  return (
    <div className="card import-box" aria-label={`Import CSV into ${table.name}`} role="group">
      <div className="row">
        <label>
          CSV file
          <input
            key={inputKey}
            type="file"
            accept=".csv,text/csv,text/plain"
            onChange={(e) => {
              setFile(e.target.files?.[0] ?? null);
              setPreview(null);
              setApplied(null);
            }}
          />
        </label>
        <label>
          Mode
          <select
            value={mode}
            onChange={(e) => {
              setMode(e.target.value as "upsert" | "replace");
              setPreview(null);
            }}
          >
            <option value="upsert">Add and update rows</option>
            <option value="replace">Replace the table (delete rows not in the file)</option>
          </select>
        </label>
        <button type="button" onClick={check} disabled={!file || action.busy} style={{ alignSelf: "flex-end" }}>
          Check file
        </button>
      </div>
      <p className="hint">
        The first line names the columns ({table.columns.map((c) => c.name).join(", ")}); {table.key_columns.join(", ")} must be there. Nothing is written until you import a file without errors.
      </p>
      <ErrorNote error={action.error} />
      {preview && (
        <div className="import-box" aria-label="Import preview" role="region">
          <div className="summary-counts">
            <span className="badge ok">{preview.inserts} new</span>
            <span className="badge brand">{preview.updates} changed</span>
            <span className={preview.deletes ? "badge bad" : "badge"}>{preview.deletes} deleted</span>
            <span className="badge">{preview.unchanged} unchanged</span>
            <span className={errors.length ? "badge bad" : "badge ok"}>{errors.length} error(s)</span>
          </div>
          {errors.length > 0 && (
            <>
              <div className="error-note" role="alert">
                The file has {errors.length} error{errors.length === 1 ? "" : "s"}: fix {errors.length === 1 ? "it" : "them"} and check again. Nothing was imported.
              </div>
              <div className="table-wrap">
                <table className="import-errors" aria-label="Errors in the file">
                  <thead>
                    <tr>
                      <th>Line</th>
                      <th>Column</th>
                      <th>Problem</th>
                    </tr>
                  </thead>
                  <tbody>
                    {errors.map((e, i) => (
                      <tr key={i}>
                        <td>{e.line ?? "—"}</td>
                        <td className="mono">{e.column ?? "—"}</td>
                        <td>{e.message}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </>
          )}
          <Changes title="New rows" changes={preview.insert} keyColumns={table.key_columns} />
          <Changes title="Changed rows" changes={preview.update} keyColumns={table.key_columns} />
          <Changes title="Deleted rows" changes={preview.delete} keyColumns={table.key_columns} />
          {preview.truncated && <p className="hint">Only the first 500 of each list are shown; the counts are exact.</p>}
          <div className="row">
            <button type="button" className="primary" onClick={apply} disabled={action.busy || errors.length > 0 || preview.inserts + preview.updates + preview.deletes === 0}>
              Import {preview.inserts + preview.updates + preview.deletes} change(s)
            </button>
            <button type="button" onClick={() => setPreview(null)}>
              Cancel
            </button>
          </div>
        </div>
      )}
      {applied && (
        <div className="ok-note" role="status">
          Imported: {applied.inserts} new, {applied.updates} changed, {applied.deletes} deleted, {applied.unchanged} unchanged.
        </div>
      )}
    </div>
  );
}

function NewTable({ onCreated }: { onCreated: (name: string) => void }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [columns, setColumns] = useState("sku:string, price:number");
  const [keys, setKeys] = useState("sku");
  const action = useAction();

  async function submit(event: FormEvent) {
    event.preventDefault();
    const parsed = columns
      .split(",")
      .map((part) => part.trim())
      .filter(Boolean)
      .map((part) => {
        const [column, type] = part.split(":").map((s) => s.trim());
        return { name: column ?? "", type: type || "string" };
      });
    const ok = await action.run(async () => {
      await api.post("/api/tables", {
        name: name.trim(),
        description: description.trim(),
        columns: parsed,
        key_columns: keys
          .split(",")
          .map((k) => k.trim())
          .filter(Boolean),
      });
    });
    if (ok) {
      onCreated(name.trim());
      setName("");
      setDescription("");
    }
  }

  return (
    <details className="card">
      <summary>New table</summary>
      <form className="admin-form" aria-label="Create a data table" onSubmit={submit} style={{ marginTop: "0.75rem" }}>
        <label>
          Name
          <input required value={name} onChange={(e) => setName(e.target.value.toLowerCase())} pattern="[a-z][a-z0-9_]*" placeholder="price_list" />
        </label>
        <label className="wide">
          Description
          <input value={description} onChange={(e) => setDescription(e.target.value)} maxLength={500} />
        </label>
        <label className="wide">
          Columns (name:type, types string, integer, number, boolean)
          <input required value={columns} onChange={(e) => setColumns(e.target.value)} />
        </label>
        <label>
          Key columns
          <input required value={keys} onChange={(e) => setKeys(e.target.value)} />
        </label>
        <div className="form-actions">
          <button type="submit" className="primary" disabled={action.busy || !name.trim()}>
            Create table
          </button>
        </div>
        <div className="wide">
          <ErrorNote error={action.error} />
        </div>
      </form>
    </details>
  );
}

export default function Tables() {
  const tables = useLoad(() => api.get<DataTable[]>("/api/tables"), []);
  const [chosen, setChosen] = useState<string | null>(null);
  const [refresh, setRefresh] = useState(0);
  const list = tables.data ?? [];
  const table = list.find((t) => t.name === chosen) ?? list[0];

  return (
    <div>
      <PageHeader title="Data tables" />
      <ErrorNote error={tables.error} />
      {tables.loading && !tables.data ? (
        <Spinner />
      ) : (
        <div className="tables-layout">
          <div className="table-list" role="group" aria-label="Tables">
            {list.map((t) => (
              <button key={t.name} type="button" aria-pressed={t.name === table?.name} onClick={() => setChosen(t.name)}>
                <span className="mono">{t.name}</span>
                <span className="hint">{t.row_count}</span>
              </button>
            ))}
            <NewTable
              onCreated={(name) => {
                setChosen(name);
                tables.reload();
              }}
            />
          </div>
          {!table ? (
            <Empty title="No data tables">Create one on the left; workflows read and change them in table steps.</Empty>
          ) : (
            <div key={table.name}>
              <Section title={table.name} hint={`${table.description ? `${table.description}. ` : ""}${table.row_count} row(s), created ${formatTime(table.created_at)}.`}>
                <Rows table={table} refresh={refresh} onChanged={tables.reload} />
              </Section>
              <Section title="Import from CSV">
                <Import
                  table={table}
                  onImported={() => {
                    setRefresh((n) => n + 1);
                    tables.reload();
                  }}
                />
              </Section>
            </div>
          )}
        </div>
      )}
    </div>
  );
}
