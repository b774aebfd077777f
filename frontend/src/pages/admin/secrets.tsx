// Secrets of signed receivers (workflow webhooks, message hooks): shown once with a signed example.
import { useState } from "react";

import { api } from "../../api";
import { formatTime, ErrorNote } from "../../components/ui";
import { useLoad } from "../../components/useLoad";
import { CopyField, ShownOnce, useAction } from "./common";

export interface Secret {
  id: string;
  prefix: string;
  created_at: string;
  created_by: string | null;
  revoked_at: string | null;
  secret: string | null;
  example: Record<string, string> | null;
  /** The body the example signs (a workflow's: sample data where its mapping reads it). */
  example_body?: string | null;
}

export const SCHEMES: Record<string, string> = {
  generic: "X-Stepwise-Timestamp (unix seconds) and X-Stepwise-Signature: sha256=<hex HMAC-SHA256 of \"<timestamp>.<body>\">",
  github: "X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>",
  shopify: "X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>",
  stripe: "Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">",
};

export function curlExample(url: string, headers: Record<string, string>, body: string): string {
  const lines = [`curl -X POST '${url}'`, `  -H 'Content-Type: application/json'`, ...Object.entries(headers).map(([k, v]) => `  -H '${k}: ${v}'`), `  --data '${body}'`];
  return lines.join(" \\\n");
}

/** A signed receiver's secrets: list, make one (shown once, with a signed example), revoke. */
export function SecretsPanel({ base, name, url, scheme, exampleBody }: { base: string; name: string; url: string; scheme: string; exampleBody: string }) {
  const secrets = useLoad(() => api.get<Secret[]>(base), [base]);
  const [made, setMade] = useState<Secret | null>(null);
  const [showRevoked, setShowRevoked] = useState(false);
  const action = useAction();

  const create = () =>
    action.run(async () => {
      setMade(await api.post<Secret>(base));
      secrets.reload();
    });
  const revoke = (secret: Secret) =>
    action.run(async () => {
      if (!window.confirm(`Revoke the secret ${secret.prefix}…? Deliveries signed with it are refused from now on.`)) return;
      await api.delete(`${base}/${encodeURIComponent(secret.id)}`);
      secrets.reload();
    });

  const list = (secrets.data ?? []).filter((s) => showRevoked || !s.revoked_at);
  const live = (secrets.data ?? []).filter((s) => !s.revoked_at).length;
  return (
    <>
      {made?.secret && (
        <ShownOnce title={`New secret for ${name}`} onDone={() => setMade(null)}>
          <CopyField label="Secret" value={made.secret} />
          {made.example && (
            <>
              <CopyField label="Signature example" value={curlExample(url, made.example, made.example_body ?? exampleBody)} rows={Object.keys(made.example).length + 3} />
              <p className="hint">
                The example signs the body {made.example_body ?? exampleBody} at {formatTime(made.created_at)}
                {scheme === "generic" || scheme === "stripe" ? "; its timestamp is accepted for 5 minutes." : "."}
              </p>
            </>
          )}
        </ShownOnce>
      )}
      <ErrorNote error={action.error ?? secrets.error} />
      <div className="row" style={{ justifyContent: "space-between" }}>
        <strong>
          Secrets <span className="hint">({live} valid)</span>
        </strong>
        <div className="row">
          <label className="check">
            <input type="checkbox" checked={showRevoked} onChange={(e) => setShowRevoked(e.target.checked)} />
            Show revoked
          </label>
          <button type="button" className="primary" disabled={action.busy} onClick={create}>
            New secret
          </button>
        </div>
      </div>
      {list.length === 0 ? (
        <p className="hint">{live === 0 ? "No valid secret: every delivery is refused (401) until you make one." : "No revoked secrets."}</p>
      ) : (
        <div className="table-wrap">
          <table aria-label={`Secrets of ${name}`}>
            <thead>
              <tr>
                <th>Starts with</th>
                <th>Created</th>
                <th>Status</th>
                <th>
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((s) => (
                <tr key={s.id} className={s.revoked_at ? "inactive" : undefined}>
                  <td className="mono">{s.prefix}…</td>
                  <td className="hint">
                    {formatTime(s.created_at)}
                    {s.created_by ? ` by ${s.created_by}` : ""}
                  </td>
                  <td>{s.revoked_at ? <span className="badge bad">revoked {formatTime(s.revoked_at)}</span> : <span className="badge ok">valid</span>}</td>
                  <td className="actions">
                    {!s.revoked_at && (
                      <button type="button" className="danger" disabled={action.busy} onClick={() => revoke(s)} aria-label={`Revoke secret ${s.prefix}`}>
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {live > 1 && <p className="hint">Several secrets are valid: revoke the old one once the sender uses the new one.</p>}
    </>
  );
}

