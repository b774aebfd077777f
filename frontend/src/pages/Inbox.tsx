// Placeholder until this page is built (issue 7).
import { Empty } from "../components/ui";

export default function Inbox() {
  return <Empty title="Inbox">This page is being built.</Empty>;
}
