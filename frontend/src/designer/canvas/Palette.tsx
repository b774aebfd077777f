// The palette: every node type as a button. Drag one onto the canvas, or press Enter (or click)
// to add it at the centre of the view. Dragging uses pointer events, so mouse, pen and touch all work.
import { memo, useRef, useState, type PointerEvent as ReactPointerEvent } from "react";

import { GROUPS, KIND, KINDS } from "../catalog";
import type { NodeType } from "../types";
import { NodeIcon } from "./icons";

interface Props {
  disabled: boolean;
  onAdd: (type: NodeType, client?: { x: number; y: number }) => void;
  /** Whether a drop at this screen point lands on the canvas. */
  accepts: (client: { x: number; y: number }) => boolean;
}

interface Drag {
  type: NodeType;
  x: number;
  y: number;
  startX: number;
  startY: number;
  moved: boolean;
  over: boolean;
}

function PaletteComponent({ disabled, onAdd, accepts }: Props) {
  const [drag, setDrag] = useState<Drag | null>(null);
  const dragRef = useRef<Drag | null>(null);
  // The click a browser sends after a drag that ends on the palette button itself; a drag
  // ending on the canvas sends none, so this only holds for a moment (else it would swallow
  // the next, real click or Enter).
  const suppressClickUntil = useRef(0);

  function begin(event: ReactPointerEvent<HTMLButtonElement>, type: NodeType) {
    if (disabled || event.button !== 0) return;
    const d = { type, x: event.clientX, y: event.clientY, startX: event.clientX, startY: event.clientY, moved: false, over: false };
    dragRef.current = d;
    const move = (e: PointerEvent) => {
      const cur = dragRef.current;
      if (!cur) return;
      const moved = cur.moved || Math.hypot(e.clientX - cur.startX, e.clientY - cur.startY) > 4;
      const next = { ...cur, x: e.clientX, y: e.clientY, moved, over: accepts({ x: e.clientX, y: e.clientY }) };
      dragRef.current = next;
      if (moved) setDrag(next);
    };
    const up = (e: PointerEvent) => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
      window.removeEventListener("pointercancel", cancel);
      const cur = dragRef.current;
      dragRef.current = null;
      setDrag(null);
      if (cur?.moved) {
        suppressClickUntil.current = performance.now() + 400;
        const point = { x: e.clientX, y: e.clientY };
        if (accepts(point)) onAdd(cur.type, point);
      }
    };
    const cancel = () => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
      window.removeEventListener("pointercancel", cancel);
      dragRef.current = null;
      setDrag(null);
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
    window.addEventListener("pointercancel", cancel);
  }

  return (
    <nav className="wf-palette" aria-label="Palette: steps to add">
      <p className="wf-palette-hint">Drag a step onto the canvas, or press Enter on one.</p>
      {GROUPS.map((group) => (
        <section key={group} aria-label={group}>
          <h3>{group}</h3>
          <ul>
            {KINDS.filter((k) => k.group === group).map((k) => (
              <li key={k.type}>
                <button
                  type="button"
                  className="wf-palette-item"
                  data-type={k.type}
                  disabled={disabled}
                  title={k.help}
                  aria-label={`${k.label}: ${k.help}`}
                  style={{ "--kind": k.color } as React.CSSProperties}
                  onPointerDown={(e) => begin(e, k.type)}
                  onClick={(e) => {
                    // e.detail is 0 for a click from the keyboard (Enter, Space): never a drag's
                    if (e.detail > 0 && performance.now() < suppressClickUntil.current) return;
                    suppressClickUntil.current = 0;
                    onAdd(k.type);
                  }}
                >
                  <span className={`wf-palette-icon shape-${k.shape}`}>
                    <NodeIcon type={k.type} />
                  </span>
                  <span className="wf-palette-text">
                    <span className="wf-palette-name">{k.label}</span>
                    <span className="wf-palette-help">{k.help}</span>
                  </span>
                </button>
              </li>
            ))}
          </ul>
        </section>
      ))}
      {drag?.moved && (
        <div className={`wf-drag-ghost${drag.over ? " over" : ""}`} style={{ left: drag.x, top: drag.y, "--kind": KIND[drag.type].color } as React.CSSProperties} aria-hidden="true">
          <NodeIcon type={drag.type} /> {KIND[drag.type].label}
        </div>
      )}
    </nav>
  );
}

export const Palette = memo(PaletteComponent);
