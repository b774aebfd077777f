// The workflow designer (/designer/:key, or ?version=N for a published version, read-only).
// The definition JSON is the single source of truth, kept in one undo history; the canvas, the
// panels, validation, autosave and the test run all read it from there.
import { ReactFlowProvider } from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link, useParams, useSearchParams } from "react-router-dom";

import { api, ApiError, errorText, type WorkflowOut } from "../api";
import { useAuth } from "../auth";
import { Spinner } from "../components/ui";
import { KIND, makeNode, sizeOf } from "./catalog";
import Canvas, { type CanvasApi, type Marks, type RunMarks, type Selection } from "./canvas/Canvas";
import { Palette } from "./canvas/Palette";
import "./designer.css";
import { addNode, copySelection, freeSpot, normalize, paste, removeElements, serialize, setPositions, uniqueId, updateEdge, updateNode, type Clip } from "./graph/edit";
import { dataFields } from "./graph/fields";
import { autoLayout } from "./graph/layout";
import { lint } from "./graph/lint";
import { History, useHistory } from "./history";
import { useDirectory, useDraftSaving, useValidation } from "./hooks";
import { EditorContext, type Editor as EditorValue } from "./panels/context";
import { ProblemsPanel } from "./panels/ProblemsPanel";
import { EdgePanel, MultiPanel, NodePanel, WorkflowPanel } from "./panels/Properties";
import { ShortcutsHelp } from "./panels/ShortcutsHelp";
import { TestRunPanel } from "./panels/TestRunPanel";
import { Toolbar } from "./Toolbar";
import type { Definition, Issue, Mark, NodeType, Point, Simulation } from "./types";

const CLIPBOARD_KEY = "stepwise.designer.clipboard";

interface Loaded {
  def: Definition;
  meta: WorkflowOut | null;
  version: number | null;
  /** The saved positions overlapped and were laid out anew on opening. */
  relaid: boolean;
}

/** Whether many steps overlap at this designer's sizes (positions made for smaller shapes). */
function crowded(def: Definition): boolean {
  const boxes = def.nodes
    .map((n) => ({ p: def.layout[n.id], ...sizeOf(n.type) }))
    .filter((b): b is { p: Point; width: number; height: number } => !!b.p)
    .sort((a, b) => a.p.x - b.p.x);
  const overlapping = new Set<number>();
  for (let i = 0; i < boxes.length; i++) {
    const a = boxes[i]!;
    for (let j = i + 1; j < boxes.length; j++) {
      const b = boxes[j]!;
      if (b.p.x - a.p.x >= (a.width + b.width) / 2) break;
      if (Math.abs(a.p.y - b.p.y) < (a.height + b.height) / 2) {
        overlapping.add(i);
        overlapping.add(j);
      }
    }
  }
  return overlapping.size > Math.max(1, boxes.length * 0.2);
}

/** A definition ready to draw: steps without a position are placed; a crowded layout is redone. */
async function withLayout(def: Definition): Promise<{ def: Definition; relaid: boolean }> {
  const missing = def.nodes.some((n) => !def.layout[n.id]);
  const relaid = crowded(def);
  if (!missing && !relaid) return { def, relaid: false };
  const placed = await autoLayout(def);
  const keep = !relaid && def.nodes.some((n) => def.layout[n.id]);
  // keep what was placed by hand unless it is crowded; place the rest
  return { def: setPositions(def, keep ? new Map([...placed].filter(([id]) => !def.layout[id])) : placed), relaid };
}

export default function Designer() {
  const { key = "" } = useParams();
  const [params] = useSearchParams();
  const versionParam = params.get("version");
  const version = versionParam && /^\d+$/.test(versionParam) ? Number(versionParam) : null;
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [error, setError] = useState<{ message: string; notFound: boolean } | null>(null);
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    let live = true;
    setLoaded(null);
    setError(null);
    performance.mark("designer-load");
    const path = `/api/workflows/${encodeURIComponent(key)}`;
    (async () => {
      const meta = await api.get<WorkflowOut>(path);
      const raw = version === null ? meta.draft : (await api.get<{ definition: unknown }>(`${path}/versions/${version}`)).definition;
      performance.mark("designer-data");
      const { def, relaid } = await withLayout(normalize(raw, key));
      if (live) setLoaded({ def, meta, version, relaid });
    })().catch((e: unknown) => live && setError({ message: errorText(e), notFound: e instanceof ApiError && e.status === 404 }));
    return () => {
      live = false;
    };
  }, [key, version, attempt]);

  useEffect(() => {
    document.title = `${loaded?.def.name || key} · Designer · Stepwise`;
  }, [loaded, key]);

  if (error) {
    return (
      <div className="wf-page-state" role="alert">
        <h2>{error.notFound ? (version ? `There is no version ${version} of “${key}”` : `There is no workflow “${key}”`) : "The designer could not open this workflow"}</h2>
        {!error.notFound && <p className="muted">{error.message}</p>}
        <div className="row" style={{ justifyContent: "center" }}>
          {!error.notFound && (
            <button type="button" className="primary" onClick={() => setAttempt((n) => n + 1)}>
              Try again
            </button>
          )}
          <Link to="/workflows">Back to the workflows</Link>
        </div>
      </div>
    );
  }
  if (!loaded) {
    return (
      <div className="wf-page-state">
        <Spinner label="Opening the designer…" />
      </div>
    );
  }
  return (
    <ReactFlowProvider>
      <Editor key={`${key}@${version ?? "draft"}`} loaded={loaded} workflowKey={key} onReload={() => setAttempt((n) => n + 1)} />
    </ReactFlowProvider>
  );
}

function sameMark(a: Mark | undefined, b: Mark): boolean {
  return !!a && a.severity === b.severity && a.count === b.count;
}

/** Marks per node and edge; unchanged marks keep their object, so unchanged nodes do not re-render. */
function computeMarks(issues: Issue[], previous: Marks | null): Marks {
  const tally = (pick: (i: Issue) => string | null) => {
    const out = new Map<string, Mark>();
    for (const i of issues) {
      const id = pick(i);
      if (!id) continue;
      const m = out.get(id);
      out.set(id, { severity: m?.severity === "error" || i.severity === "error" ? "error" : "warning", count: (m?.count ?? 0) + 1 });
    }
    return out;
  };
  const keep = (fresh: Map<string, Mark>, old: ReadonlyMap<string, Mark> | undefined) => {
    for (const [id, m] of fresh) {
      const o = old?.get(id);
      if (o && sameMark(o, m)) fresh.set(id, o);
    }
    if (old && old.size === fresh.size && [...fresh].every(([id, m]) => old.get(id) === m)) return old;
    return fresh;
  };
  const nodes = keep(tally((i) => (i.edge ? null : i.node)), previous?.nodes);
  const edges = keep(tally((i) => i.edge), previous?.edges);
  if (previous && previous.nodes === nodes && previous.edges === edges) return previous;
  return { nodes, edges };
}

function Editor({ loaded, workflowKey, onReload }: { loaded: Loaded; workflowKey: string; onReload: () => void }) {
  const { me, hasRole } = useAuth();
  const canDesign = hasRole("admin", "designer");
  const isAdmin = hasRole("admin");
  const readOnly = loaded.version !== null || !canDesign;
  const [history] = useState(() => new History(loaded.def));
  const { present: def, past, future } = useHistory(history);
  const canvas = useRef<CanvasApi | null>(null);
  const directory = useDirectory(isAdmin);
  const [selection, setSelection] = useState<Selection>({ nodes: [], edges: [] });
  // The selection as the canvas last reported it, for key presses that come before a re-render.
  const selectionRef = useRef(selection);
  const onSelection = useCallback((next: Selection) => {
    selectionRef.current = next;
    setSelection(next);
  }, []);
  const [help, setHelp] = useState(false);
  const [testRun, setTestRun] = useState(false);
  const [sim, setSim] = useState<Simulation | null>(null);
  const [note, setNote] = useState<{ kind: "ok" | "error"; text: string } | null>(
    loaded.relaid && !readOnly ? { kind: "ok", text: "The saved positions overlapped at this designer's step sizes, so the workflow was laid out anew; the new layout is saved with the draft." } : null,
  );
  const [meta, setMeta] = useState(loaded.meta);
  // a note that something went well ("Copied 2 steps.") is about the draft it was said of:
  // the next edit clears it; errors stay until dismissed
  const noteOf = useRef(def);
  useEffect(() => {
    noteOf.current = def;
  }, [note]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {
    if (noteOf.current !== def) setNote((current) => (current?.kind === "ok" ? null : current));
  }, [def]);

  // --- saving --------------------------------------------------------------------------------
  // a layout redone on opening is not on the server yet: the draft counts as changed, so it is saved
  const [baseline] = useState(() => (loaded.relaid ? { ...loaded.def } : loaded.def));
  const { saveState, saveError, save, overwrite } = useDraftSaving({ history, def, loaded: baseline, revision: loaded.meta?.draft_revision ?? null, readOnly, workflowKey, onSaved: setMeta });

  const unparsedFields = useRef(new Set<string>());
  const unparsed = useCallback((field: string, pending: boolean) => {
    if (pending) unparsedFields.current.add(field);
    else unparsedFields.current.delete(field);
  }, []);

  const publish = async () => {
    setNote(null);
    if (unparsedFields.current.size > 0) {
      setNote({ kind: "error", text: "Not published: a field is not valid JSON yet. Correct it or clear it, then publish." });
      return;
    }
    if (!(await save())) return;
    try {
      const out = await api.post<{ version: number }>(`/api/workflows/${encodeURIComponent(workflowKey)}/publish`);
      setMeta((m) => (m ? { ...m, published_version: out.version, versions: [...m.versions, out.version] } : m));
      setNote({ kind: "ok", text: `Published version ${out.version}. New instances start on it; running ones stay on theirs.` });
    } catch (e) {
      setNote({ kind: "error", text: `Not published: ${errorText(e)}` });
    }
  };

  // --- validation and good practice -----------------------------------------------------------
  const server = useValidation(def, !readOnly);
  const lintIssues = useMemo(() => lint(def), [def]);
  const issues = useMemo(() => {
    const all = [...server.issues, ...lintIssues];
    return [...all.filter((i) => i.severity === "error"), ...all.filter((i) => i.severity !== "error")];
  }, [server.issues, lintIssues]);
  const marksRef = useRef<Marks | null>(null);
  const marks = useMemo(() => (marksRef.current = computeMarks(issues, marksRef.current)), [issues]);
  const errors = issues.filter((i) => i.severity === "error").length;

  // Follow the run: bring the step it waits at into view.
  useEffect(() => {
    const here = sim?.current[0] ?? sim?.incidents[0]?.node;
    if (here) canvas.current?.centerOn({ node: here });
  }, [sim]);

  const run: RunMarks | null = useMemo(() => {
    if (!sim) return null;
    const nodes = new Map<string, "visited" | "current" | "incident">();
    for (const p of sim.path) nodes.set(p.node, "visited");
    for (const id of sim.current) nodes.set(id, "current");
    for (const i of sim.incidents) if (i.node) nodes.set(i.node, "incident");
    return { nodes, edges: new Set(sim.path.map((p) => p.edge).filter((e): e is string => !!e)) };
  }, [sim]);

  // --- editing ---------------------------------------------------------------------------------
  const commit = useCallback(
    (update: (d: Definition) => Definition, coalesce?: string) => {
      if (!readOnly) history.commit(update, { coalesce });
    },
    [history, readOnly],
  );
  const onCanvasCommit = useCallback((update: (d: Definition) => Definition) => commit(update), [commit]);

  const editor: EditorValue = useMemo(
    () => ({
      def,
      readOnly,
      me: me?.username ?? "admin",
      directory,
      issues,
      fields: dataFields(def),
      updateNode: (id, patch, field) =>
        commit((d) => {
          const node = d.nodes.find((n) => n.id === id) as Record<string, unknown> | undefined;
          if (!node || Object.entries(patch).every(([k, v]) => Object.is(node[k], v))) return d;
          return updateNode(d, id, patch);
        }, `node:${id}:${field}`),
      updateEdge: (id, patch, field) =>
        commit((d) => {
          const edge = d.edges.find((e) => e.id === id) as Record<string, unknown> | undefined;
          if (!edge || Object.entries(patch).every(([k, v]) => Object.is(edge[k], v))) return d;
          return updateEdge(d, id, patch);
        }, `edge:${id}:${field}`),
      commit,
      select: (target) => {
        canvas.current?.select(target.node ? [target.node] : [], target.edge ? [target.edge] : []);
        canvas.current?.centerOn(target);
      },
      unparsed,
    }),
    [def, readOnly, me, directory, issues, commit, unparsed],
  );

  const addAt = useCallback(
    (type: NodeType, client?: { x: number; y: number }) => {
      const api_ = canvas.current;
      if (!api_ || readOnly) return;
      const d = history.present;
      const id = uniqueId(KIND[type].idBase, new Set(d.nodes.map((n) => n.id)));
      const at = api_.toCanvas(client);
      const spot = client ? { x: Math.round(at.x / 20) * 20, y: Math.round(at.y / 20) * 20 } : freeSpot(d, at, sizeOf(type));
      commit((x) => addNode(x, makeNode(type, id, me?.username ?? "admin"), spot));
      api_.select([id]);
    },
    [commit, history, me, readOnly],
  );
  const accepts = useCallback((client: { x: number; y: number }) => !!canvas.current?.contains(client), []);

  const deleteSelection = useCallback(() => {
    if (readOnly) return;
    const sel = selectionRef.current;
    if (sel.nodes.length === 0 && sel.edges.length === 0) return;
    commit((d) => removeElements(d, sel.nodes, sel.edges));
    canvas.current?.clearSelection();
  }, [commit, readOnly]);

  const layout = useCallback(async () => {
    if (readOnly) return;
    const positions = await autoLayout(history.present);
    commit((d) => setPositions(d, positions));
    requestAnimationFrame(() => requestAnimationFrame(() => canvas.current?.readableFit()));
  }, [commit, history, readOnly]);

  const pasteCount = useRef(0);
  const copy = useCallback(() => {
    const clip = copySelection(history.present, selectionRef.current.nodes);
    if (!clip) return;
    pasteCount.current = 0;
    try {
      localStorage.setItem(CLIPBOARD_KEY, JSON.stringify(clip));
    } catch {
      /* private mode: the clipboard stays empty */
    }
    setNote({ kind: "ok", text: `Copied ${clip.nodes.length} ${clip.nodes.length === 1 ? "step" : "steps"}.` });
  }, [history]);
  const pasteClip = useCallback(() => {
    if (readOnly) return;
    let clip: Clip | null = null;
    try {
      clip = JSON.parse(localStorage.getItem(CLIPBOARD_KEY) ?? "null") as Clip | null;
    } catch {
      clip = null;
    }
    if (!clip || !Array.isArray(clip.nodes)) return;
    pasteCount.current += 1;
    const shift = 40 * pasteCount.current;
    const out = paste(history.present, clip, { x: shift, y: shift });
    commit(() => out.def);
    canvas.current?.select(out.nodeIds);
  }, [commit, history, readOnly]);

  const exportJson = () => {
    const blob = new Blob([JSON.stringify(serialize(def), null, 2)], { type: "application/json" });
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = `${workflowKey}${loaded.version ? `-v${loaded.version}` : ""}.json`;
    a.click();
    URL.revokeObjectURL(url);
  };

  const importJson = async (file: File) => {
    setNote(null);
    try {
      const parsed: unknown = JSON.parse(await file.text());
      if (typeof parsed !== "object" || parsed === null || !Array.isArray((parsed as { nodes?: unknown }).nodes)) {
        throw new Error("the file is not a workflow definition (it has no list of nodes)");
      }
      const { def: next } = await withLayout(normalize({ ...(parsed as object), layout: (parsed as { layout?: unknown }).layout ?? {} }, workflowKey));
      const check = await api.post<{ valid: boolean; problems: { severity: string }[] }>("/api/workflows/validate", { definition: serialize(next) });
      commit(() => next);
      const bad = check.problems.filter((p) => p.severity === "error").length;
      setNote({ kind: bad ? "error" : "ok", text: `Imported ${file.name}: ${next.nodes.length} steps${bad ? `, ${bad} ${bad === 1 ? "problem" : "problems"} to fix` : ", no problems"}. Undo (Ctrl+Z) brings the previous draft back.` });
    } catch (e) {
      setNote({ kind: "error", text: `Could not import ${file.name}: ${errorText(e)}` });
    }
  };

  const pick = useCallback((issue: { node?: string | null; edge?: string | null }) => {
    canvas.current?.select(issue.node && !issue.edge ? [issue.node] : [], issue.edge ? [issue.edge] : []);
    canvas.current?.centerOn(issue.edge ? { edge: issue.edge } : { node: issue.node });
  }, []);
  const pickNode = useCallback((node: string) => pick({ node }), [pick]);

  const [ready, setReady] = useState(false);
  const onReady = useCallback(() => setReady(true), []);
  const onEditName = useCallback(() => {
    requestAnimationFrame(() => document.querySelector<HTMLInputElement>("[data-testid='node-name']")?.focus());
  }, []);

  // --- keyboard ------------------------------------------------------------------------------
  const keys = useRef({ save, deleteSelection, copy, pasteClip, layout });
  keys.current = { save, deleteSelection, copy, pasteClip, layout };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      const inField = !!target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName));
      const mod = e.ctrlKey || e.metaKey;
      const k = e.key.toLowerCase();
      if (mod && k === "s") {
        e.preventDefault();
        void keys.current.save();
        return;
      }
      if (inField || document.querySelector(".wf-modal")) return;
      if (e.key === "?") {
        e.preventDefault();
        setHelp(true);
      } else if (e.key === "Escape") {
        canvas.current?.clearSelection();
      } else if (e.key === "Delete" || e.key === "Backspace") {
        e.preventDefault();
        keys.current.deleteSelection();
      } else if (mod && k === "z") {
        e.preventDefault();
        if (e.shiftKey) history.redo();
        else history.undo();
      } else if (mod && k === "y") {
        e.preventDefault();
        history.redo();
      } else if (mod && k === "c") {
        keys.current.copy();
      } else if (mod && k === "v") {
        e.preventDefault();
        keys.current.pasteClip();
      } else if (mod && k === "a") {
        e.preventDefault();
        const d = history.present;
        canvas.current?.select(
          d.nodes.map((n) => n.id),
          d.edges.map((x) => x.id),
        );
      } else if (!mod && !e.altKey && k === "f") {
        canvas.current?.fit();
      } else if (!mod && !e.altKey && k === "l") {
        void keys.current.layout();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [history]);

  // --- the panel for the selection ---------------------------------------------------------------
  const selectedNode = selection.nodes.length === 1 && selection.edges.length === 0 ? def.nodes.find((n) => n.id === selection.nodes[0]) : undefined;
  const selectedEdge = selection.edges.length === 1 && selection.nodes.length === 0 ? def.edges.find((e) => e.id === selection.edges[0]) : undefined;
  let panel;
  if (testRun) panel = <TestRunPanel def={def} workflowKey={workflowKey} onRun={setSim} onClose={() => setTestRun(false)} onPick={pickNode} />;
  else if (selectedNode) panel = <NodePanel key={selectedNode.id} node={selectedNode} onDelete={deleteSelection} />;
  else if (selectedEdge) panel = <EdgePanel key={selectedEdge.id} edge={selectedEdge} onDelete={deleteSelection} />;
  else if (selection.nodes.length + selection.edges.length > 1) panel = <MultiPanel count={{ nodes: selection.nodes.length, edges: selection.edges.length }} onDelete={deleteSelection} />;
  else panel = <WorkflowPanel stats={{ nodes: def.nodes.length, edges: def.edges.length }} />;

  return (
    <EditorContext.Provider value={editor}>
      <div className={`designer${readOnly ? " read-only" : ""}${sim ? " running" : ""}`} data-ready={ready ? "true" : "false"} data-testid="designer">
        <Toolbar
          name={def.name ?? ""}
          workflowKey={workflowKey}
          readOnly={readOnly}
          version={loaded.version}
          saveState={saveState}
          canUndo={past.length > 0}
          canRedo={future.length > 0}
          errors={errors}
          isAdmin={isAdmin}
          canDesign={canDesign}
          publishedVersion={meta?.published_version ?? null}
          versions={meta?.versions ?? []}
          testRunOpen={testRun}
          onName={(name) => commit((d) => ({ ...d, name }), "wf:name")}
          onUndo={() => history.undo()}
          onRedo={() => history.redo()}
          onLayout={() => void layout()}
          onFit={() => canvas.current?.fit()}
          onTestRun={() => setTestRun((t) => !t)}
          onSave={() => void save()}
          onPublish={() => void publish()}
          onExport={exportJson}
          onImport={(f) => void importJson(f)}
          onHelp={() => setHelp(true)}
        />
        {(saveError || note) && (
          <div className="wf-banner-row">
            {saveError?.conflict && (
              <div className="wf-banner error" role="alert" data-testid="conflict">
                Someone else saved this workflow meanwhile — {saveError.text}. Your changes are not saved.
                <button type="button" onClick={onReload}>
                  Reload their version
                </button>
                <button type="button" className="link" onClick={() => void overwrite()}>
                  Keep mine and save over theirs
                </button>
              </div>
            )}
            {saveError && !saveError.conflict && (
              <div className="wf-banner error" role="alert">
                Saving failed: {saveError.text}
                <button type="button" onClick={() => void save(true)}>
                  Try again
                </button>
              </div>
            )}
            {note && (
              <div className={`wf-banner ${note.kind}`} role={note.kind === "error" ? "alert" : "status"} data-testid="note">
                {note.text}
                <button type="button" className="link" aria-label="Dismiss" onClick={() => setNote(null)}>
                  ×
                </button>
              </div>
            )}
          </div>
        )}
        {loaded.version !== null && (
          <div className="wf-banner-row">
            <div className="wf-banner info" role="status">
              You are looking at published version {loaded.version} (read-only).{" "}
              <Link to={`/designer/${encodeURIComponent(workflowKey)}`}>Back to the draft</Link>
            </div>
          </div>
        )}
        <div className="wf-body">
          {!readOnly && <Palette disabled={readOnly} onAdd={addAt} accepts={accepts} />}
          <div className="wf-stage">
            <Canvas def={def} marks={marks} run={run} readOnly={readOnly} apiRef={canvas} onCommit={onCanvasCommit} onSelection={onSelection} onReady={onReady} onEditName={onEditName} />
            {def.nodes.length === 0 && (
              <div className="wf-empty" role="note">
                <h3>An empty workflow</h3>
                <p>Drag a Start step from the palette onto the canvas, then the steps that follow it, and connect them by dragging from a step's right edge.</p>
              </div>
            )}
            <ProblemsPanel def={def} issues={readOnly ? lintIssues : issues} checking={server.checking} error={server.error} onPick={pick} />
          </div>
          <aside className="wf-panel" aria-label="Properties">
            {panel}
          </aside>
        </div>
        {help && <ShortcutsHelp onClose={() => setHelp(false)} />}
      </div>
    </EditorContext.Provider>
  );
}
