// Outbound secrets: the names http steps and channels use, whether each is set on the server,
// and which published steps need it. Values never reach the browser: they live in the
// server's environment (STEPWISE_SECRET_<NAME>), not in the database.
import { Link } from "react-router-dom";

import { api } from "../../api";
import { Empty, ErrorNote, PageHeader, Spinner } from "../../components/ui";
import { useLoad } from "../../components/useLoad";
import { CopyButton, Section } from "./common";

interface SecretUse {
  workflow: string;
  version: number;
  node: string;
  how: string;
}

interface OutboundSecret {
  name: string;
  is_set: boolean;
  purpose: string | null;
  used_by: SecretUse[];
}

const HOW: Record<string, string> = { http: "HTTP call", slack: "Slack", teams: "Teams" };

export default function OutboundSecrets() {
  const secrets = useLoad(() => api.get<OutboundSecret[]>("/api/admin/secrets"), []);
  const missing = (secrets.data ?? []).filter((s) => !s.is_set && s.used_by.length > 0);
  return (
    <div>
      <PageHeader title="Outbound secrets" />
      <Section
        title="Keys for the systems Stepwise calls"
        hint={
          <>
            A step names a secret (an HTTP call's <em>secret</em>, a notification to <span className="mono">slack:&lt;name&gt;</span>); the server sends its value, which never
            enters a workflow, an instance or this page. Set one by starting the server with <span className="mono">STEPWISE_SECRET_&lt;NAME&gt;</span>, then restart it.
          </>
        }
      >
        <ErrorNote error={secrets.error} />
        {missing.length > 0 && (
          <p className="badge warn secrets-missing" role="status">
            {missing.length === 1 ? "One secret a published step needs is" : `${missing.length} secrets published steps need are`} not set on this server: {missing.map((s) => s.name).join(", ")}.
            Those steps fail (an incident) until it is.
          </p>
        )}
        {secrets.loading && !secrets.data ? (
          <Spinner />
        ) : !secrets.data?.length ? (
          <Empty title="No secrets">No step names one, and none is set on the server.</Empty>
        ) : (
          <div className="table-wrap">
            <table aria-label="Outbound secrets">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>On this server</th>
                  <th>Used by</th>
                  <th>Variable</th>
                </tr>
              </thead>
              <tbody>
                {secrets.data.map((s) => {
                  const variable = `STEPWISE_SECRET_${s.name.toUpperCase()}`;
                  return (
                    <tr key={s.name} data-secret={s.name}>
                      <td>
                        <strong className="mono">{s.name}</strong>
                        {s.purpose && <div className="hint">{s.purpose}</div>}
                      </td>
                      <td>{s.is_set ? <span className="badge ok">set</span> : <span className={`badge ${s.used_by.length ? "bad" : ""}`}>not set</span>}</td>
                      <td>
                        {s.used_by.length === 0 ? (
                          <span className="hint">no published step</span>
                        ) : (
                          <ul className="secret-uses">
                            {s.used_by.map((u) => (
                              <li key={`${u.workflow}:${u.node}`}>
                                <Link to={`/designer/${encodeURIComponent(u.workflow)}`}>{u.workflow}</Link> v{u.version} · step <span className="mono">{u.node}</span> ({HOW[u.how] ?? u.how})
                              </li>
                            ))}
                          </ul>
                        )}
                      </td>
                      <td>
                        <span className="mono">{variable}</span> <CopyButton text={variable} what={`the variable name ${variable}`} />
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </Section>
    </div>
  );
}
