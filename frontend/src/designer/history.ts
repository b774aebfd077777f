// One undo history of the whole definition: every edit — a move, a field, a paste, an import — is a step.
import { useSyncExternalStore } from "react";

import type { Definition } from "./types";

const LIMIT = 200;
/** Keystrokes in one field within this time make one step, not one step per character. */
const COALESCE_MS = 1200;

export interface HistoryState {
  past: Definition[];
  present: Definition;
  future: Definition[];
}

export interface CommitOptions {
  /** Edits with the same key in quick succession merge into one undo step (typing in a field). */
  coalesce?: string;
}

export class History {
  private state: HistoryState;
  private listeners = new Set<() => void>();
  private lastKey: string | null = null;
  private lastAt = 0;

  constructor(initial: Definition) {
    this.state = { past: [], present: initial, future: [] };
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  get = (): HistoryState => this.state;

  get present(): Definition {
    return this.state.present;
  }

  private set(next: HistoryState): void {
    this.state = next;
    for (const listener of this.listeners) listener();
  }

  commit(update: Definition | ((def: Definition) => Definition), options: CommitOptions = {}): void {
    const { past, present } = this.state;
    const next = typeof update === "function" ? update(present) : update;
    if (next === present) return;
    const now = Date.now();
    const merge = options.coalesce !== undefined && options.coalesce === this.lastKey && now - this.lastAt < COALESCE_MS && past.length > 0;
    this.lastKey = options.coalesce ?? null;
    this.lastAt = now;
    this.set({ past: merge ? past : [...past, present].slice(-LIMIT), present: next, future: [] });
  }

  /** Forget the history and start from `def` (a load, a reload after a conflict). */
  reset(def: Definition): void {
    this.lastKey = null;
    this.set({ past: [], present: def, future: [] });
  }

  /** Change the present without an undo step (e.g. the first layout of a graph that had none). */
  replacePresent(def: Definition): void {
    this.set({ ...this.state, present: def });
  }

  undo(): void {
    const { past, present, future } = this.state;
    const previous = past[past.length - 1];
    if (!previous) return;
    this.lastKey = null;
    this.set({ past: past.slice(0, -1), present: previous, future: [present, ...future] });
  }

  redo(): void {
    const { past, present, future } = this.state;
    const next = future[0];
    if (!next) return;
    this.lastKey = null;
    this.set({ past: [...past, present], present: next, future: future.slice(1) });
  }
}

export function useHistory(history: History): HistoryState {
  return useSyncExternalStore(history.subscribe, history.get);
}
