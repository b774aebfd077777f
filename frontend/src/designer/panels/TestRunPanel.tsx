// The test run: the draft simulated on the server with sample data, in a sandbox (nothing is stored).
// Each move replays the run from its start with one more answer from the outside world, so a
// person can step through it, complete tasks with their own data, pick outcomes and let timers fire.
import { useCallback, useEffect, useRef, useState } from "react";

import { api, ApiError, errorText } from "../../api";
import { formatTime } from "../../components/ui";
import { TASK_TYPES } from "../catalog";
import { serialize } from "../graph/edit";
import type { Definition, Simulation, SimWait } from "../types";

interface Setup {
  data: Record<string, unknown> | null;
  start: string | null;
  moves: number | null;
  hold: string[];
  tasks: Record<string, Record<string, unknown>>;
  outcomes: Record<string, string>;
  http_fail: string[];
  messages: boolean;
}

const TIMER_WORDS: Record<string, string> = {
  sla_due: "due",
  sla_remind: "reminder",
  sla_escalate: "escalation",
  boundary: "timeout",
  timer: "timer",
};

interface Props {
  def: Definition;
  workflowKey: string;
  onRun: (sim: Simulation | null) => void;
  onClose: () => void;
  onPick: (node: string) => void;
}

export function TestRunPanel({ def, workflowKey, onRun, onClose, onPick }: Props) {
  const [setup, setSetup] = useState<Setup | null>(null);
  const [sim, setSim] = useState<Simulation | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [problems, setProblems] = useState<string[]>([]);
  const [dataText, setDataText] = useState("");
  const [dataError, setDataError] = useState<string | null>(null);
  const ticket = useRef(0);
  const defRef = useRef(def);
  defRef.current = def;

  const run = useCallback(
    async (next: Setup) => {
      const mine = ++ticket.current;
      setBusy(true);
      setError(null);
      setProblems([]);
      setSetup(next);
      try {
        const result = await api.post<Simulation>(`/api/workflows/${encodeURIComponent(workflowKey)}/simulate`, { ...next, definition: serialize(defRef.current) });
        if (mine !== ticket.current) return;
        setSim(result);
        onRun(result);
        setSetup({ ...next, start: result.start, data: result.start_data, moves: result.moves });
        if (!dataText) setDataText(JSON.stringify(result.start_data, null, 2));
      } catch (e) {
        if (mine !== ticket.current) return;
        setError(errorText(e));
        if (e instanceof ApiError && Array.isArray(e.details)) setProblems(e.details.map((p) => String((p as { message?: string }).message ?? p)).slice(0, 8));
      } finally {
        if (mine === ticket.current) setBusy(false);
      }
    },
    [workflowKey, onRun, dataText],
  );

  useEffect(() => () => onRun(null), [onRun]);

  const data = (): Record<string, unknown> | null => {
    if (!dataText.trim()) return null;
    try {
      const parsed: unknown = JSON.parse(dataText);
      setDataError(null);
      return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
    } catch {
      setDataError("The start data is not valid JSON.");
      throw new Error("bad data");
    }
  };

  const begin = (toEnd: boolean) => {
    let start: Record<string, unknown> | null;
    try {
      start = data();
    } catch {
      return;
    }
    const hold = toEnd ? [] : def.nodes.filter((n) => TASK_TYPES.has(n.type)).map((n) => n.id);
    void run({ data: start, start: null, moves: toEnd ? null : 0, hold, tasks: {}, outcomes: {}, http_fail: setup?.http_fail ?? [], messages: setup?.messages ?? true });
  };

  const step = () => setup && void run({ ...setup, moves: (setup.moves ?? 0) + 1 });
  const toEnd = () => setup && void run({ ...setup, moves: null, hold: [] });
  const complete = (wait: SimWait, values: Record<string, unknown>, outcome: string | null) => {
    if (!setup) return;
    void run({
      ...setup,
      moves: (setup.moves ?? 0) + 1,
      hold: setup.hold.filter((h) => h !== wait.node),
      tasks: { ...setup.tasks, [wait.node]: values },
      outcomes: outcome ? { ...setup.outcomes, [wait.node]: outcome } : setup.outcomes,
    });
  };
  const toggleFail = (node: string, fail: boolean) => setup && void run({ ...setup, http_fail: fail ? [...setup.http_fail, node] : setup.http_fail.filter((n) => n !== node) });
  const reset = () => {
    ticket.current++;
    setSim(null);
    setSetup(null);
    setError(null);
    onRun(null);
  };

  const names = new Map(def.nodes.map((n) => [n.id, n.name || n.id]));
  const allHeld = sim && sim.waiting.length > 0 && sim.waiting.every((w) => isTask(w) && setup?.hold.includes(w.node));

  return (
    <div className="wf-props wf-testrun" data-testid="test-run">
      <header className="wf-props-head">
        <div>
          <div className="wf-props-kind">Sandbox — nothing is stored</div>
          <h2 className="wf-props-title">Test run</h2>
        </div>
        <button type="button" className="link" onClick={onClose}>
          Close
        </button>
      </header>
      {!sim && (
        <>
          <p className="hint">Simulates this draft with sample data: systems answer with sample responses, and you act for the people.</p>
          <label className="wf-field">
            <span>Start data (JSON; empty: generated from the data schema)</span>
            <textarea className="mono" rows={6} value={dataText} onChange={(e) => setDataText(e.target.value)} placeholder="{}" />
          </label>
          {dataError && <p className="wf-inline-error">{dataError}</p>}
          <label className="wf-check">
            <input type="checkbox" checked={setup?.messages ?? true} onChange={(e) => setSetup({ ...(setup ?? { data: null, start: null, moves: 0, hold: [], tasks: {}, outcomes: {}, http_fail: [] }), messages: e.target.checked })} />
            <span>Awaited messages arrive (off: their timeouts decide)</span>
          </label>
          <div className="row">
            <button type="button" className="primary" disabled={busy} onClick={() => begin(false)}>
              Start step by step
            </button>
            <button type="button" disabled={busy} onClick={() => begin(true)}>
              Run to the end
            </button>
          </div>
        </>
      )}
      {error && (
        <div className="error-note" role="alert">
          {error}
          {problems.length > 0 && (
            <ul>
              {problems.map((p, i) => (
                <li key={i}>{p}</li>
              ))}
            </ul>
          )}
        </div>
      )}
      {sim && (
        <>
          <div className="wf-run-status" data-testid="run-status" data-status={sim.status} data-finished={String(sim.finished)}>
            <span className={`badge ${sim.status === "completed" ? "ok" : sim.incidents.length ? "bad" : "brand"}`}>{sim.status}</span>
            {sim.stage && <span className="badge">stage: {sim.stage}</span>}
            <span className="hint">
              {sim.moves} moves · {formatTime(sim.now)}
            </span>
          </div>
          <div className="row">
            <button type="button" className="primary" disabled={busy || sim.finished} onClick={step} title={allHeld ? "Nothing but your tasks is left: the next move fires the next timer" : undefined}>
              {allHeld ? "Next move (fire next timer)" : "Next move"}
            </button>
            <button type="button" disabled={busy || sim.finished} onClick={toEnd}>
              Run to the end
            </button>
            <button type="button" className="link" onClick={reset}>
              Restart
            </button>
          </div>
          {sim.incidents.length > 0 && (
            <div className="error-note" role="alert">
              {sim.incidents.map((i, n) => (
                <div key={n}>
                  <strong>{names.get(i.node ?? "") ?? i.node}</strong>: {i.message}
                </div>
              ))}
            </div>
          )}
          {sim.waiting.length > 0 && <h3>Waiting now</h3>}
          {sim.waiting.map((w) => (
            <WaitCard key={`${w.node}-${w.task_id}`} wait={w} held={!!setup?.hold.includes(w.node)} failing={!!setup?.http_fail.includes(w.node)} busy={busy} onComplete={complete} onFail={toggleFail} onPick={onPick} />
          ))}
          {sim.finished && sim.status === "running" && sim.waiting.length === 0 && <p className="hint">Nothing more happens: the run is stuck (see the problems).</p>}
          <h3>Path taken</h3>
          <ol className="wf-run-path" data-testid="run-path">
            {sim.path.map((p, i) => (
              <li key={i} className={sim.current.includes(p.node) && i === sim.path.map((x) => x.node).lastIndexOf(p.node) ? "current" : undefined}>
                <button type="button" className="link" onClick={() => onPick(p.node)}>
                  {names.get(p.node) ?? p.node}
                </button>
                <span className="hint"> {formatTime(p.at)}</span>
              </li>
            ))}
          </ol>
          <details>
            <summary>Data now</summary>
            <pre className="wf-json">{JSON.stringify(sim.data, null, 2)}</pre>
          </details>
        </>
      )}
    </div>
  );
}

function isTask(wait: SimWait): boolean {
  return wait.kind === "task" || wait.kind === "approval";
}

function WaitCard({ wait, held, failing, busy, onComplete, onFail, onPick }: { wait: SimWait; held: boolean; failing: boolean; busy: boolean; onComplete: (w: SimWait, values: Record<string, unknown>, outcome: string | null) => void; onFail: (node: string, fail: boolean) => void; onPick: (node: string) => void }) {
  const [text, setText] = useState(() => JSON.stringify(wait.sample ?? {}, null, 2));
  const [outcome, setOutcome] = useState(wait.outcomes[0] ?? "");
  const [bad, setBad] = useState(false);
  return (
    <div className="wf-wait card" data-testid={`wait-${wait.node}`}>
      <div className="wf-escalation-head">
        <button type="button" className="link" onClick={() => onPick(wait.node)}>
          <strong>{wait.name}</strong>
        </button>
        <span className="badge">{wait.kind}</span>
      </div>
      {isTask(wait) && held && (
        <>
          <label className="wf-field">
            <span>Form data</span>
            <textarea className="mono" rows={Math.min(8, text.split("\n").length + 1)} value={text} onChange={(e) => setText(e.target.value)} />
          </label>
          {wait.outcomes.length > 0 && (
            <label className="wf-field">
              <span>Outcome</span>
              <select value={outcome} onChange={(e) => setOutcome(e.target.value)}>
                {wait.outcomes.map((o) => (
                  <option key={o} value={o}>
                    {o}
                  </option>
                ))}
              </select>
            </label>
          )}
          {bad && <p className="wf-inline-error">The form data is not valid JSON.</p>}
          <button
            type="button"
            className="primary"
            disabled={busy}
            onClick={() => {
              try {
                const values = JSON.parse(text || "{}") as Record<string, unknown>;
                setBad(false);
                onComplete(wait, values, wait.outcomes.length ? outcome : null);
              } catch {
                setBad(true);
              }
            }}
          >
            Complete task
          </button>
        </>
      )}
      {wait.type === "http" && (
        <label className="wf-check">
          <input type="checkbox" checked={failing} disabled={busy} onChange={(e) => onFail(wait.node, e.target.checked)} />
          <span>Make this call fail</span>
        </label>
      )}
      {wait.timers.length > 0 && (
        <ul className="wf-timers">
          {wait.timers.map((t, i) => (
            <li key={i} className="hint">
              {TIMER_WORDS[t.purpose] ?? t.purpose} at {formatTime(t.at)}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
