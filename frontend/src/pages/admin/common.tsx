// Pieces every admin page uses: an action runner, secrets shown once, copy fields, dialogs.
import { useCallback, useEffect, useId, useRef, useState, type ReactNode } from "react";

import { errorText } from "../../api";

export interface Action {
  busy: boolean;
  error: string | null;
  setError: (error: string | null) => void;
  /** Run `work`, showing its error (if any) and disabling buttons meanwhile. True when it worked. */
  run: (work: () => Promise<void>) => Promise<boolean>;
}

export function useAction(): Action {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = useCallback(async (work: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await work();
      return true;
    } catch (e) {
      setError(errorText(e));
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, setError, run };
}

/** Put text on the clipboard; falls back to a selected textarea where the Clipboard API is refused. */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    const done = document.execCommand("copy");
    area.remove();
    return done;
  }
}

export function CopyButton({ text, label = "Copy", what }: { text: string; label?: string; what?: string }) {
  const [state, setState] = useState<"idle" | "copied" | "failed">("idle");
  useEffect(() => {
    if (state === "idle") return;
    const timer = window.setTimeout(() => setState("idle"), 2500);
    return () => window.clearTimeout(timer);
  }, [state]);
  return (
    <button
      type="button"
      aria-label={what ? `Copy ${what}` : undefined}
      onClick={async () => setState((await copyText(text)) ? "copied" : "failed")}
    >
      {state === "copied" ? "Copied ✓" : state === "failed" ? "Select and copy" : label}
    </button>
  );
}

/** A read-only value with a copy button; multi-line values get a text area. */
export function CopyField({ label, value, rows }: { label: string; value: string; rows?: number }) {
  const id = useId();
  return (
    <div className="copy-field">
      <label htmlFor={id}>{label}</label>
      <span className="copy-row">
        {rows ? (
          <textarea id={id} readOnly value={value} rows={rows} spellCheck={false} onFocus={(e) => e.currentTarget.select()} />
        ) : (
          <input id={id} readOnly value={value} spellCheck={false} onFocus={(e) => e.currentTarget.select()} />
        )}
        <CopyButton text={value} what={label.toLowerCase()} />
      </span>
    </div>
  );
}

/** A secret (password, token, signing secret) that the service shows this once. */
export function ShownOnce({ title, onDone, children }: { title: string; onDone: () => void; children: ReactNode }) {
  const ref = useRef<HTMLElement>(null);
  useEffect(() => ref.current?.focus(), []);
  return (
    <section className="card shown-once" aria-label={title} tabIndex={-1} ref={ref}>
      <h3>{title}</h3>
      <p className="hint">Shown this once: copy it now. Stepwise keeps only a fingerprint and cannot show it again.</p>
      {children}
      <div className="row">
        <button type="button" onClick={onDone}>
          Done, I have copied it
        </button>
      </div>
    </section>
  );
}

/** A modal dialog (the browser's own <dialog>): Escape and the close button close it. */
export function Dialog({ title, onClose, children }: { title: string; onClose: () => void; children: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  return (
    <dialog
      ref={ref}
      className="admin-dialog"
      aria-label={title}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <header className="dialog-head">
        <h2>{title}</h2>
        <button type="button" className="link" aria-label="Close" onClick={onClose}>
          ✕
        </button>
      </header>
      {children}
    </dialog>
  );
}

/** `2026-05-01T09:00` from a datetime-local input, as an ISO time with the browser's zone. */
export function localToIso(local: string): string {
  return new Date(local).toISOString();
}

/** An ISO time as the value of a datetime-local input, in the browser's zone. */
export function isoToLocal(iso: string | Date): string {
  const date = typeof iso === "string" ? new Date(iso) : iso;
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export function formatDate(iso: string): string {
  return new Date(iso).toLocaleDateString(undefined, { dateStyle: "medium" });
}

export function Section({ title, hint, actions, children }: { title: string; hint?: ReactNode; actions?: ReactNode; children: ReactNode }) {
  return (
    <section className="admin-section" aria-label={title}>
      <div className="section-head">
        <div>
          <h2>{title}</h2>
          {hint && <p className="hint">{hint}</p>}
        </div>
        {actions && <div className="row">{actions}</div>}
      </div>
      {children}
    </section>
  );
}
