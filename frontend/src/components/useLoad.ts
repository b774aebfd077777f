import { useCallback, useEffect, useRef, useState } from "react";

import { errorText } from "../api";

export interface Loaded<T> {
  data: T | undefined;
  error: string | null;
  loading: boolean;
  reload: () => void;
}

/** Load something when `deps` change; `reload` loads it again. A newer load wins over an older one. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [nonce, setNonce] = useState(0);
  const latest = useRef(0);
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const run = useCallback(load, deps);

  useEffect(() => {
    const ticket = ++latest.current;
    setLoading(true);
    run()
      .then((value) => {
        if (ticket === latest.current) {
          setData(value);
          setError(null);
        }
      })
      .catch((e: unknown) => ticket === latest.current && setError(errorText(e)))
      .finally(() => ticket === latest.current && setLoading(false));
  }, [run, nonce]);

  return { data, error, loading, reload: () => setNonce((n) => n + 1) };
}
