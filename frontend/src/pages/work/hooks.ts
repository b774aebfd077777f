import { useEffect, useRef, useState } from "react";

/** True while the media query matches (e.g. a phone-sized screen). */
export function useMediaQuery(query: string): boolean {
  const [matches, setMatches] = useState(() => window.matchMedia(query).matches);
  useEffect(() => {
    const list = window.matchMedia(query);
    const update = () => setMatches(list.matches);
    update();
    list.addEventListener("change", update);
    return () => list.removeEventListener("change", update);
  }, [query]);
  return matches;
}

/** The service's "now" in milliseconds, ticking every `everyMs`. The service may run on a clock
 * of its own (tests and demos move it forward), so countdowns use the offset it last reported. */
export function useServiceNow(serviceNow: string | undefined, everyMs = 30_000): number {
  const offset = useRef(0);
  const [tick, setTick] = useState(() => Date.now());
  useEffect(() => {
    if (serviceNow) offset.current = new Date(serviceNow).getTime() - Date.now();
    setTick(Date.now());
  }, [serviceNow]);
  useEffect(() => {
    const timer = window.setInterval(() => setTick(Date.now()), everyMs);
    return () => window.clearInterval(timer);
  }, [everyMs]);
  return tick + offset.current;
}

export type FeedMode = "connecting" | "live" | "polling";

/** Calls `onChange` when a task enters, changes in or leaves my inbox: through the server-sent
 * events of `GET /api/inbox/events`, or, when the service has none, by polling every 10 s. */
export function useInboxFeed(onChange: () => void, pollMs = 10_000): FeedMode {
  const [mode, setMode] = useState<FeedMode>("connecting");
  const latest = useRef(onChange);
  latest.current = onChange;

  useEffect(() => {
    let source: EventSource | null = null;
    let poll: number | undefined;
    let stopped = false;
    const fire = () => latest.current();
    const startPolling = () => {
      if (stopped || poll !== undefined) return;
      source?.close();
      setMode("polling");
      poll = window.setInterval(fire, pollMs);
    };
    if (typeof EventSource === "undefined") {
      startPolling();
    } else {
      source = new EventSource("/api/inbox/events");
      let opened = false;
      source.addEventListener("ready", () => {
        if (opened) fire(); // a reconnect: catch up on what happened while away
        opened = true;
        setMode("live");
      });
      for (const kind of ["added", "changed", "removed"]) source.addEventListener(kind, fire);
      source.onerror = () => {
        // CLOSED: the endpoint refused (404, 401) and the browser will not retry on its own
        if (source?.readyState === EventSource.CLOSED) startPolling();
        else setMode("connecting");
      };
    }
    return () => {
      stopped = true;
      source?.close();
      if (poll !== undefined) window.clearInterval(poll);
    };
  }, [pollMs]);
  return mode;
}
