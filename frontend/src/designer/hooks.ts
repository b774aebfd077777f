// The designer's conversations with the API: names to pick from, live validation of the draft,
// saving (by hand and automatically) with the draft's revision.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";

import { api, ApiError, errorText, type Problem, type WorkflowOut, type WorkflowSummary } from "../api";
import { serialize } from "./graph/edit";
import type { History } from "./history";
import type { Directory } from "./panels/context";
import type { SaveState } from "./Toolbar";
import type { Definition, Issue } from "./types";

/** Users (admins only — others type names), roles, calendars, tables and published workflows. */
export function useDirectory(admin: boolean): Directory {
  const [dir, setDir] = useState<Directory>({ users: null, roles: [], calendars: [], tables: [], workflows: [] });
  useEffect(() => {
    let live = true;
    const names = <T,>(path: string, pick: (x: T) => string | null): Promise<string[] | null> =>
      api
        .get<T[]>(path)
        .then((xs) => xs.map(pick).filter((x): x is string => !!x))
        .catch((e: unknown) => {
          if (!(e instanceof ApiError && (e.status === 403 || e.status === 404))) console.warn(path, errorText(e));
          return null;
        });
    void Promise.all([
      // only admins may list users: others are not sent to be refused (a console error each time)
      admin ? names<{ username: string; is_active?: boolean }>("/api/admin/users", (u) => (u.is_active === false ? null : u.username)) : Promise.resolve(null),
      names<{ name: string }>("/api/admin/roles", (r) => r.name),
      names<{ name: string }>("/api/calendars", (c) => c.name),
      names<{ name: string }>("/api/tables", (t) => t.name),
      names<WorkflowSummary>("/api/workflows", (w) => (w.published_version ? w.key : null)),
    ]).then(([users, roles, calendars, tables, workflows]) => {
      if (live) setDir({ users, roles: roles ?? [], calendars: calendars ?? [], tables: tables ?? [], workflows: workflows ?? [] });
    });
    return () => {
      live = false;
    };
  }, [admin]);
  return dir;
}

const VALIDATE_DELAY_MS = 400;

/** Server validation of the current draft body, ~400 ms after the last edit; newer answers win. */
export function useValidation(def: Definition, enabled: boolean): { issues: Issue[]; checking: boolean; error: string | null } {
  const [problems, setProblems] = useState<Problem[]>([]);
  const [checking, setChecking] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ticket = useRef(0);
  useEffect(() => {
    if (!enabled) return;
    setChecking(true);
    const mine = ++ticket.current;
    const timer = window.setTimeout(() => {
      api
        .post<{ valid: boolean; problems: Problem[] }>("/api/workflows/validate", { definition: serialize(def) })
        .then((out) => {
          if (mine !== ticket.current) return;
          setProblems(out.problems);
          setError(null);
        })
        .catch((e: unknown) => mine === ticket.current && setError(errorText(e)))
        .finally(() => mine === ticket.current && setChecking(false));
    }, VALIDATE_DELAY_MS);
    return () => window.clearTimeout(timer);
  }, [def, enabled]);
  const issues = useMemo(
    () =>
      problems.map<Issue>((p) => ({
        code: p.code,
        message: p.message,
        node: p.node,
        edge: p.edge,
        field: p.field,
        severity: p.severity === "error" ? "error" : "warning",
        source: "server",
      })),
    [problems],
  );
  return { issues, checking, error };
}

const AUTOSAVE_MS = 2000;

interface Saving {
  history: History;
  def: Definition;
  /** The definition as loaded: saved already. */
  loaded: Definition;
  revision: number | null;
  readOnly: boolean;
  workflowKey: string;
  onSaved: (out: WorkflowOut) => void;
}

/** Save the draft with its revision (a 409 means someone else saved: say so, never overwrite
 * silently), automatically ~2 s after the last edit, and warn before leaving unsaved work. */
export function useDraftSaving({ history, def, loaded, revision: initial, readOnly, workflowKey, onSaved }: Saving) {
  const [saved, setSaved] = useState<Definition>(loaded);
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<{ conflict: boolean; text: string } | null>(null);
  const revision = useRef(initial);
  const dirty = !readOnly && def !== saved;
  const saveState: SaveState = saving ? "saving" : saveError?.conflict ? "conflict" : saveError ? "error" : dirty ? "dirty" : "saved";
  const path = `/api/workflows/${encodeURIComponent(workflowKey)}`;

  const save = useCallback(
    async (force = false): Promise<boolean> => {
      const sending = history.present;
      if (readOnly || (sending === saved && !force)) return true;
      setSaving(true);
      try {
        const out = await api.put<WorkflowOut>(`${path}/draft`, { draft: serialize(sending), revision: revision.current });
        revision.current = out.draft_revision;
        onSaved(out);
        setSaved(sending);
        setSaveError(null);
        return true;
      } catch (e) {
        setSaveError({ conflict: e instanceof ApiError && e.status === 409, text: errorText(e) });
        return false;
      } finally {
        setSaving(false);
      }
    },
    [history, readOnly, saved, path, onSaved],
  );

  useEffect(() => {
    if (!dirty || saving || saveError?.conflict) return;
    const timer = window.setTimeout(() => void save(), AUTOSAVE_MS);
    return () => window.clearTimeout(timer);
  }, [def, dirty, saving, saveError, save]);

  // Leaving the designer inside the app (a link in the top bar) unmounts it before the
  // autosave's timer fires: send what is unsaved then, so that no edit is lost on the way out.
  const leaving = useRef({ unsaved: false, send: () => undefined as unknown });
  leaving.current = {
    unsaved: dirty && !saving && !saveError?.conflict,
    send: () => api.put<WorkflowOut>(`${path}/draft`, { draft: serialize(history.present), revision: revision.current }),
  };
  useEffect(
    () => () => {
      if (leaving.current.unsaved) void Promise.resolve(leaving.current.send()).catch(() => undefined);
    },
    [],
  );

  useEffect(() => {
    if (!dirty) return;
    const warn = (e: BeforeUnloadEvent) => {
      e.preventDefault();
      e.returnValue = "";
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);

  /** Keep this draft: save it over the one someone else saved. */
  const overwrite = useCallback(async () => {
    const current = await api.get<WorkflowOut>(path);
    revision.current = current.draft_revision;
    setSaveError(null);
    await save(true);
  }, [path, save]);

  return { saveState, saveError, save, overwrite };
}
