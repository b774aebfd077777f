// Dead letters: signed webhook deliveries that could not start an instance; replay once fixed.
import { useState } from "react";
import { Link } from "react-router-dom";

import { api, type Page } from "../../api";
import { Empty, ErrorNote, formatTime, PageHeader, Spinner } from "../../components/ui";
import { useLoad } from "../../components/useLoad";
import { Dialog, Section, useAction } from "./common";

interface DeadLetter {
  id: string;
  workflow: string;
  idempotency_key: string | null;
  status: "failed" | "replayed" | string;
  error: { code: string; message: string; details?: unknown };
  attempts: number;
  received_at: string;
  last_attempt_at: string;
  instance_id: string | null;
  replayed_at: string | null;
  replayed_by: string | null;
}

interface DeadLetterDetail extends DeadLetter {
  payload: unknown;
  headers: Record<string, unknown>;
  query: Record<string, unknown>;
}

const LIMIT = 50;

function Detail({ id, onClose }: { id: string; onClose: () => void }) {
  const letter = useLoad(() => api.get<DeadLetterDetail>(`/api/admin/dead-letters/${encodeURIComponent(id)}`), [id]);
  const d = letter.data;
  return (
    <Dialog title="Delivery as received" onClose={onClose}>
      <ErrorNote error={letter.error} />
      {!d ? (
        <Spinner />
      ) : (
        <div className="stack">
          <dl className="facts">
            <dt>Workflow</dt>
            <dd className="mono">{d.workflow}</dd>
            <dt>Error</dt>
            <dd>
              <span className="badge bad">{d.error.code}</span> {d.error.message}
            </dd>
            <dt>Attempts</dt>
            <dd>{d.attempts}</dd>
          </dl>
          <label>
            Body
            <textarea readOnly className="mono" rows={8} value={JSON.stringify(d.payload, null, 2)} />
          </label>
          <label>
            Headers
            <textarea readOnly className="mono" rows={5} value={JSON.stringify(d.headers, null, 2)} />
          </label>
        </div>
      )}
    </Dialog>
  );
}

export default function DeadLetters() {
  const [status, setStatus] = useState<"failed" | "replayed" | "discarded" | "">("failed");
  const [offset, setOffset] = useState(0);
  const letters = useLoad(() => api.get<Page<DeadLetter>>("/api/admin/dead-letters", { status, offset, limit: LIMIT }), [status, offset]);
  const [open, setOpen] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const action = useAction();

  const replay = (letter: DeadLetter) =>
    action.run(async () => {
      setDone(null);
      try {
        const out = await api.post<DeadLetter>(`/api/admin/dead-letters/${encodeURIComponent(letter.id)}/replay`);
        setDone(out.instance_id ? `Replayed: instance ${out.instance_id} started.` : "Replayed.");
      } finally {
        letters.reload();
      }
    });

  const discard = (letter: DeadLetter) =>
    action.run(async () => {
      setDone(null);
      if (!window.confirm(`Set aside the ${letter.workflow} delivery of ${formatTime(letter.received_at)}? It stays on record and can still be replayed.`)) return;
      try {
        await api.post<DeadLetter>(`/api/admin/dead-letters/${encodeURIComponent(letter.id)}/discard`);
        setDone("Set aside: it no longer waits to be replayed.");
      } finally {
        letters.reload();
      }
    });

  const page = letters.data;
  const replayError = action.error;
  return (
    <div>
      <PageHeader title="Dead letters">
        <label className="check">
          Show
          <select
            aria-label="Which deliveries"
            value={status}
            onChange={(e) => {
              setStatus(e.target.value as typeof status);
              setOffset(0);
            }}
          >
            <option value="failed">still failing</option>
            <option value="replayed">replayed</option>
            <option value="discarded">set aside</option>
            <option value="">all</option>
          </select>
        </label>
      </PageHeader>
      {done && (
        <div className="ok-note" role="status">
          {done}
        </div>
      )}
      <ErrorNote error={replayError ?? letters.error} />
      <Section title="Deliveries that did not start an instance" hint="A signed webhook delivery is kept here when its workflow could not start from it (not published, a mapping or the data schema refused it). Fix the cause, then replay it; or set aside one nobody should replay (sent by mistake, a test).">
        {letters.loading && !page ? (
          <Spinner />
        ) : !page?.items.length ? (
          <Empty title={status === "failed" ? "No failed deliveries" : "No deliveries"}>Every webhook delivery started its instance.</Empty>
        ) : (
          <div className="table-wrap">
            <table aria-label="Dead letters">
              <thead>
                <tr>
                  <th>Received</th>
                  <th>Workflow</th>
                  <th>Why</th>
                  <th className="num">Attempts</th>
                  <th>Status</th>
                  <th>
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {page.items.map((l) => (
                  <tr key={l.id}>
                    <td className="hint">{formatTime(l.received_at)}</td>
                    <td className="mono">{l.workflow}</td>
                    <td className="incident-message">
                      <span className="badge bad">{l.error.code}</span> {l.error.message}
                    </td>
                    <td className="num">{l.attempts}</td>
                    <td>
                      {l.status === "replayed" ? (
                        <span className="badge ok">
                          replayed {l.instance_id && <Link to={`/instances/${encodeURIComponent(l.instance_id)}`}>instance</Link>}
                        </span>
                      ) : l.status === "discarded" ? (
                        <span className="badge">set aside</span>
                      ) : (
                        <span className="badge warn">failed</span>
                      )}
                    </td>
                    <td className="actions">
                      <button type="button" onClick={() => setOpen(l.id)}>
                        View
                      </button>
                      {l.status !== "replayed" && (
                        <button type="button" className="primary" disabled={action.busy} onClick={() => replay(l)}>
                          Replay
                        </button>
                      )}
                      {l.status === "failed" && (
                        <button type="button" disabled={action.busy} onClick={() => discard(l)}>
                          Set aside
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {page && page.total > LIMIT && (
          <div className="row" style={{ marginTop: "0.5rem" }}>
            <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - LIMIT))}>
              Newer
            </button>
            <span className="hint">
              {offset + 1}–{Math.min(offset + LIMIT, page.total)} of {page.total}
            </span>
            <button type="button" disabled={offset + LIMIT >= page.total} onClick={() => setOffset(offset + LIMIT)}>
              Older
            </button>
          </div>
        )}
      </Section>
      {open && <Detail id={open} onClose={() => setOpen(null)} />}
    </div>
  );
}

