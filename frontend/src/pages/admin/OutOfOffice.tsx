// Out of office: windows in which someone's tasks go to their delegate; a list and a month view.
import { useMemo, useState, type FormEvent } from "react";

import { api } from "../../api";
import { Empty, ErrorNote, formatTime, PageHeader, Spinner } from "../../components/ui";
import { useLoad } from "../../components/useLoad";
import { isoToLocal, localToIso, Section, useAction } from "./common";
import type { User } from "./Users";

export interface AwayWindow {
  id: string;
  user: string;
  delegate: string;
  starts_at: string;
  ends_at: string;
  return_tasks: boolean;
  note: string;
  active: boolean;
}

const DAY = 86_400_000;
const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

function startOfDay(date: Date): Date {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate());
}

/** The 6 × 7 days shown for a month, Monday first. */
export function monthDays(year: number, month: number): Date[] {
  const first = new Date(year, month, 1);
  const offset = (first.getDay() + 6) % 7;
  return Array.from({ length: 42 }, (_, i) => new Date(year, month, 1 - offset + i));
}

function MonthView({ windows, names }: { windows: AwayWindow[]; names: Map<string, string> }) {
  const today = startOfDay(new Date());
  const [shown, setShown] = useState({ year: today.getFullYear(), month: today.getMonth() });
  const days = monthDays(shown.year, shown.month);
  const title = new Date(shown.year, shown.month, 1).toLocaleDateString(undefined, { month: "long", year: "numeric" });
  const move = (by: number) => setShown(({ year, month }) => ({ year: year + Math.floor((month + by) / 12), month: (((month + by) % 12) + 12) % 12 }));

  return (
    <div>
      <div className="month-head">
        <button type="button" onClick={() => move(-1)} aria-label="Previous month">
          ‹
        </button>
        <h3 aria-live="polite">{title}</h3>
        <button type="button" onClick={() => move(1)} aria-label="Next month">
          ›
        </button>
        <button type="button" className="link" onClick={() => setShown({ year: today.getFullYear(), month: today.getMonth() })}>
          Today
        </button>
      </div>
      <div className="month" role="grid" aria-label={`Out of office in ${title}`}>
        {WEEKDAYS.map((d) => (
          <div key={d} className="dow" role="columnheader">
            {d}
          </div>
        ))}
        {days.map((day) => {
          const from = day.getTime();
          const to = from + DAY;
          const away = windows.filter((w) => new Date(w.starts_at).getTime() < to && new Date(w.ends_at).getTime() > from);
          const classes = ["day", day.getMonth() !== shown.month ? "other" : "", day.getTime() === today.getTime() ? "today" : ""].filter(Boolean).join(" ");
          return (
            <div key={from} className={classes} role="gridcell" aria-label={`${day.toDateString()}: ${away.length ? away.map((w) => `${w.user} away, ${w.delegate} covers`).join("; ") : "nobody away"}`}>
              <span className="date">{day.getDate()}</span>
              {away.map((w) => (
                <span key={w.id} className={w.active ? "away now" : "away"} title={`${names.get(w.user) ?? w.user} → ${w.delegate}${w.note ? `: ${w.note}` : ""}`}>
                  {w.user} → {w.delegate}
                </span>
              ))}
            </div>
          );
        })}
      </div>
    </div>
  );
}

export default function OutOfOffice() {
  const windows = useLoad(() => api.get<AwayWindow[]>("/api/out-of-office"), []);
  const users = useLoad(() => api.get<User[]>("/api/admin/users"), []);
  const active = (users.data ?? []).filter((u) => u.is_active);
  const names = useMemo(() => new Map((users.data ?? []).map((u) => [u.username, u.display_name])), [users.data]);
  const tomorrow = startOfDay(new Date(Date.now() + DAY));
  const [who, setWho] = useState("");
  const [delegate, setDelegate] = useState("");
  const [starts, setStarts] = useState(isoToLocal(new Date(tomorrow.getTime() + 9 * 3_600_000)));
  const [ends, setEnds] = useState(isoToLocal(new Date(tomorrow.getTime() + 4 * DAY + 17 * 3_600_000)));
  const [note, setNote] = useState("");
  const [giveBack, setGiveBack] = useState(true);
  const [view, setView] = useState<"list" | "month">("list");
  const create = useAction();
  const remove = useAction();

  async function submit(event: FormEvent) {
    event.preventDefault();
    const ok = await create.run(async () => {
      await api.post("/api/out-of-office", {
        user: who,
        delegate,
        starts_at: localToIso(starts),
        ends_at: localToIso(ends),
        note: note.trim(),
        return_tasks: giveBack,
      });
    });
    if (ok) {
      setNote("");
      windows.reload();
    }
  }

  const end = (w: AwayWindow) =>
    remove.run(async () => {
      const started = new Date(w.starts_at).getTime() <= Date.now();
      if (!window.confirm(started ? `End ${w.user}'s absence now?` : `Delete ${w.user}'s planned absence?`)) return;
      await api.delete(`/api/out-of-office/${encodeURIComponent(w.id)}`);
      windows.reload();
    });

  const list = windows.data ?? [];
  return (
    <div>
      <PageHeader title="Out of office" />
      <Section title="Plan an absence" hint="During the window the person's new tasks go to the delegate, and their open tasks move there when it starts. Times are in your browser's time zone.">
        <form className="card admin-form" aria-label="Set out of office" onSubmit={submit} onChange={() => create.error && create.setError(null)}>
          <label>
            Who is away
            <select required value={who} onChange={(e) => setWho(e.target.value)}>
              <option value="">Choose a person…</option>
              {active.map((u) => (
                <option key={u.username} value={u.username}>
                  {u.display_name} ({u.username})
                </option>
              ))}
            </select>
          </label>
          <label>
            Delegate
            <select required value={delegate} onChange={(e) => setDelegate(e.target.value)}>
              <option value="">Choose a delegate…</option>
              {active
                .filter((u) => u.username !== who)
                .map((u) => (
                  <option key={u.username} value={u.username}>
                    {u.display_name} ({u.username})
                  </option>
                ))}
            </select>
          </label>
          <label>
            From
            <input type="datetime-local" required value={starts} onChange={(e) => setStarts(e.target.value)} />
          </label>
          <label>
            Until
            <input type="datetime-local" required value={ends} min={starts} onChange={(e) => setEnds(e.target.value)} />
          </label>
          <label className="wide">
            Note
            <input value={note} onChange={(e) => setNote(e.target.value)} maxLength={500} placeholder="e.g. Summer holiday" />
          </label>
          <label className="check wide">
            <input type="checkbox" checked={giveBack} onChange={(e) => setGiveBack(e.target.checked)} />
            Give untouched tasks back when the window ends
          </label>
          <div className="form-actions">
            <button type="submit" className="primary" disabled={create.busy || !who || !delegate}>
              Save absence
            </button>
          </div>
          <div className="wide">
            <ErrorNote error={create.error} />
          </div>
        </form>
      </Section>
      <ErrorNote error={remove.error ?? windows.error ?? users.error} />
      <Section
        title="Absences"
        actions={
          <div className="row" role="group" aria-label="View">
            <button type="button" aria-pressed={view === "list"} className={view === "list" ? "primary" : undefined} onClick={() => setView("list")}>
              List
            </button>
            <button type="button" aria-pressed={view === "month"} className={view === "month" ? "primary" : undefined} onClick={() => setView("month")}>
              Month
            </button>
          </div>
        }
      >
        {windows.loading && !windows.data ? (
          <Spinner />
        ) : view === "month" ? (
          <MonthView windows={list} names={names} />
        ) : list.length === 0 ? (
          <Empty title="Nobody is away">No absences are planned. Plan one above; people can also set their own.</Empty>
        ) : (
          <div className="table-wrap">
            <table aria-label="Absences">
              <thead>
                <tr>
                  <th>Who</th>
                  <th>Delegate</th>
                  <th>From</th>
                  <th>Until</th>
                  <th>Note</th>
                  <th>Status</th>
                  <th>
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.map((w) => {
                  const over = new Date(w.ends_at).getTime() <= Date.now() && !w.active;
                  return (
                    <tr key={w.id} data-user={w.user}>
                      <td>
                        <strong>{names.get(w.user) ?? w.user}</strong>
                        <div className="hint mono">{w.user}</div>
                      </td>
                      <td>{names.get(w.delegate) ?? w.delegate}</td>
                      <td>{formatTime(w.starts_at)}</td>
                      <td>{formatTime(w.ends_at)}</td>
                      <td className="wrap-anywhere">{w.note || <span className="hint">—</span>}</td>
                      <td>{w.active ? <span className="badge warn">Away now</span> : over ? <span className="badge">Over</span> : <span className="badge brand">Planned</span>}</td>
                      <td className="actions">
                        {!over && (
                          <button type="button" className="danger" disabled={remove.busy} onClick={() => end(w)} aria-label={`${w.active ? "End" : "Delete"} absence of ${w.user}`}>
                            {w.active ? "End now" : "Delete"}
                          </button>
                        )}
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
