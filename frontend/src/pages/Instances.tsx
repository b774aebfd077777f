// Placeholder until this page is built (issue 7).
import { Empty } from "../components/ui";

export default function Instances() {
  return <Empty title="Instances">This page is being built.</Empty>;
}
