import { lazy, Suspense, useEffect, useRef, type ReactNode } from "react";
import { BrowserRouter, Navigate, NavLink, Route, Routes, useLocation, useNavigate } from "react-router-dom";

import { AuthProvider, useAuth } from "./auth";
import { Spinner } from "./components/ui";
import Login from "./pages/Login";

// Each area is its own chunk: the inbox does not wait for the designer's canvas code.
const Workflows = lazy(() => import("./pages/Workflows"));
const Designer = lazy(() => import("./designer/Designer"));
const Inbox = lazy(() => import("./pages/Inbox"));
const TaskPage = lazy(() => import("./pages/TaskPage"));
const NewRequest = lazy(() => import("./pages/NewRequest"));
const MyRequests = lazy(() => import("./pages/MyRequests"));
const Instances = lazy(() => import("./pages/Instances"));
const InstancePage = lazy(() => import("./pages/InstancePage"));
const Admin = lazy(() => import("./pages/admin/Admin"));
const Reports = lazy(() => import("./pages/reports/Reports"));

interface NavItem {
  to: string;
  label: string;
  roles?: string[];
}

const NAV: NavItem[] = [
  { to: "/inbox", label: "Inbox" },
  { to: "/new", label: "New request" },
  { to: "/requests", label: "My requests" },
  { to: "/instances", label: "Instances" },
  { to: "/workflows", label: "Designer", roles: ["admin", "designer"] },
  { to: "/reports", label: "Reports", roles: ["admin", "manager"] },
  { to: "/admin", label: "Admin", roles: ["admin"] },
];

function Shell({ children }: { children: ReactNode }) {
  const { me, logout, hasRole } = useAuth();
  const navigate = useNavigate();
  // pages laid out below the bar (the designer) read its height: it wraps on a phone
  const bar = useRef<HTMLElement>(null);
  useEffect(() => {
    const element = bar.current;
    if (!element || typeof ResizeObserver === "undefined") return;
    const note = () => document.documentElement.style.setProperty("--topbar-height", `${element.offsetHeight}px`);
    note();
    const watcher = new ResizeObserver(note);
    watcher.observe(element);
    return () => watcher.disconnect();
  }, []);
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar" ref={bar}>
        <span className="brand">
          <span className="brand-mark" aria-hidden="true">
            ◆
          </span>{" "}
          Stepwise
        </span>
        <nav aria-label="Main">
          {NAV.filter((item) => !item.roles || hasRole(...item.roles)).map((item) => (
            <NavLink key={item.to} to={item.to} className={({ isActive }) => (isActive ? "active" : undefined)}>
              {item.label}
            </NavLink>
          ))}
        </nav>
        <span className="who">
          <span title={`${me?.display_name ?? ""} · ${me?.roles.join(", ") ?? ""}`}>{me?.display_name}</span>
          <button
            type="button"
            className="link"
            onClick={async () => {
              await logout();
              navigate("/login");
            }}
          >
            Sign out
          </button>
        </span>
      </header>
      <main id="main" className="content">
        <Suspense fallback={<Spinner />}>{children}</Suspense>
      </main>
    </div>
  );
}

function RequireLogin({ children }: { children: ReactNode }) {
  const { me, loading } = useAuth();
  const location = useLocation();
  if (loading) return <Spinner />;
  if (!me) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  return <Shell>{children}</Shell>;
}

function Title() {
  const location = useLocation();
  useEffect(() => {
    const area = NAV.find((item) => location.pathname.startsWith(item.to));
    document.title = area ? `${area.label} · Stepwise` : "Stepwise";
  }, [location.pathname]);
  return null;
}

export default function App() {
  return (
    <AuthProvider>
      <BrowserRouter>
        <Title />
        <Routes>
          <Route path="/login" element={<Login />} />
          <Route path="/" element={<Navigate to="/inbox" replace />} />
          <Route path="/inbox" element={<RequireLogin><Inbox /></RequireLogin>} />
          <Route path="/tasks/:id" element={<RequireLogin><TaskPage /></RequireLogin>} />
          <Route path="/new" element={<RequireLogin><NewRequest /></RequireLogin>} />
          <Route path="/requests" element={<RequireLogin><MyRequests /></RequireLogin>} />
          <Route path="/instances" element={<RequireLogin><Instances /></RequireLogin>} />
          <Route path="/instances/:id" element={<RequireLogin><InstancePage /></RequireLogin>} />
          <Route path="/workflows" element={<RequireLogin><Workflows /></RequireLogin>} />
          <Route path="/designer/:key" element={<RequireLogin><Designer /></RequireLogin>} />
          <Route path="/admin/*" element={<RequireLogin><Admin /></RequireLogin>} />
          <Route path="/reports/*" element={<RequireLogin><Reports /></RequireLogin>} />
          <Route path="*" element={<RequireLogin><NotFound /></RequireLogin>} />
        </Routes>
      </BrowserRouter>
    </AuthProvider>
  );
}

function NotFound() {
  return (
    <div className="empty">
      <h3>There is no page here</h3>
      <p>
        Check the address, or go to your <a href="/inbox">inbox</a>.
      </p>
    </div>
  );
}
