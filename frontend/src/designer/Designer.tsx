// Placeholder until the designer is built (issue 6).
import { Empty } from "../components/ui";

export default function Designer() {
  return <Empty title="Designer">This page is being built.</Empty>;
}
