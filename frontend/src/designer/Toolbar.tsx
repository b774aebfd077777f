// The designer's toolbar: name, save state, history, layout, test run, versions, import/export, publish.
import { useEffect, useRef, useState } from "react";
import { Link } from "react-router-dom";

export type SaveState = "saved" | "dirty" | "saving" | "error" | "conflict";

const SAVE_TEXT: Record<SaveState, string> = {
  saved: "Saved",
  dirty: "Unsaved changes",
  saving: "Saving…",
  error: "Not saved",
  conflict: "Not saved: changed elsewhere",
};

interface Props {
  name: string;
  workflowKey: string;
  readOnly: boolean;
  version: number | null;
  saveState: SaveState;
  canUndo: boolean;
  canRedo: boolean;
  errors: number;
  isAdmin: boolean;
  canDesign: boolean;
  publishedVersion: number | null;
  versions: number[];
  testRunOpen: boolean;
  onName: (name: string) => void;
  onUndo: () => void;
  onRedo: () => void;
  onLayout: () => void;
  onFit: () => void;
  onTestRun: () => void;
  onSave: () => void;
  onPublish: () => void;
  onExport: () => void;
  onImport: (file: File) => void;
  onHelp: () => void;
}

export function Toolbar(p: Props) {
  const fileRef = useRef<HTMLInputElement>(null);
  const [versionsOpen, setVersionsOpen] = useState(false);
  const menuRef = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!versionsOpen) return;
    const close = (e: MouseEvent | KeyboardEvent) => {
      if (e instanceof KeyboardEvent ? e.key === "Escape" : !menuRef.current?.contains(e.target as Node)) setVersionsOpen(false);
    };
    window.addEventListener("mousedown", close);
    window.addEventListener("keydown", close);
    return () => {
      window.removeEventListener("mousedown", close);
      window.removeEventListener("keydown", close);
    };
  }, [versionsOpen]);
  const publishBlocked = !p.isAdmin ? "Only admins publish workflows." : p.errors > 0 ? `Fix the ${p.errors} ${p.errors === 1 ? "error" : "errors"} in the problems panel first.` : null;
  const base = `/designer/${encodeURIComponent(p.workflowKey)}`;
  return (
    <header className="wf-toolbar" aria-label="Designer toolbar">
      <Link to="/workflows" className="wf-back" aria-label="Back to the workflows">
        ←
      </Link>
      {p.readOnly ? (
        <h1 className="wf-title" title={p.name}>
          {p.name}
        </h1>
      ) : (
        <input className="wf-title-input" aria-label="Workflow name" value={p.name} onChange={(e) => p.onName(e.target.value)} maxLength={200} data-testid="toolbar-name" />
      )}
      {p.version !== null ? (
        <span className="badge brand">Version {p.version} · read-only</span>
      ) : p.readOnly ? (
        <span className="badge">Read-only</span>
      ) : (
        <span className={`wf-save-state ${p.saveState}`} role="status" aria-live="polite" data-testid="save-state">
          {SAVE_TEXT[p.saveState]}
        </span>
      )}
      {!p.readOnly && (
        <div className="wf-toolbar-group" role="group" aria-label="Edit">
          <button type="button" onClick={p.onUndo} disabled={!p.canUndo} title="Undo (Ctrl+Z)" aria-label="Undo">
            ↶
          </button>
          <button type="button" onClick={p.onRedo} disabled={!p.canRedo} title="Redo (Ctrl+Shift+Z)" aria-label="Redo">
            ↷
          </button>
        </div>
      )}
      <div className="wf-toolbar-group" role="group" aria-label="View">
        {!p.readOnly && (
          <button type="button" onClick={p.onLayout} title="Lay out automatically (L)">
            Auto-layout
          </button>
        )}
        <button type="button" onClick={p.onFit} title="Fit to view (F)">
          Fit
        </button>
      </div>
      <span className="wf-toolbar-spacer" />
      {p.version === null && p.canDesign && (
        <button type="button" onClick={p.onTestRun} aria-pressed={p.testRunOpen}>
          Test run
        </button>
      )}
      <div className="wf-menu" ref={menuRef}>
        <button type="button" aria-haspopup="menu" aria-expanded={versionsOpen} onClick={() => setVersionsOpen((o) => !o)}>
          Versions{p.publishedVersion ? ` (v${p.publishedVersion})` : ""}
        </button>
        {versionsOpen && (
          <div className="wf-menu-list card" role="menu">
            {p.version !== null && (
              <Link role="menuitem" to={base} onClick={() => setVersionsOpen(false)}>
                The draft (editable)
              </Link>
            )}
            {p.versions.length === 0 && <p className="hint">Not published yet.</p>}
            {[...p.versions].reverse().map((v) => (
              <Link role="menuitem" key={v} to={`${base}?version=${v}`} onClick={() => setVersionsOpen(false)} className={v === p.version ? "active" : undefined}>
                Version {v}
                {v === p.publishedVersion ? " (live)" : ""}
              </Link>
            ))}
          </div>
        )}
      </div>
      <button type="button" onClick={p.onExport} title="Download the definition as JSON">
        Export
      </button>
      {!p.readOnly && (
        <>
          <button type="button" onClick={() => fileRef.current?.click()} title="Replace the draft with a JSON file (undoable)">
            Import
          </button>
          <input
            ref={fileRef}
            type="file"
            accept="application/json,.json"
            hidden
            aria-label="Import a workflow JSON file"
            data-testid="import-file"
            onChange={(e) => {
              const file = e.target.files?.[0];
              if (file) p.onImport(file);
              e.target.value = "";
            }}
          />
          <button type="button" onClick={p.onSave} disabled={p.saveState === "saving"} title="Save the draft now (Ctrl+S)">
            Save
          </button>
        </>
      )}
      {p.version === null && p.canDesign && (
        <span className="wf-publish" title={publishBlocked ?? "Publish the draft as a new version"}>
          <button type="button" className="primary" onClick={p.onPublish} disabled={!!publishBlocked} aria-describedby={publishBlocked ? "wf-publish-why" : undefined}>
            Publish
          </button>
          {publishBlocked && (
            <span id="wf-publish-why" className="wf-sr-only">
              {publishBlocked}
            </span>
          )}
        </span>
      )}
      <button type="button" onClick={p.onHelp} aria-label="Keyboard shortcuts" title="Keyboard shortcuts (?)">
        ?
      </button>
    </header>
  );
}
