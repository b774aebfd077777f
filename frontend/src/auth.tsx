import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";

import { api, ApiError, setCsrfToken, type Me } from "./api";

interface Auth {
  me: Me | null;
  loading: boolean;
  login: (username: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
  hasRole: (...roles: string[]) => boolean;
}

const AuthContext = createContext<Auth | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [me, setMe] = useState<Me | null>(null);
  const [loading, setLoading] = useState(true);
  // Bumped by every login and logout: the first "who am I?" answer, if it arrives after the
  // person has already signed in (a fast typist, a test), must not sign them out again.
  const generation = useRef(0);

  const adopt = useCallback((who: Me | null) => {
    generation.current += 1;
    setCsrfToken(who?.csrf_token ?? null);
    setMe(who);
    setLoading(false);
  }, []);

  useEffect(() => {
    const asked = generation.current;
    const settle = (who: Me | null) => {
      if (generation.current === asked) adopt(who);
    };
    api
      .get<Me>("/api/me")
      .then(settle)
      .catch((error: unknown) => {
        if (!(error instanceof ApiError && error.status === 401)) console.error(error);
        settle(null);
      });
  }, [adopt]);

  const value = useMemo<Auth>(
    () => ({
      me,
      loading,
      login: async (username, password) => adopt(await api.post<Me>("/api/auth/login", { username, password })),
      logout: async () => {
        await api.post("/api/auth/logout").catch(() => undefined);
        adopt(null);
      },
      hasRole: (...roles) => !!me && roles.some((r) => me.roles.includes(r)),
    }),
    [me, loading, adopt],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error("useAuth outside AuthProvider");
  return auth;
}
