// What the property forms share: the definition, how to change it, and the directory of names.
import { createContext, useContext } from "react";

import type { Definition, Issue } from "../types";

export interface Directory {
  users: string[] | null;
  roles: string[];
  calendars: string[];
  tables: string[];
  workflows: string[];
}

export interface Editor {
  def: Definition;
  readOnly: boolean;
  me: string;
  directory: Directory;
  issues: Issue[];
  fields: string[];
  updateNode: (id: string, patch: Record<string, unknown>, field: string) => void;
  updateEdge: (id: string, patch: Record<string, unknown>, field: string) => void;
  commit: (update: (def: Definition) => Definition, coalesce?: string) => void;
  select: (target: { node?: string | null; edge?: string | null }) => void;
  /** A text field holds what does not parse yet (`pending`), or no longer: publishing waits. */
  unparsed: (field: string, pending: boolean) => void;
}

export const EditorContext = createContext<Editor | null>(null);

export function useEditor(): Editor {
  const editor = useContext(EditorContext);
  if (!editor) throw new Error("useEditor outside the designer");
  return editor;
}
