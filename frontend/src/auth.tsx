import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";

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

  const adopt = useCallback((who: Me | null) => {
    setCsrfToken(who?.csrf_token ?? null);
    setMe(who);
  }, []);

  useEffect(() => {
    api
      .get<Me>("/api/me")
      .then(adopt)
      .catch((error: unknown) => {
        if (!(error instanceof ApiError && error.status === 401)) console.error(error);
        adopt(null);
      })
      .finally(() => setLoading(false));
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
