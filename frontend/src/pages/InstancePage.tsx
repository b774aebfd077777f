// Placeholder until this page is built (issue 7).
import { Empty } from "../components/ui";

export default function InstancePage() {
  return <Empty title="InstancePage">This page is being built.</Empty>;
}
