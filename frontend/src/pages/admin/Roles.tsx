// Roles: what each is for, who has it; create and delete (built-in permission levels stay).
import { useState, type FormEvent } from "react";

import { api } from "../../api";
import { Empty, ErrorNote, PageHeader, Spinner } from "../../components/ui";
import { useLoad } from "../../components/useLoad";
import { Section, useAction } from "./common";
import type { User } from "./Users";

export interface Role {
  name: string;
  description: string;
  members: number;
  builtin: boolean;
}

export default function Roles() {
  const roles = useLoad(() => api.get<Role[]>("/api/admin/roles"), []);
  const users = useLoad(() => api.get<User[]>("/api/admin/users"), []);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const create = useAction();
  const remove = useAction();

  async function submit(event: FormEvent) {
    event.preventDefault();
    const ok = await create.run(async () => {
      await api.post("/api/admin/roles", { name: name.trim(), description: description.trim() });
    });
    if (ok) {
      setName("");
      setDescription("");
      roles.reload();
    }
  }

  const del = (role: Role) =>
    remove.run(async () => {
      if (!window.confirm(`Delete the role ${role.name}? ${role.members} member(s) lose it.`)) return;
      await api.delete(`/api/admin/roles/${encodeURIComponent(role.name)}`);
      roles.reload();
      users.reload();
    });

  const membersOf = (role: string) => (users.data ?? []).filter((u) => u.is_active && u.roles.includes(role)).map((u) => u.username);

  return (
    <div>
      <PageHeader title="Roles" />
      <Section title="New role" hint="Workflows offer tasks to roles (a pool anyone in it can claim). Give people roles on the Users page.">
        <form className="card admin-form" aria-label="Create a role" onSubmit={submit} onChange={() => create.error && create.setError(null)}>
          <label>
            Name
            <input required value={name} onChange={(e) => setName(e.target.value.toLowerCase())} pattern="[a-z][a-z0-9_.\-]*" maxLength={100} title="lower-case letters, digits, . _ -, starting with a letter" placeholder="e.g. returns" />
          </label>
          <label className="wide">
            What it is for
            <input value={description} onChange={(e) => setDescription(e.target.value)} maxLength={500} />
          </label>
          <div className="form-actions">
            <button type="submit" className="primary" disabled={create.busy || !name.trim()}>
              Create role
            </button>
          </div>
          <div className="wide">
            <ErrorNote error={create.error} />
          </div>
        </form>
      </Section>
      <ErrorNote error={remove.error ?? roles.error} />
      <Section title="All roles">
        {roles.loading && !roles.data ? (
          <Spinner />
        ) : !roles.data?.length ? (
          <Empty title="No roles yet">Create the first one above.</Empty>
        ) : (
          <div className="table-wrap">
            <table aria-label="Roles">
              <thead>
                <tr>
                  <th>Role</th>
                  <th>What it is for</th>
                  <th className="num">Members</th>
                  <th>Who</th>
                  <th>
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {roles.data.map((role) => (
                  <tr key={role.name} data-role={role.name}>
                    <td>
                      <strong className="mono">{role.name}</strong> {role.builtin && <span className="badge brand">built in</span>}
                    </td>
                    <td>{role.description || <span className="hint">—</span>}</td>
                    <td className="num">{role.members}</td>
                    <td className="hint">{membersOf(role.name).join(", ") || "nobody"}</td>
                    <td className="actions">
                      {!role.builtin && (
                        <button type="button" className="danger" disabled={remove.busy} onClick={() => del(role)} aria-label={`Delete role ${role.name}`}>
                          Delete
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
