// People: create with roles (a generated password is shown once), change roles, deactivate, reset passwords.
import { useState, type FormEvent } from "react";

import { api } from "../../api";
import { useAuth } from "../../auth";
import { Empty, ErrorNote, PageHeader, Spinner } from "../../components/ui";
import { useLoad } from "../../components/useLoad";
import { CopyField, Dialog, formatDate, Section, ShownOnce, useAction } from "./common";
import type { Role } from "./Roles";

export interface User {
  id: string;
  username: string;
  display_name: string;
  email: string | null;
  phone: string | null;
  roles: string[];
  is_active: boolean;
  created_at: string;
}

interface Created extends User {
  password: string | null;
}

export function RolePicker({ roles, chosen, onChange, legend = "Roles" }: { roles: Role[]; chosen: string[]; onChange: (roles: string[]) => void; legend?: string }) {
  return (
    <fieldset className="wide">
      <legend>{legend}</legend>
      <div className="checks">
        {roles.map((role) => (
          <label key={role.name} className="check" title={role.description}>
            <input
              type="checkbox"
              checked={chosen.includes(role.name)}
              onChange={(e) => onChange(e.target.checked ? [...chosen, role.name] : chosen.filter((r) => r !== role.name))}
            />
            {role.name}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

function CreateUser({ roles, onCreated }: { roles: Role[]; onCreated: (user: Created) => void }) {
  const [username, setUsername] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [email, setEmail] = useState("");
  const [phone, setPhone] = useState("");
  const [chosen, setChosen] = useState<string[]>(["employee"]);
  const [password, setPassword] = useState("");
  const action = useAction();

  async function submit(event: FormEvent) {
    event.preventDefault();
    await action.run(async () => {
      const made = await api.post<Created>("/api/admin/users", {
        username: username.trim(),
        display_name: displayName.trim(),
        email: email.trim() || null,
        phone: phone.trim() || null,
        roles: chosen,
        password: password || null,
      });
      setUsername("");
      setDisplayName("");
      setEmail("");
      setPhone("");
      setPassword("");
      setChosen(["employee"]);
      onCreated(made);
    });
  }

  return (
    <form className="card admin-form" aria-label="Create a user" onSubmit={submit} onChange={() => action.error && action.setError(null)}>
      <label>
        Username
        <input required value={username} onChange={(e) => setUsername(e.target.value.toLowerCase())} pattern="[a-z0-9_.\-]{2,50}" title="2–50 lower-case letters, digits, . _ -" autoComplete="off" />
      </label>
      <label>
        Display name
        <input value={displayName} onChange={(e) => setDisplayName(e.target.value)} maxLength={200} />
      </label>
      <label>
        Email
        <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} />
      </label>
      <label>
        Phone
        <input type="tel" value={phone} onChange={(e) => setPhone(e.target.value)} placeholder="+49 151 …" />
      </label>
      <RolePicker roles={roles} chosen={chosen} onChange={setChosen} />
      <label>
        Password (optional)
        <input type="password" value={password} onChange={(e) => setPassword(e.target.value)} minLength={8} autoComplete="new-password" placeholder="leave empty to generate" />
      </label>
      <div className="form-actions">
        <button type="submit" className="primary" disabled={action.busy || !username.trim()}>
          Create user
        </button>
      </div>
      <div className="wide">
        <ErrorNote error={action.error} />
      </div>
    </form>
  );
}

function EditUser({ user, roles, self, onClose, onSaved }: { user: User; roles: Role[]; self: boolean; onClose: () => void; onSaved: () => void }) {
  const [displayName, setDisplayName] = useState(user.display_name);
  const [email, setEmail] = useState(user.email ?? "");
  const [phone, setPhone] = useState(user.phone ?? "");
  const [chosen, setChosen] = useState(user.roles);
  const action = useAction();

  async function submit(event: FormEvent) {
    event.preventDefault();
    const ok = await action.run(async () => {
      const changes: Record<string, unknown> = {};
      if ((displayName.trim() || user.username) !== user.display_name) changes.display_name = displayName.trim() || user.username;
      if ((email.trim() || null) !== user.email) changes.email = email.trim() || null;
      if ((phone.trim() || null) !== user.phone) changes.phone = phone.trim() || null;
      if ([...chosen].sort().join(",") !== [...user.roles].sort().join(",")) changes.roles = chosen;
      if (Object.keys(changes).length) await api.patch(`/api/admin/users/${encodeURIComponent(user.username)}`, changes);
    });
    if (ok) onSaved();
  }

  return (
    <Dialog title={`Edit ${user.username}`} onClose={onClose}>
      <form onSubmit={submit} onChange={() => action.error && action.setError(null)}>
        <label>
          Display name
          <input value={displayName} onChange={(e) => setDisplayName(e.target.value)} maxLength={200} />
        </label>
        <label>
          Email
          <input type="email" value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          Phone
          <input type="tel" value={phone} onChange={(e) => setPhone(e.target.value)} />
        </label>
        <RolePicker roles={roles} chosen={chosen} onChange={setChosen} />
        {self && <p className="hint">You cannot take away your own admin role.</p>}
        <ErrorNote error={action.error} />
        <div className="row">
          <button type="submit" className="primary" disabled={action.busy}>
            Save
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export default function Users() {
  const { me } = useAuth();
  const users = useLoad(() => api.get<User[]>("/api/admin/users"), []);
  const roles = useLoad(() => api.get<Role[]>("/api/admin/roles"), []);
  const [secret, setSecret] = useState<{ title: string; username: string; password: string } | null>(null);
  const [editing, setEditing] = useState<User | null>(null);
  const [filter, setFilter] = useState("");
  const [showInactive, setShowInactive] = useState(true);
  const action = useAction();

  const setActive = (user: User, active: boolean) =>
    action.run(async () => {
      if (!active && !window.confirm(`Deactivate ${user.username}? They are logged out everywhere and can no longer log in.`)) return;
      await api.patch(`/api/admin/users/${encodeURIComponent(user.username)}`, { is_active: active });
      users.reload();
    });

  const resetPassword = (user: User) =>
    action.run(async () => {
      if (!window.confirm(`Generate a new password for ${user.username}? Their other logins end.`)) return;
      const out = await api.post<{ username: string; password: string | null }>(`/api/admin/users/${encodeURIComponent(user.username)}/password`);
      if (out.password) setSecret({ title: `New password for ${user.username}`, username: user.username, password: out.password });
    });

  const needle = filter.trim().toLowerCase();
  const shown = (users.data ?? []).filter(
    (u) => (showInactive || u.is_active) && (!needle || `${u.username} ${u.display_name} ${u.email ?? ""} ${u.roles.join(" ")}`.toLowerCase().includes(needle)),
  );

  return (
    <div>
      <PageHeader title="Users">
        <input type="search" aria-label="Filter users" placeholder="Filter by name or role" value={filter} onChange={(e) => setFilter(e.target.value)} />
        <label className="check">
          <input type="checkbox" checked={showInactive} onChange={(e) => setShowInactive(e.target.checked)} />
          Show deactivated
        </label>
      </PageHeader>
      {secret && (
        <ShownOnce title={secret.title} onDone={() => setSecret(null)}>
          <CopyField label={`Password for ${secret.username}`} value={secret.password} />
        </ShownOnce>
      )}
      <Section title="Invite a user" hint="Leave the password empty and Stepwise generates one, shown once below for you to pass on.">
        <CreateUser
          roles={roles.data ?? []}
          onCreated={(made) => {
            if (made.password) setSecret({ title: `${made.username} was created`, username: made.username, password: made.password });
            users.reload();
            roles.reload();
          }}
        />
      </Section>
      <ErrorNote error={action.error ?? users.error ?? roles.error} />
      <Section title={`People (${shown.length})`}>
        {users.loading && !users.data ? (
          <Spinner />
        ) : shown.length === 0 ? (
          <Empty title={needle ? "Nobody matches" : "No users yet"}>{needle ? "Try another name or role." : "Create the first one above."}</Empty>
        ) : (
          <div className="table-wrap">
            <table aria-label="Users">
              <thead>
                <tr>
                  <th>User</th>
                  <th>Email</th>
                  <th>Roles</th>
                  <th>Status</th>
                  <th>Created</th>
                  <th>
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {shown.map((u) => (
                  <tr key={u.id} data-username={u.username} className={u.is_active ? undefined : "inactive"}>
                    <td>
                      <strong>{u.display_name}</strong>
                      <div className="hint mono">{u.username}</div>
                    </td>
                    <td className="break-word">{u.email ?? "—"}</td>
                    <td>
                      <div className="badges">
                        {u.roles.length ? u.roles.map((r) => <span key={r} className={r === "admin" ? "badge brand" : "badge"}>{r}</span>) : <span className="hint">no roles</span>}
                      </div>
                    </td>
                    <td>{u.is_active ? <span className="badge ok">Active</span> : <span className="badge bad">Deactivated</span>}</td>
                    <td className="hint nowrap">{formatDate(u.created_at)}</td>
                    <td className="actions">
                      <button type="button" onClick={() => setEditing(u)} aria-label={`Edit ${u.username}`}>
                        Edit
                      </button>
                      <button type="button" onClick={() => resetPassword(u)} disabled={action.busy} aria-label={`Reset password of ${u.username}`}>
                        Reset password
                      </button>
                      {u.is_active ? (
                        <button type="button" className="danger" disabled={action.busy || u.username === me?.username} onClick={() => setActive(u, false)} aria-label={`Deactivate ${u.username}`}>
                          Deactivate
                        </button>
                      ) : (
                        <button type="button" disabled={action.busy} onClick={() => setActive(u, true)} aria-label={`Activate ${u.username}`}>
                          Activate
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
      {editing && (
        <EditUser
          user={editing}
          roles={roles.data ?? []}
          self={editing.username === me?.username}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            users.reload();
            roles.reload();
          }}
        />
      )}
    </div>
  );
}
