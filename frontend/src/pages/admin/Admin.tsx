// Placeholder until this page is built (issue 8).
import { Empty } from "../../components/ui";

export default function Admin() {
  return <Empty title="Admin">This page is being built.</Empty>;
}
