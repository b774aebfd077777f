// Reports: the dashboard and the report builder, for admins and managers.
import { lazy, Suspense } from "react";
import { NavLink, Route, Routes } from "react-router-dom";

import { useAuth } from "../../auth";
import { Empty, Spinner } from "../../components/ui";
import "./reports.css";

const Dashboard = lazy(() => import("./Dashboard"));
const Builder = lazy(() => import("./Builder"));

export default function Reports() {
  const { hasRole } = useAuth();
  if (!hasRole("admin", "manager")) {
    return <Empty title="Reports are for managers and admins">Ask an admin for the manager role if you need them.</Empty>;
  }
  return (
    <div className="reports">
      <nav className="report-tabs" aria-label="Reports">
        <NavLink end to="/reports" className={({ isActive }) => (isActive ? "active" : undefined)}>
          Dashboard
        </NavLink>
        <NavLink to="/reports/builder" className={({ isActive }) => (isActive ? "active" : undefined)}>
          Report builder
        </NavLink>
      </nav>
      <Suspense fallback={<Spinner />}>
        <Routes>
          <Route index element={<Dashboard />} />
          <Route path="builder/:id?" element={<Builder />} />
          <Route path="*" element={<Empty title="There is no report here">Go back to the dashboard.</Empty>} />
        </Routes>
      </Suspense>
    </div>
  );
}
