// The keyboard shortcuts ("?"), as a dialog that Escape closes.
import { useEffect, useRef } from "react";

export const SHORTCUTS: [string, string][] = [
  ["Tab / Shift+Tab", "Move between the palette, the canvas and the panel"],
  ["Enter (on a palette item)", "Add that step at the centre of the view"],
  ["Connect to (in a step's panel)", "Connect the selected step to another, without dragging"],
  ["Delete / Backspace", "Delete the selected steps and connections"],
  ["Escape", "Clear the selection (or close this help)"],
  ["Shift+click, Shift+drag", "Add to the selection, select with a box"],
  ["Ctrl+A", "Select everything"],
  ["Ctrl+C / Ctrl+V", "Copy and paste the selected steps"],
  ["Ctrl+Z", "Undo"],
  ["Ctrl+Shift+Z / Ctrl+Y", "Redo"],
  ["Ctrl+S", "Save the draft now"],
  ["F", "Fit the whole workflow in view"],
  ["L", "Lay the workflow out automatically (left to right)"],
  ["?", "Show these shortcuts"],
];

export function ShortcutsHelp({ onClose }: { onClose: () => void }) {
  const ref = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    ref.current?.focus();
    const key = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.stopPropagation();
        onClose();
      }
    };
    window.addEventListener("keydown", key, true);
    return () => window.removeEventListener("keydown", key, true);
  }, [onClose]);
  return (
    <div className="wf-modal-backdrop" onClick={onClose}>
      <div className="wf-modal card" role="dialog" aria-modal="true" aria-labelledby="wf-shortcuts-title" onClick={(e) => e.stopPropagation()}>
        <header className="row">
          <h2 id="wf-shortcuts-title">Keyboard shortcuts</h2>
          <button type="button" ref={ref} onClick={onClose} style={{ marginLeft: "auto" }}>
            Close
          </button>
        </header>
        <table>
          <tbody>
            {SHORTCUTS.map(([keys, what]) => (
              <tr key={keys}>
                <th scope="row">
                  <kbd>{keys}</kbd>
                </th>
                <td>{what}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
