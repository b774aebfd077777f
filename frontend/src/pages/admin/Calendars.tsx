// Business calendars: working days and hours, time zone, public holidays by country, closed days.
import { useState, type FormEvent } from "react";

import { api } from "../../api";
import { Empty, ErrorNote, formatTime, PageHeader, Spinner } from "../../components/ui";
import { useLoad } from "../../components/useLoad";
import { Dialog, Section, useAction } from "./common";

interface CalendarSettings {
  timezone: string;
  work_days: (number | string)[];
  start: string;
  end: string;
  country: string | null;
  subdivision: string | null;
  closures: string[];
}

interface CalendarOut extends CalendarSettings {
  name: string;
  built_in: boolean;
  updated_at: string | null;
  updated_by: string | null;
}

const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const DAY_NAMES = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
const DEFAULTS: CalendarSettings = { timezone: "UTC", work_days: [0, 1, 2, 3, 4], start: "09:00", end: "17:00", country: null, subdivision: null, closures: [] };

function dayIndex(day: number | string): number {
  if (typeof day === "number") return day;
  const i = DAY_NAMES.findIndex((d) => d.startsWith(day.toLowerCase().slice(0, 3)));
  return i >= 0 ? i : Number(day);
}

function zones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (key: string) => string[] };
  return intl.supportedValuesOf ? ["UTC", ...intl.supportedValuesOf("timeZone")] : ["UTC", "Europe/Berlin", "Europe/London", "America/New_York"];
}

function Editor({ calendar, taken, onClose, onSaved }: { calendar: CalendarOut | null; taken: string[]; onClose: () => void; onSaved: () => void }) {
  const initial = calendar ?? { ...DEFAULTS, name: "" };
  const [name, setName] = useState(initial.name);
  const [timezone, setTimezone] = useState(initial.timezone);
  const [days, setDays] = useState<number[]>(initial.work_days.map(dayIndex));
  const [start, setStart] = useState(initial.start);
  const [end, setEnd] = useState(initial.end);
  const [country, setCountry] = useState(initial.country ?? "");
  const [subdivision, setSubdivision] = useState(initial.subdivision ?? "");
  const [closures, setClosures] = useState<string[]>(initial.closures);
  const [closure, setClosure] = useState("");
  const action = useAction();
  const isNew = calendar === null;

  async function submit(event: FormEvent) {
    event.preventDefault();
    const ok = await action.run(async () => {
      if (isNew && taken.includes(name.trim())) throw new Error(`A calendar ${name.trim()} exists already`);
      await api.put(`/api/calendars/${encodeURIComponent(name.trim())}`, {
        timezone,
        work_days: [...days].sort(),
        start,
        end,
        country: country.trim().toUpperCase() || null,
        subdivision: subdivision.trim().toUpperCase() || null,
        closures: [...closures].sort(),
      });
    });
    if (ok) onSaved();
  }

  return (
    <Dialog title={isNew ? "New calendar" : `Calendar ${initial.name}`} onClose={onClose}>
      <form onSubmit={submit}>
        {isNew && (
          <label>
            Name
            <input required value={name} onChange={(e) => setName(e.target.value)} pattern="[A-Za-z0-9_\-]{1,100}" placeholder="e.g. warehouse-de" />
          </label>
        )}
        <label>
          Time zone
          <select value={timezone} onChange={(e) => setTimezone(e.target.value)}>
            {zones().map((z) => (
              <option key={z} value={z}>
                {z}
              </option>
            ))}
          </select>
        </label>
        <fieldset>
          <legend>Working days</legend>
          <div className="checks">
            {DAYS.map((d, i) => (
              <label key={d} className="check">
                <input type="checkbox" checked={days.includes(i)} onChange={(e) => setDays(e.target.checked ? [...days, i] : days.filter((x) => x !== i))} />
                {d}
              </label>
            ))}
          </div>
        </fieldset>
        <div className="row">
          <label>
            Opens
            <input type="time" required value={start} onChange={(e) => setStart(e.target.value)} />
          </label>
          <label>
            Closes
            <input type="time" required value={end} onChange={(e) => setEnd(e.target.value)} />
          </label>
        </div>
        <div className="row">
          <label>
            Public holidays of (country code)
            <input value={country} onChange={(e) => setCountry(e.target.value)} maxLength={64} placeholder="e.g. DE" />
          </label>
          <label>
            Region
            <input value={subdivision} onChange={(e) => setSubdivision(e.target.value)} maxLength={64} placeholder="e.g. BE" />
          </label>
        </div>
        <fieldset>
          <legend>Closed days</legend>
          <div className="closures">
            {closures.length === 0 && <span className="hint">none</span>}
            {[...closures].sort().map((c) => (
              <span key={c} className="badge">
                {c}
                <button type="button" aria-label={`Remove closed day ${c}`} onClick={() => setClosures(closures.filter((x) => x !== c))}>
                  ✕
                </button>
              </span>
            ))}
          </div>
          <div className="row" style={{ marginTop: "0.4rem" }}>
            <input type="date" aria-label="Closed day to add" value={closure} onChange={(e) => setClosure(e.target.value)} />
            <button
              type="button"
              disabled={!closure || closures.includes(closure)}
              onClick={() => {
                setClosures([...closures, closure]);
                setClosure("");
              }}
            >
              Add closed day
            </button>
          </div>
        </fieldset>
        <ErrorNote error={action.error} />
        <div className="row">
          <button type="submit" className="primary" disabled={action.busy || !name.trim() || days.length === 0}>
            Save calendar
          </button>
          <button type="button" onClick={onClose}>
            Cancel
          </button>
        </div>
      </form>
    </Dialog>
  );
}

export default function Calendars() {
  const calendars = useLoad(() => api.get<CalendarOut[]>("/api/calendars"), []);
  const [editing, setEditing] = useState<CalendarOut | null | "new">(null);
  const action = useAction();

  const remove = (c: CalendarOut) =>
    action.run(async () => {
      if (!window.confirm(`Delete the calendar ${c.name}? Workflows that name it fail at their next SLA or timer.`)) return;
      await api.delete(`/api/calendars/${encodeURIComponent(c.name)}`);
      calendars.reload();
    });

  const list = calendars.data ?? [];
  return (
    <div>
      <PageHeader title="Business calendars">
        <button type="button" className="primary" onClick={() => setEditing("new")}>
          New calendar
        </button>
      </PageHeader>
      <ErrorNote error={action.error ?? calendars.error} />
      <Section title="Calendars" hint="SLAs and timers that name a calendar count working time only: its working days and hours, without public holidays and closed days. 24x7 is always there and counts every hour.">
        {calendars.loading && !calendars.data ? (
          <Spinner />
        ) : list.length === 0 ? (
          <Empty title="No calendars">Make one for your working hours and holidays.</Empty>
        ) : (
          <div className="grid">
            {list.map((c) => (
              <article key={c.name} className="card calendar-card" aria-label={`Calendar ${c.name}`}>
                <div className="row" style={{ justifyContent: "space-between" }}>
                  <h3 className="mono">{c.name}</h3>
                  {c.built_in && <span className="badge brand">built in</span>}
                </div>
                <dl className="facts">
                  <dt>Days</dt>
                  <dd>{c.work_days.map((d) => DAYS[dayIndex(d)] ?? d).join(", ")}</dd>
                  <dt>Hours</dt>
                  <dd>
                    {c.start}–{c.end}
                  </dd>
                  <dt>Time zone</dt>
                  <dd>{c.timezone}</dd>
                  <dt>Holidays</dt>
                  <dd>{c.country ? `${c.country}${c.subdivision ? `-${c.subdivision}` : ""} public holidays` : "none"}</dd>
                  <dt>Closed</dt>
                  <dd>{c.closures.length ? c.closures.join(", ") : "no extra days"}</dd>
                </dl>
                <p className="hint">{c.updated_at ? `Changed ${formatTime(c.updated_at)}${c.updated_by ? ` by ${c.updated_by}` : ""}` : "As shipped"}</p>
                <div className="row">
                  <button type="button" onClick={() => setEditing(c)} aria-label={`Edit calendar ${c.name}`}>
                    Edit
                  </button>
                  {!c.built_in && (
                    <button type="button" className="danger" disabled={action.busy} onClick={() => remove(c)} aria-label={`Delete calendar ${c.name}`}>
                      Delete
                    </button>
                  )}
                </div>
              </article>
            ))}
          </div>
        )}
      </Section>
      {editing && (
        <Editor
          calendar={editing === "new" ? null : editing}
          taken={list.map((c) => c.name)}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            calendars.reload();
          }}
        />
      )}
    </div>
  );
}
