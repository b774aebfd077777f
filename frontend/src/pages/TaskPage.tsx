// Placeholder until this page is built (issue 7).
import { Empty } from "../components/ui";

export default function TaskPage() {
  return <Empty title="TaskPage">This page is being built.</Empty>;
}
