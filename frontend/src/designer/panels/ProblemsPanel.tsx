// The problems panel: the server's validation problems and the good-practice warnings, each
// pointing at its step or connection; clicking one selects it and brings it into view.
import { memo, useState } from "react";

import type { Definition, Issue } from "../types";

interface Props {
  def: Definition;
  issues: Issue[];
  checking: boolean;
  error: string | null;
  onPick: (issue: Issue) => void;
}

function where(def: Definition, i: Issue): string {
  if (i.node) {
    const n = def.nodes.find((x) => x.id === i.node);
    return n?.name || i.node;
  }
  if (i.edge) {
    const e = def.edges.find((x) => x.id === i.edge);
    if (!e) return i.edge;
    const a = def.nodes.find((x) => x.id === e.from);
    const b = def.nodes.find((x) => x.id === e.to);
    return `${a?.name || e.from} → ${b?.name || e.to}`;
  }
  return "Workflow";
}

function ProblemsPanelComponent({ def, issues, checking, error, onPick }: Props) {
  const [open, setOpen] = useState(true);
  const errors = issues.filter((i) => i.severity === "error").length;
  const warnings = issues.length - errors;
  return (
    <section className={`wf-problems${open ? " open" : ""}`} aria-label="Problems" data-testid="problems-panel">
      <header>
        <button type="button" className="wf-problems-toggle" aria-expanded={open} onClick={() => setOpen((o) => !o)}>
          <span aria-hidden="true">{open ? "▾" : "▸"}</span> Problems
        </button>
        <span className={`badge ${errors ? "bad" : "ok"}`} data-testid="error-count">
          {errors} {errors === 1 ? "error" : "errors"}
        </span>
        <span className={`badge ${warnings ? "warn" : ""}`} data-testid="warning-count">
          {warnings} {warnings === 1 ? "warning" : "warnings"}
        </span>
        <span className="hint" aria-live="polite">
          {error ? `Could not check: ${error}` : checking ? "Checking…" : "Checked"}
        </span>
      </header>
      {open && (
        <div className="wf-problems-list">
          {issues.length === 0 ? (
            <p className="hint">No problems: this workflow can be published.</p>
          ) : (
            <ul>
              {issues.map((i, n) => (
                <li key={`${i.code}-${i.node}-${i.edge}-${n}`}>
                  <button type="button" className={`wf-problem ${i.severity}`} onClick={() => onPick(i)} data-code={i.code} data-node={i.node ?? undefined} data-edge={i.edge ?? undefined}>
                    <span className={`badge ${i.severity === "error" ? "bad" : "warn"}`}>{i.severity}</span>
                    <span className="wf-problem-where">{where(def, i)}</span>
                    <span className="wf-problem-message">{i.message}</span>
                    {i.source === "lint" && <span className="wf-problem-source">good practice</span>}
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </section>
  );
}

export const ProblemsPanel = memo(ProblemsPanelComponent);
