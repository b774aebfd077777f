// The admin area: its own navigation, one page per concern under /admin/*.
import { lazy, Suspense } from "react";
import { Navigate, NavLink, Route, Routes } from "react-router-dom";

import { useAuth } from "../../auth";
import { Empty, Spinner } from "../../components/ui";
import "./admin.css";

const Users = lazy(() => import("./Users"));
const Roles = lazy(() => import("./Roles"));
const OutOfOffice = lazy(() => import("./OutOfOffice"));
const Tokens = lazy(() => import("./Tokens"));
const Webhooks = lazy(() => import("./Webhooks"));
const OutboundSecrets = lazy(() => import("./OutboundSecrets"));
const DeadLetters = lazy(() => import("./DeadLetters"));
const Incidents = lazy(() => import("./Incidents"));
const Tables = lazy(() => import("./Tables"));
const Calendars = lazy(() => import("./Calendars"));
const Templates = lazy(() => import("./Templates"));
const Branding = lazy(() => import("./Branding"));
const Retention = lazy(() => import("./Retention"));
const Audit = lazy(() => import("./Audit"));

const PAGES = [
  { path: "users", label: "Users", element: <Users /> },
  { path: "roles", label: "Roles", element: <Roles /> },
  { path: "out-of-office", label: "Out of office", element: <OutOfOffice /> },
  { path: "tokens", label: "API tokens", element: <Tokens /> },
  { path: "webhooks", label: "Webhooks & events", element: <Webhooks /> },
  { path: "secrets", label: "Outbound secrets", element: <OutboundSecrets /> },
  { path: "incidents", label: "Incidents", element: <Incidents /> },
  { path: "dead-letters", label: "Dead letters", element: <DeadLetters /> },
  { path: "tables", label: "Data tables", element: <Tables /> },
  { path: "calendars", label: "Business calendars", element: <Calendars /> },
  { path: "templates", label: "Templates", element: <Templates /> },
  { path: "branding", label: "Branding", element: <Branding /> },
  { path: "retention", label: "Data retention", element: <Retention /> },
  { path: "audit", label: "Audit log", element: <Audit /> },
];

export default function Admin() {
  const { hasRole } = useAuth();
  if (!hasRole("admin")) {
    return <Empty title="Admins only">The admin pages are for people with the admin role.</Empty>;
  }
  return (
    <div className="admin">
      <nav className="admin-nav" aria-label="Admin">
        <div className="admin-title">Admin</div>
        {PAGES.map((page) => (
          <NavLink key={page.path} to={`/admin/${page.path}`} className={({ isActive }) => (isActive ? "active" : undefined)}>
            {page.label}
          </NavLink>
        ))}
      </nav>
      <div className="admin-page">
        <Suspense fallback={<Spinner />}>
          <Routes>
            <Route index element={<Navigate to="users" replace />} />
            {PAGES.map((page) => (
              <Route key={page.path} path={`${page.path}/*`} element={page.element} />
            ))}
            <Route path="*" element={<Empty title="There is no admin page here">Pick one on the left.</Empty>} />
          </Routes>
        </Suspense>
      </div>
    </div>
  );
}
