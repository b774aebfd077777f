// API tokens for other systems: made for a user with scopes, shown once, revocable.
import { useState, type FormEvent } from "react";

import { api } from "../../api";
import { Empty, ErrorNote, formatTime, PageHeader, Spinner } from "../../components/ui";
import { useLoad } from "../../components/useLoad";
import { CopyField, Section, ShownOnce, useAction } from "./common";
import type { User } from "./Users";

interface Token {
  id: string;
  name: string;
  prefix: string;
  user: string;
  scopes: string[];
  created_at: string;
  created_by: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

interface TokenCreated extends Token {
  token: string;
}

const SCOPES = [
  { value: "read", label: "read (GET)" },
  { value: "write", label: "write (everything else)" },
];

export default function Tokens() {
  const tokens = useLoad(() => api.get<Token[]>("/api/admin/tokens"), []);
  const users = useLoad(() => api.get<User[]>("/api/admin/users"), []);
  const [name, setName] = useState("");
  const [user, setUser] = useState("");
  const [scopes, setScopes] = useState<string[]>(["read"]);
  const [made, setMade] = useState<TokenCreated | null>(null);
  const [showRevoked, setShowRevoked] = useState(false);
  const create = useAction();
  const revoke = useAction();

  async function submit(event: FormEvent) {
    event.preventDefault();
    const ok = await create.run(async () => {
      setMade(await api.post<TokenCreated>("/api/admin/tokens", { name: name.trim(), user, scopes }));
    });
    if (ok) {
      setName("");
      tokens.reload();
    }
  }

  const doRevoke = (token: Token) =>
    revoke.run(async () => {
      if (!window.confirm(`Revoke the token "${token.name}"? Systems using it are refused from now on.`)) return;
      await api.delete(`/api/admin/tokens/${encodeURIComponent(token.id)}`);
      tokens.reload();
    });

  const list = (tokens.data ?? []).filter((t) => showRevoked || !t.revoked_at);
  const origin = window.location.origin;
  return (
    <div>
      <PageHeader title="API tokens" />
      {made && (
        <ShownOnce title={`Token "${made.name}" for ${made.user}`} onDone={() => setMade(null)}>
          <CopyField label="Token" value={made.token} />
          <CopyField label="Example request" value={`curl -H "Authorization: Bearer ${made.token}" ${origin}/api/me`} />
        </ShownOnce>
      )}
      <Section title="New token" hint="A token acts as the user it is made for, limited to its scopes. Send it as Authorization: Bearer <token>.">
        <form className="card admin-form" aria-label="Create an API token" onSubmit={submit} onChange={() => create.error && create.setError(null)}>
          <label>
            Name
            <input required value={name} onChange={(e) => setName(e.target.value)} maxLength={200} placeholder="e.g. Shop backend" />
          </label>
          <label>
            Acts as
            <select required value={user} onChange={(e) => setUser(e.target.value)}>
              <option value="">Choose a user…</option>
              {(users.data ?? [])
                .filter((u) => u.is_active)
                .map((u) => (
                  <option key={u.username} value={u.username}>
                    {u.display_name} ({u.username})
                  </option>
                ))}
            </select>
          </label>
          <fieldset>
            <legend>Scopes</legend>
            <div className="checks">
              {SCOPES.map((scope) => (
                <label key={scope.value} className="check">
                  <input
                    type="checkbox"
                    checked={scopes.includes(scope.value)}
                    onChange={(e) => setScopes(e.target.checked ? [...scopes, scope.value] : scopes.filter((s) => s !== scope.value))}
                  />
                  {scope.label}
                </label>
              ))}
            </div>
          </fieldset>
          <div className="form-actions">
            <button type="submit" className="primary" disabled={create.busy || !name.trim() || !user || scopes.length === 0}>
              Create token
            </button>
          </div>
          <div className="wide">
            <ErrorNote error={create.error} />
          </div>
        </form>
      </Section>
      <ErrorNote error={revoke.error ?? tokens.error} />
      <Section
        title="Tokens"
        actions={
          <label className="check">
            <input type="checkbox" checked={showRevoked} onChange={(e) => setShowRevoked(e.target.checked)} />
            Show revoked
          </label>
        }
      >
        {tokens.loading && !tokens.data ? (
          <Spinner />
        ) : list.length === 0 ? (
          <Empty title="No API tokens">Make one above when another system needs to call Stepwise.</Empty>
        ) : (
          <div className="table-wrap">
            <table aria-label="API tokens">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Starts with</th>
                  <th>Acts as</th>
                  <th>Scopes</th>
                  <th>Created</th>
                  <th>Last used</th>
                  <th>
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.map((t) => (
                  <tr key={t.id} className={t.revoked_at ? "inactive" : undefined}>
                    <td className="wrap-anywhere">
                      <strong>{t.name}</strong>
                    </td>
                    <td className="mono">{t.prefix}…</td>
                    <td>{t.user}</td>
                    <td>
                      <div className="badges">
                        {t.scopes.map((s) => (
                          <span key={s} className="badge">
                            {s}
                          </span>
                        ))}
                      </div>
                    </td>
                    <td className="hint">
                      {formatTime(t.created_at)}
                      {t.created_by ? ` by ${t.created_by}` : ""}
                    </td>
                    <td className="hint">{t.last_used_at ? formatTime(t.last_used_at) : "never"}</td>
                    <td className="actions">
                      {t.revoked_at ? (
                        <span className="badge bad">Revoked {formatTime(t.revoked_at)}</span>
                      ) : (
                        <button type="button" className="danger" disabled={revoke.busy} onClick={() => doRevoke(t)} aria-label={`Revoke token ${t.name}`}>
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
      </Section>
    </div>
  );
}
