// Placeholder until this page is built (issue 7).
import { Empty } from "../components/ui";

export default function MyRequests() {
  return <Empty title="MyRequests">This page is being built.</Empty>;
}
